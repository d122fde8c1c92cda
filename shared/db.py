"""PostgreSQL through asyncpg: one pool per service, its search_path set to the service's schema; and what a
database outage is (`unreachable`) and how a process lives through one (`Outage`)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

from shared.logging import get_logger
from shared.tasks import cancel_and_wait

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
# A server that accepts TCP but does not answer (frozen, overloaded) fails a new connection after this long,
# rather than asyncpg's 60 s, so requests meeting it are refused in a few seconds.
CONNECT_TIMEOUT_SECONDS = 5.0
# What a client refused during an outage is told to wait (the Retry-After of the 503).
RETRY_AFTER_SECONDS = 5
# How often, during an outage, a process checks whether the database is back.
RECOVERY_CHECK_SECONDS = 1.0

# SQLSTATE classes that say the server cannot serve this session now, not that the statement is wrong:
# 08 connection exception, 53 insufficient resources (too many connections, disk full), 57 operator intervention
# (shutting down, starting up, crash recovery, terminated by an administrator).
_SERVER_CANNOT_SERVE = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.OperatorInterventionError,
)


# The server ended the session unprompted (a shutdown's FATAL 57P01 reaches idle connections an instant before
# their socket closes): asyncpg's protocol is left consuming that error, and the next statement on the connection
# fails with this InternalClientError instead of a connection error.
_SESSION_ENDED = "cannot switch to state"


def unreachable(exc: BaseException) -> bool:
    """Is `exc` the database being unreachable, rather than a fault of the query or of the code?

    Yes for the SQLSTATE classes above; for an OSError or TimeoutError raised inside asyncpg (connection refused,
    reset, no route, a connection or pool acquisition timing out); for asyncpg's "connection is closed" (a
    connection lost earlier) and a session the server ended (`_SESSION_ENDED`); and for any exception caused by one
    of these (asyncpg reports a connection lost in a transaction as the failed rollback, its context the loss).
    A SQL error, a constraint violation or a bug is no: it stays a 500 with its traceback.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        error = pending.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, _SERVER_CANNOT_SERVE):
            return True
        if isinstance(error, OSError | TimeoutError) and _raised_in_asyncpg(error):
            return True
        if isinstance(error, asyncpg.InterfaceError) and str(error).endswith("connection is closed"):
            return True
        if isinstance(error, asyncpg.exceptions.InternalClientError) and str(error).startswith(_SESSION_ENDED):
            return True
        pending.extend((error.__cause__, error.__context__))
    return False


def _raised_in_asyncpg(error: BaseException) -> bool:
    """An OSError from a file or a timeout of our own is not the database's: only those asyncpg passed on count."""
    traceback = error.__traceback__
    while traceback is not None:
        if str(traceback.tb_frame.f_globals.get("__name__", "")).startswith("asyncpg."):
            return True
        traceback = traceback.tb_next
    return False


class Outage:
    """The database being unreachable, as one process sees it: one warning when it begins (`db.unavailable`) and
    one when it ends (`db.recovered`, how long it lasted and how many requests were refused), however many
    requests, polls and reconnections meet it meanwhile.

    The pool makes its connections through `connect`, so whoever needs a new connection (a request, a job
    worker, a consumer, the relay, asyncpg's own pool maintenance) reports a failure here; the HTTP middleware
    reports the requests it refuses with `refused`. While an outage lasts, a watcher opens a connection every
    RECOVERY_CHECK_SECONDS; the first that succeeds ends it. asyncpg replaces the pool's dead connections on
    their next acquisition, so nothing needs restarting.
    """

    def __init__(self) -> None:
        self.began_at: float | None = None
        self.refused_requests = 0
        self._connect_args: tuple[tuple[Any, ...], dict[str, Any]] | None = None
        self._watcher: asyncio.Task[None] | None = None
        logging.getLogger("asyncpg.pool").addFilter(_reported_by_outage)

    @property
    def active(self) -> bool:
        return self.began_at is not None

    async def connect(self, *args: Any, **kwargs: Any) -> asyncpg.Connection[asyncpg.Record]:
        """The pool's `connect`: asyncpg.connect, with its failures reported."""
        self._connect_args = (args, kwargs)
        try:
            connection: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(*args, **kwargs)
        except Exception as exc:
            if unreachable(exc):
                self.noticed(exc)
            raise
        return connection

    def refused(self, exc: BaseException) -> None:
        """A request could not be served for it (the middleware answers 503)."""
        self.noticed(exc)
        self.refused_requests += 1

    def noticed(self, exc: BaseException) -> None:
        if self.began_at is not None:
            return
        self.began_at, self.refused_requests = time.monotonic(), 0
        log.warning("db.unavailable", error=repr(exc))
        if self._connect_args is not None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch(), name="db.outage_watcher")

    async def _watch(self) -> None:
        assert self._connect_args is not None
        args, kwargs = self._connect_args
        while True:
            await asyncio.sleep(RECOVERY_CHECK_SECONDS)
            try:
                connection = await asyncpg.connect(*args, **kwargs)
                try:
                    await connection.fetchval("SELECT 1", timeout=CONNECT_TIMEOUT_SECONDS)
                finally:
                    await connection.close(timeout=CONNECT_TIMEOUT_SECONDS)
            except Exception as exc:
                if not unreachable(exc):
                    log.warning("db.check_failed", error=repr(exc))
                continue
            self._recovered()
            return

    def _recovered(self) -> None:
        assert self.began_at is not None
        seconds = round(time.monotonic() - self.began_at, 3)
        log.warning("db.recovered", seconds=seconds, refused=self.refused_requests)
        self.began_at, self._watcher = None, None

    async def close(self) -> None:
        if self._watcher is not None:
            await cancel_and_wait(self._watcher)  # asyncpg's connect can swallow one cancel (shared.tasks)
            self._watcher = None


def _reported_by_outage(record: logging.LogRecord) -> bool:
    """asyncpg's pool logs each failed attempt to restore its minimum of connections, with a traceback: an
    outage the Outage reports once. Other asyncpg warnings pass."""
    return not (record.exc_info and record.exc_info[1] is not None and unreachable(record.exc_info[1]))


async def _init_connection(conn: Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _no_session_reset(conn: Connection) -> None:
    """Pool `reset`: asyncpg still rolls back an open transaction on release; we skip its
    `RESET ALL; UNLISTEN *; CLOSE ALL; pg_advisory_unlock_all()` (a round trip per release), because
    the kernel keeps no session state on pooled connections: `search_path` is a startup parameter,
    advisory locks are transaction-scoped and LISTEN runs on a dedicated connection.
    """


async def create_pool(
    database_url: str, schema: str, *, min_size: int = 2, max_size: int = 10, outage: Outage | None = None
) -> Pool:
    """A pool for `schema`; with `outage`, its connection failures are reported there (a service's pool)."""
    pool = await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings={"search_path": schema, "application_name": f"its-{schema}"},
        command_timeout=60,
        timeout=CONNECT_TIMEOUT_SECONDS,
        reset=_no_session_reset,
        connect=outage.connect if outage is not None else None,
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


async def lock_until_commit(conn: Connection, name: str) -> None:
    """A lock on `name` (e.g. "contract:<id>") held until the transaction ends: work on one thing, one at a time,
    even where no row exists yet to lock."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", name)
