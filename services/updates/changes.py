"""Change notifications between replicas: PostgreSQL LISTEN on one dedicated connection (shared.listen).

Writers call `pg_notify(channel, payload)` in the transaction that makes the change; each replica
hears it on commit and drops what it cached. When the connection is lost every cache is dropped and
the listener reconnects; the caches' own time limits bound staleness meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from services.updates.keys import SETTINGS
from shared.listen import listen_forever
from shared.tasks import background

RECONNECT_SECONDS = 5.0

Callback = Callable[[str | None], None]  # payload, or None: "forget everything" (not listening for a while)


def setup_change_listener(app: web.Application, callbacks: dict[str, Callback]) -> None:
    async def listen(app: web.Application) -> AsyncIterator[None]:
        async with background(_listen_forever(app[SETTINGS].database_url, callbacks), "updates.change_listener"):
            yield

    app.cleanup_ctx.append(listen)


async def _listen_forever(database_url: str, callbacks: dict[str, Callback]) -> None:
    """Listen, and listen again after every loss; an outage is logged once (`updates.listen_failed`, then
    `updates.listening_again`), not once per attempt."""

    def forget_everything() -> None:
        for callback in callbacks.values():
            callback(None)

    await listen_forever(
        database_url,
        callbacks,
        name="updates",
        reconnect_seconds=RECONNECT_SECONDS,
        on_listening=forget_everything,  # whatever changed while we were not listening
        on_lost=forget_everything,
    )
