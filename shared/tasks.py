"""Background tasks that end when the app stops, even when a library swallows their cancellation.

Python 3.11's `asyncio.wait_for` (aiosmtplib awaits every SMTP reply with it) returns the result and drops
the cancellation when both arrive in the same loop iteration (gh-86296, fixed in 3.12). A task cancelled
once then carries on as if nothing happened, and whoever awaits it waits for ever: a shutdown hangs.
So `cancel_and_wait` cancels again until the task has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from shared.logging import get_logger

log = get_logger(__name__)

STOP_GRACE_SECONDS = 10.0
# How long one cancellation may take before it is repeated, and how long to keep trying.
CANCEL_RETRY_SECONDS = 0.5
CANCEL_PATIENCE_SECONDS = 10.0


@contextlib.asynccontextmanager
async def background(
    coro: Coroutine[Any, Any, None], name: str, stop: Callable[[], None] | None = None
) -> AsyncIterator[asyncio.Task[None]]:
    """Run `coro` as a task for the life of the context; a crash is logged, not silent.

    With `stop`, the task is asked to finish (up to STOP_GRACE_SECONDS) before it is cancelled.
    """
    task = asyncio.create_task(coro, name=name)
    task.add_done_callback(_log_crash)
    try:
        yield task
    finally:
        if stop is not None and not task.done():
            stop()
            await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS)
        await cancel_and_wait(task)


async def cancel_and_wait(*tasks: asyncio.Task[Any]) -> None:
    """Cancel the tasks and return when all have ended, repeating the cancellation a task swallowed.

    A task that still runs after CANCEL_PATIENCE_SECONDS is logged and left behind: a stuck task must
    not stop the rest of the shutdown. Exceptions the tasks ended with are not raised here.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CANCEL_PATIENCE_SECONDS
    pending = {task for task in tasks if not task.done()}
    while pending:
        if loop.time() > deadline:
            log.error("task.did_not_stop", tasks=sorted(task.get_name() for task in pending))
            return
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=CANCEL_RETRY_SECONDS)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: asyncio would otherwise warn "exception was never retrieved"


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background.crashed", task=task.get_name(), error=repr(task.exception()))
