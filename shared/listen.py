"""PostgreSQL LISTEN on one dedicated connection, kept listening: after a loss it reconnects and listens again.

Notifications are delivered on commit, but only while a connection listens: whoever caches or waits on them
hears `on_lost` when listening stops and `on_listening` when it (re)starts, and treats both as "anything may
have changed meanwhile". A connection that goes silent (a failover, a network that drops it without a word) is
found by a query every HEARTBEAT_SECONDS and counts as lost. An outage is logged once (`<name>.listen_failed`),
and its end once (`<name>.listening_again`, with the failed attempts), not once per attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import asyncpg
from aiohttp import web

from shared.logging import get_logger
from shared.tasks import background

log = get_logger(__name__)

Notified = Callable[[str], None]  # a notification's payload
RECONNECT_SECONDS = 5.0
HEARTBEAT_SECONDS = 5.0


def _nothing() -> None:
    return None


def _ignore(_: bool) -> None:
    return None


async def listen_forever(
    database_url: str,
    channels: Mapping[str, Notified],
    *,
    name: str,
    reconnect_seconds: float,
    on_listening: Callable[[], None] = _nothing,
    on_lost: Callable[[], None] = _nothing,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
) -> None:
    """LISTEN on `channels` until cancelled; after a loss (or a failed attempt) wait `reconnect_seconds`."""
    failed_attempts = 0
    while True:
        lost = asyncio.Event()
        conn: Any = None
        try:
            conn = await asyncpg.connect(database_url)
            conn.add_termination_listener(_on_termination(lost))
            for channel, notified in channels.items():
                await conn.add_listener(channel, _deliver(notified))
            on_listening()
            if failed_attempts:
                log.info(f"{name}.listening_again", failed_attempts=failed_attempts)
                failed_attempts = 0
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), heartbeat_seconds)
                    break
                await conn.fetchval("SELECT 1", timeout=heartbeat_seconds)  # silent, or still there?
        except Exception as exc:  # any failure is retried; meanwhile the listeners' own fallbacks serve
            failed_attempts += 1
            if failed_attempts == 1:
                log.warning(f"{name}.listen_failed", error=repr(exc))
        finally:
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):  # a server gone silent does not answer the goodbye either
                    await conn.close(timeout=2)
        on_lost()
        await asyncio.sleep(reconnect_seconds)


def _on_termination(lost: asyncio.Event) -> Callable[[Any], None]:
    def on_termination(_conn: Any) -> None:
        lost.set()

    return on_termination


def _deliver(notified: Notified) -> Callable[[Any, int, str, str], None]:
    def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        notified(payload)

    return on_notify


Changed = Callable[[str | None], None]  # a payload, or None: anything may have changed (not listening for a while)


def setup_change_listener(
    app: web.Application,
    database_url: str,
    callbacks: Mapping[str, Changed],
    *,
    name: str,
    hearing: Callable[[bool], None] = _ignore,
) -> None:
    """Change notifications between replicas, for the app's life: writers call `pg_notify(channel, payload)` in the
    transaction that makes the change; each replica hears it on commit and drops what it cached. `hearing` is told
    when notifications start and stop being heard (a cache that keeps answers only while they are)."""

    async def listen(app: web.Application) -> AsyncIterator[None]:
        listening = listen_for_changes(database_url, callbacks, name=name, hearing=hearing)
        async with background(listening, f"{name}.change_listener"):
            yield

    app.cleanup_ctx.append(listen)


async def listen_for_changes(
    database_url: str,
    callbacks: Mapping[str, Changed],
    *,
    name: str,
    reconnect_seconds: float = RECONNECT_SECONDS,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
    hearing: Callable[[bool], None] = _ignore,
) -> None:
    """Listen, and listen again after every loss; when listening stops or starts again every callback hears None
    (anything may have changed meanwhile: forget everything), and `hearing` whether notifications are heard now."""

    def listening() -> None:
        for callback in callbacks.values():
            callback(None)
        hearing(True)

    def lost() -> None:
        hearing(False)
        for callback in callbacks.values():
            callback(None)

    await listen_forever(
        database_url,
        callbacks,
        name=name,
        reconnect_seconds=reconnect_seconds,
        on_listening=listening,
        on_lost=lost,
        heartbeat_seconds=heartbeat_seconds,
    )
