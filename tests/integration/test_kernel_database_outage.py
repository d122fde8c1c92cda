"""The database going away, as every service's kernel answers it: 503 problem+json with Retry-After, one log line
when the outage begins and one when it ends, and the pool working again without a restart.

The outage is a cut TCP proxy between the app's pool and the test database (every connection reset, new ones
refused): the network going. `tests/faults/` does the same with a PostgreSQL of its own stopped, killed and
restarted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest
import structlog
from aiohttp import web
from yarl import URL

from shared.app import create_app, setup_db
from shared.db import unreachable
from shared.http import Api
from shared.jobs import JobWorker
from shared.keys import POOL
from shared.metrics import Metrics
from shared.settings import BaseServiceSettings
from tests.infra import RunningApp, free_port, wait_for

if TYPE_CHECKING:
    from tests.integration.kernel_fixtures import Kernel, TcpProxy

pytest_plugins = ["tests.integration.kernel_fixtures"]

PROBLEM = "application/problem+json"
UNAVAILABLE = "https://its-portal.dev/problems/unavailable"


def outage_app(kernel: Kernel, pg_proxy: TcpProxy, tmp_path: Path) -> web.Application:
    api = Api("Kernel outage test")

    @api.get("/v1/effects", summary="Reads the database")
    async def count_effects(request: web.Request) -> web.Response:
        async with request.app[POOL].acquire() as conn:
            count = await conn.fetchval("SELECT count(*) FROM effects")
        return web.json_response({"count": count})

    @api.post("/v1/effects", summary="Writes in a transaction", status=204)
    async def add_effect(request: web.Request) -> None:
        async with request.app[POOL].acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO effects (source, key, n) VALUES ('http', 'k', 1)")

    @api.get("/v1/broken", summary="A bug in SQL, not an outage")
    async def broken(request: web.Request) -> None:
        async with request.app[POOL].acquire() as conn:
            await conn.fetchval("SELEC 1")

    db_url = URL(kernel.stack.database_url)
    settings = BaseServiceSettings(
        env="test", var_dir=tmp_path, database_url=str(db_url.with_port(pg_proxy.port)), db_pool_min=2
    )
    app = create_app(settings, service="kernel-test", api=api)
    setup_db(app, settings, kernel.schema)
    return app


async def _pg_proxy(kernel: Kernel) -> TcpProxy:
    db_url = URL(kernel.stack.database_url)
    assert db_url.host is not None and db_url.port is not None
    return await kernel.proxy(db_url.host, db_url.port)


def _events(logs: Sequence[Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    return [line for line in logs if line["event"] == name]


async def test_a_database_outage_is_a_503_with_retry_after_logged_once_and_over_without_a_restart(
    kernel: Kernel, tmp_path: Path
) -> None:
    """While the database cannot be reached every request that needs it is a 503 problem+json with Retry-After
    (never a 500), /readyz is 503, the outage is logged once (`db.unavailable`) and its end once
    (`db.recovered`, with the refused requests); once the database is back the same process answers again,
    with new connections in its pool. A bug in SQL is still a 500 with its traceback in the log."""
    pg_proxy = await _pg_proxy(kernel)
    app = outage_app(kernel, pg_proxy, tmp_path)
    with structlog.testing.capture_logs() as logs:
        async with RunningApp(app) as running:
            assert (await running.http.get("/v1/effects")).status == 200
            connections_before = pg_proxy.connections_made

            await pg_proxy.cut()
            refused = 0
            for n in range(30):
                response = await (running.http.get if n % 2 else running.http.post)("/v1/effects")
                assert response.status == 503, await response.text()
                assert response.content_type == PROBLEM
                body = await response.json()
                assert body["type"] == UNAVAILABLE and body["status"] == 503
                assert 1 <= int(response.headers["Retry-After"]) <= 30  # a few seconds
                refused += 1
            assert (await running.http.get("/readyz")).status == 503
            assert len(_events(logs, "db.unavailable")) == 1
            assert not _events(logs, "http.unhandled_error")
            assert not _events(logs, "db.recovered")

            await pg_proxy.restore()

            async def answers() -> bool:
                nonlocal refused
                response = await running.http.get("/v1/effects")
                refused += response.status == 503
                return response.status == 200

            await wait_for(answers, timeout=15, interval=0.1, what="answers once the database is back")
            await wait_for(lambda: _events(logs, "db.recovered"), timeout=10, what="db.recovered")
            [recovered] = _events(logs, "db.recovered")
            assert recovered["refused"] == refused and recovered["seconds"] > 0
            assert len(_events(logs, "db.unavailable")) == 1
            assert (await running.http.get("/readyz")).status == 200
            assert pg_proxy.connections_made > connections_before, "the pool made new connections"

            response = await running.http.get("/v1/broken")
            assert response.status == 500
            [unhandled] = _events(logs, "http.unhandled_error")
            assert unhandled["exc_info"] is True
            assert len(_events(logs, "db.unavailable")) == 1, "a bug in SQL is not an outage"


async def test_a_job_worker_polling_through_an_outage_logs_it_once(kernel: Kernel, tmp_path: Path) -> None:
    """A deferred-job worker polling every 50 ms while the database is away logs no line per poll: the outage is
    logged once, its end once, and the worker runs jobs again afterwards."""
    pg_proxy = await _pg_proxy(kernel)
    app = outage_app(kernel, pg_proxy, tmp_path)
    with structlog.testing.capture_logs() as logs:
        async with RunningApp(app) as running:
            worker = JobWorker(running.app[POOL], kernel.clock, {}, metrics=Metrics("kernel-test"), poll_seconds=0.05)
            task = kernel.start(worker.run(), "jobs")
            await pg_proxy.cut()
            await wait_for(lambda: _events(logs, "db.unavailable"), timeout=5, what="db.unavailable")
            await asyncio.sleep(1.0)  # some 20 polls, each meeting the outage
            await pg_proxy.restore()
            await wait_for(lambda: _events(logs, "db.recovered"), timeout=15, what="db.recovered")
            worker.stop()
            await task
    assert len(_events(logs, "db.unavailable")) == 1
    assert [line["event"] for line in logs if line["log_level"] in ("warning", "error")] == [
        "db.unavailable",
        "db.recovered",
    ]


async def test_what_counts_as_the_database_being_unreachable() -> None:
    """shared.db.unreachable: the failures of reaching the server (whatever asyncpg raises for them) are an outage;
    the same exception types raised by our own code, SQL errors and bugs are not."""
    with pytest.raises(ConnectionRefusedError) as refused:
        await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing", timeout=5)
    assert unreachable(refused.value), "connection refused, raised inside asyncpg"
    with pytest.raises(TimeoutError) as slow:
        async with asyncio.timeout(0.01):
            await asyncio.sleep(1)
    assert not unreachable(slow.value), "a timeout of our own"
    assert not unreachable(FileNotFoundError(2, "No such file", "/srv/kits/x")), "a file, not the database"

    assert unreachable(asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"))
    assert unreachable(asyncpg.exceptions.CannotConnectNowError("the database system is starting up"))
    assert unreachable(asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"))
    assert unreachable(
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
    )
    assert unreachable(asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"))
    assert unreachable(asyncpg.exceptions.InterfaceError("cannot call Connection.fetch(): connection is closed"))
    session_ended = "cannot switch to state 15; another operation (2) is in progress"
    assert unreachable(asyncpg.exceptions.InternalClientError(session_ended))
    rollback = asyncpg.exceptions.InterfaceError(
        "cannot call Transaction.__aexit__(): the underlying connection is closed"
    )
    rollback.__context__ = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")
    assert unreachable(rollback), "a lost connection, reported as the failed rollback"

    assert not unreachable(asyncpg.exceptions.PostgresSyntaxError('syntax error at or near "SELEC"'))
    assert not unreachable(asyncpg.exceptions.UniqueViolationError("duplicate key value"))
    assert not unreachable(
        asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress")
    )
    assert not unreachable(RuntimeError("a bug"))
