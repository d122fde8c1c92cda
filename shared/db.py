"""PostgreSQL through asyncpg: one pool per service, its search_path set to the service's schema."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

from shared.logging import get_logger

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # What a handler gets: a pooled connection, or (rarely) a dedicated one.
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
else:  # asyncpg's classes are generic only in its type stubs
    Connection = asyncpg.Connection
    Pool = asyncpg.Pool

log = get_logger(__name__)

# Pool.close() waits for every connection to come back; a task that still holds one would keep the process
# from stopping for ever. After this long the pool is terminated (asyncpg does that when close() is cancelled).
POOL_CLOSE_TIMEOUT_SECONDS = 10.0


async def _init_connection(conn: Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _no_session_reset(conn: Connection) -> None:
    """Pool `reset`: asyncpg still rolls back an open transaction on release; we skip its
    `RESET ALL; UNLISTEN *; CLOSE ALL; pg_advisory_unlock_all()` (a round trip per release), because
    the kernel keeps no session state on pooled connections: `search_path` is a startup parameter,
    advisory locks are transaction-scoped and LISTEN runs on a dedicated connection.
    """


async def create_pool(database_url: str, schema: str, *, min_size: int = 2, max_size: int = 10) -> Pool:
    pool = await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings={"search_path": schema, "application_name": f"its-{schema}"},
        command_timeout=60,
        reset=_no_session_reset,
    )
    assert pool is not None
    return pool


async def pool_context(database_url: str, schema: str, **kwargs: Any) -> AsyncIterator[Pool]:
    pool = await create_pool(database_url, schema, **kwargs)
    try:
        yield pool
    finally:
        await close_pool(pool)


async def close_pool(pool: Pool) -> None:
    """Close gracefully, or terminate after POOL_CLOSE_TIMEOUT_SECONDS."""
    try:
        await asyncio.wait_for(pool.close(), POOL_CLOSE_TIMEOUT_SECONDS)
    except TimeoutError:
        log.warning("db.pool_close_timed_out", seconds=POOL_CLOSE_TIMEOUT_SECONDS, size=pool.get_size())
