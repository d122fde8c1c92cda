"""Change notifications between replicas: PostgreSQL LISTEN on one dedicated connection.

Writers call `pg_notify(channel, payload)` in the transaction that makes the change; each replica
hears it on commit and drops what it cached. When the connection is lost every cache is dropped and
the listener reconnects; the caches' own time limits bound staleness meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
from aiohttp import web

from shared.app import SETTINGS
from shared.logging import get_logger
from shared.tasks import background

log = get_logger(__name__)

RECONNECT_SECONDS = 5.0

Callback = Callable[[str | None], None]  # payload, or None: "forget everything" (connection lost)


def setup_change_listener(app: web.Application, callbacks: dict[str, Callback]) -> None:
    async def listen(app: web.Application) -> AsyncIterator[None]:
        async with background(_listen_forever(app[SETTINGS].database_url, callbacks), "updates.change_listener"):
            yield

    app.cleanup_ctx.append(listen)


async def _listen_forever(database_url: str, callbacks: dict[str, Callback]) -> None:
    """Listen, and listen again after every loss; an outage is logged once (`updates.listen_failed`, then
    `updates.listening_again` with the failed attempts), not once per attempt."""
    failed_attempts = 0
    while True:
        lost = asyncio.Event()
        conn: Any = None
        try:
            conn = await asyncpg.connect(database_url)
            conn.add_termination_listener(_on_termination(lost))
            for channel, callback in callbacks.items():
                await conn.add_listener(channel, _deliver(callback))
            for callback in callbacks.values():
                callback(None)  # whatever changed while we were not listening
            if failed_attempts:
                log.info("updates.listening_again", failed_attempts=failed_attempts)
                failed_attempts = 0
            await lost.wait()
        except Exception as exc:  # any failure is retried: without the listener the caches only age out
            failed_attempts += 1
            if failed_attempts == 1:
                log.warning("updates.listen_failed", error=repr(exc))
        finally:
            if conn is not None and not conn.is_closed():
                await conn.close(timeout=2)
        for callback in callbacks.values():
            callback(None)
        await asyncio.sleep(RECONNECT_SECONDS)


def _on_termination(lost: asyncio.Event) -> Callable[[Any], None]:
    def on_termination(_conn: Any) -> None:
        lost.set()

    return on_termination


def _deliver(callback: Callback) -> Callable[[Any, int, str, str], None]:
    def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        callback(payload)

    return on_notify
