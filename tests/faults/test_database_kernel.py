"""The kernel against a real PostgreSQL going through each of its outage states: killed mid-query, restarting
(crash recovery), shutting down, stopped. A tiny app built with the shared app factory, in this process, its pool on
a cluster of the test's own."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp import web

from shared.app import create_app, setup_db
from shared.db import CONNECT_TIMEOUT_SECONDS
from shared.http import Api
from shared.keys import POOL
from shared.settings import BaseServiceSettings
from tests.faults.postgres import Postgres
from tests.infra import RunningApp, wait_for

PROBLEM = "application/problem+json"
UNAVAILABLE = "https://its-portal.dev/problems/unavailable"


def kernel_app(database_url: str, var_dir: Path) -> web.Application:
    api = Api("Kernel outage test")

    @api.get("/v1/pid", summary="The backend serving this request")
    async def pid(request: web.Request) -> web.Response:
        async with request.app[POOL].acquire() as conn:
            return web.json_response({"pid": await conn.fetchval("SELECT pg_backend_pid()")})

    @api.post("/v1/sleep", summary="Holds a connection in a transaction for a while", status=204)
    async def sleep(request: web.Request) -> None:
        async with request.app[POOL].acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_sleep(2)")

    settings = BaseServiceSettings(env="test", var_dir=var_dir, database_url=database_url, db_pool_min=2, db_pool_max=4)
    app = create_app(settings, service="kernel-outage", api=api)
    setup_db(app, settings, "public")
    return app


@pytest.fixture
async def app(postgres: Postgres, tmp_path: Path) -> AsyncIterator[RunningApp]:
    database_url = await postgres.create_database(f"kernel_{uuid.uuid4().hex[:10]}")
    async with RunningApp(kernel_app(database_url, tmp_path)) as running:
        yield running
    if postgres.process is None or postgres.process.poll() is not None:
        await postgres.start()  # the next test finds it running


async def answer(app: RunningApp, method: str, path: str) -> tuple[int, str, str | None, Any]:
    async with app.http.request(method, path) as response:
        body = await response.json(content_type=None)
        return response.status, response.content_type, response.headers.get("Retry-After"), body


def unavailable(found: tuple[int, str, str | None, Any]) -> bool:
    status, content_type, retry_after, body = found
    return (status, content_type, body["type"]) == (503, PROBLEM, UNAVAILABLE) and retry_after is not None


async def pool_pids(app: RunningApp) -> set[int]:
    """The backends of the pool's open connections (each acquired once, at the same time)."""
    pool = app.app[POOL]
    connections = [await pool.acquire() for _ in range(pool.get_size())]
    try:
        return {await conn.fetchval("SELECT pg_backend_pid()") for conn in connections}
    finally:
        for conn in connections:
            await pool.release(conn)


def events(logs: Sequence[Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    return [line for line in logs if line["event"] == name]


async def test_each_state_of_a_postgresql_outage_is_a_503_and_the_pool_replaces_its_dead_connections(
    postgres: Postgres, app: RunningApp
) -> None:
    """Proves, on a real server: a connection lost mid-query (the server killed with SIGKILL), the server
    restarting (crash recovery), frozen (a new connection never answered: it times out), shutting down (new
    connections refused while a session lasts) and stopped are
    each a 503 problem+json with Retry-After, never a 500; each outage is logged once and its end once; afterwards
    the same pool serves again with new connections only (none of the dead ones handed out)."""
    with structlog.testing.capture_logs() as logs:
        assert (await answer(app, "GET", "/v1/pid"))[0] == 200
        before = await pool_pids(app)
        assert len(before) >= 2

        # Killed mid-query: the request in flight loses its connection.
        in_flight = asyncio.create_task(answer(app, "POST", "/v1/sleep"))
        await asyncio.sleep(0.5)
        await postgres.kill()
        assert unavailable(await in_flight)
        assert unavailable(await answer(app, "GET", "/v1/pid"))
        # Restarting: crash recovery, then ready. Every answer meanwhile a 503 or a success, never a 500.
        starting = asyncio.create_task(postgres.start())
        while not starting.done() or (await answer(app, "GET", "/v1/pid"))[0] != 200:
            found = await answer(app, "GET", "/v1/pid")
            assert found[0] == 200 or unavailable(found), found
            await asyncio.sleep(0.01)
        await starting
        await wait_for(lambda: events(logs, "db.recovered"), timeout=10, what="the first outage's end")
        after = await pool_pids(app)
        assert after and not after & before, "the pool holds new connections only"

        # Frozen: a new connection is accepted and never answered; it gives up after CONNECT_TIMEOUT_SECONDS.
        pool = app.app[POOL]
        held = [await pool.acquire() for _ in range(pool.get_size())]  # the next request needs a new connection
        postgres.freeze()
        try:
            started = time.monotonic()
            found = await answer(app, "GET", "/v1/pid")
            waited = time.monotonic() - started
        finally:
            postgres.thaw()
        assert unavailable(found), found
        assert CONNECT_TIMEOUT_SECONDS <= waited < CONNECT_TIMEOUT_SECONDS + 2
        await wait_for(lambda: len(events(logs, "db.recovered")) == 2, timeout=10, what="the frozen server's end")

        # Shutting down: a session lasts, so the server refuses new connections ("shutting down") until it ends.
        assert postgres.process is not None
        postgres.process.send_signal(signal.SIGTERM)  # smart shutdown: waits for the sessions to end
        try:
            await asyncio.sleep(0.3)
            found = await answer(app, "GET", "/v1/pid")
            assert unavailable(found), found
        finally:
            for conn in held:
                await pool.release(conn)
        await postgres.stop()  # fast shutdown ends the idle sessions
        assert unavailable(await answer(app, "GET", "/v1/pid"))  # stopped: connection refused
        await postgres.start()
        await wait_for(lambda: _is_ok(app), timeout=15, what="answers again")
        await wait_for(lambda: len(events(logs, "db.recovered")) == 3, timeout=10, what="the last outage's end")

    assert len(events(logs, "db.unavailable")) == 3  # one per outage
    assert not [line for line in logs if line["log_level"] == "error"]


async def _is_ok(app: RunningApp) -> bool:
    return (await answer(app, "GET", "/v1/pid"))[0] == 200
