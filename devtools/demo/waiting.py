"""Waiting, bounded, until a service's read model has learnt what the demo needs from another's events (they come
through the broker, a moment after the call that caused them)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg

from shared.settings import BaseServiceSettings

WAIT_SECONDS = 60.0


class NotLearnt(Exception):
    """The read model did not learn it in time: the service or the broker is not working."""


async def wait_for_row(settings: BaseServiceSettings, sql: str, *args: Any, what: str) -> asyncpg.Record:
    """The first row `sql` (schema-qualified: a constant of the demo) answers, polled until there is one."""
    deadline = time.monotonic() + WAIT_SECONDS
    conn = await asyncpg.connect(settings.database_url)
    try:
        while True:
            row = await conn.fetchrow(sql, *args)
            if row is not None:
                return row
            if time.monotonic() > deadline:
                raise NotLearnt(f"{what}: not learnt within {WAIT_SECONDS:.0f} s")
            await asyncio.sleep(0.3)
    finally:
        await conn.close()
