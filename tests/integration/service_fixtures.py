"""Fixtures the in-process service test modules share, made for one service: a publisher on the test stack's
broker (to send the events other services would) and a pool on the service's schema.

    publisher = publisher_fixture("contracts")
    pool = pool_fixture(SCHEMA)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.bus import Bus
from shared.db import Pool, close_pool, create_pool
from tests.infra import TestStack


def publisher_fixture(service: str) -> Any:
    """The module's `publisher`: a bus connection named after the service under test."""

    @pytest.fixture(scope="module", name="publisher")
    async def publisher(migrated: TestStack) -> AsyncIterator[Bus]:
        bus = Bus(migrated.amqp_url, name=f"{service}-test-publisher", prefetch=1, delivery_limit=20)
        await bus.connect()
        yield bus
        await bus.close()

    return publisher


def pool_fixture(schema: str) -> Any:
    """The module's `pool`: a small pool on the service's schema, for looking at (and arranging) its tables."""

    @pytest.fixture(scope="module", name="pool")
    async def pool(migrated: TestStack) -> AsyncIterator[Pool]:
        pool = await create_pool(migrated.database_url, schema, min_size=1, max_size=4)
        yield pool
        await close_pool(pool)

    return pool
