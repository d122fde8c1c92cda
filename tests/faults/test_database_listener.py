"""updates' change listener (LISTEN on a dedicated connection) through an outage longer than its reconnect pause:
it says so once when listening fails and once when it listens again, not once per attempt, and then hears
notifications again without a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import structlog

from shared.listen import listen_for_changes
from tests.faults.postgres import Postgres
from tests.infra import wait_for


def named(logs: Sequence[Mapping[str, Any]], event: str) -> list[Mapping[str, Any]]:
    return [line for line in logs if line["event"] == event]


async def test_the_change_listener_logs_an_outage_once_and_hears_again_after_it(
    postgres: Postgres,
) -> None:
    database_url = await postgres.create_database(f"listener_{uuid.uuid4().hex[:10]}")
    heard: list[str | None] = []
    with structlog.testing.capture_logs() as logs:
        listening = listen_for_changes(database_url, {"its_test": heard.append}, name="updates", reconnect_seconds=0.2)
        task = asyncio.create_task(listening)  # many attempts in the outage below
        try:
            await wait_for(lambda: heard, timeout=10, what="the listener to connect")  # None: forget everything
            await postgres.stop()
            await asyncio.sleep(3)  # ~15 reconnect attempts
            await postgres.start()
            await wait_for(lambda: named(logs, "updates.listening_again"), timeout=20, what="listening again")
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute("SELECT pg_notify('its_test', 'after the outage')")
            finally:
                await conn.close()
            await wait_for(lambda: "after the outage" in heard, timeout=10, what="the notification")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    [failed] = named(logs, "updates.listen_failed")
    [again] = named(logs, "updates.listening_again")
    assert failed["log_level"] == "warning"
    assert again["failed_attempts"] >= 5


async def test_a_listening_connection_gone_silent_is_found_and_caches_stop_keeping(postgres: Postgres) -> None:
    """The listener's server process stopped (SIGSTOP: no answer, no closed socket, as after a failover or a
    network that drops the connection without a word): the heartbeat's query times out, `hearing` is told that
    notifications are no longer heard (a cache drops what it kept), and listening resumes when the server does."""
    database_url = await postgres.create_database(f"silent_{uuid.uuid4().hex[:10]}")
    heard: list[bool] = []
    listening = listen_for_changes(
        database_url,
        {"its_test": lambda _: None},
        name="updates",
        reconnect_seconds=0.2,
        heartbeat_seconds=0.5,
        hearing=heard.append,
    )
    task = asyncio.create_task(listening)
    conn = await asyncpg.connect(database_url)
    try:
        await wait_for(lambda: heard == [True], timeout=10, what="the listener to connect")
        backend: int = await conn.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        os.kill(backend, signal.SIGSTOP)
        try:
            await wait_for(lambda: heard[-1] is False, timeout=5, what="the silence to be found")
        finally:
            os.kill(backend, signal.SIGCONT)
        await wait_for(lambda: heard[-1] is True, timeout=10, what="listening again")
    finally:
        await conn.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
