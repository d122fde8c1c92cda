"""Background tasks end when their context ends, even when a cancellation is swallowed (shared/tasks.py)."""

from __future__ import annotations

import asyncio
import time

import pytest
import structlog

from shared import tasks
from shared.tasks import background, cancel_and_wait


async def test_a_task_that_swallowed_its_cancellation_in_wait_for_is_cancelled_again() -> None:
    """The CI hang: Python 3.11's wait_for returns a result that arrives with the cancellation and drops the
    cancellation; the worker loops on, and a single cancel() waits for ever."""
    reply = asyncio.get_running_loop().create_future()
    rounds = 0

    async def worker() -> None:
        nonlocal rounds
        while True:
            # aiosmtplib awaits each SMTP reply like this. After the first reply the worker waits long enough that
            # the repeated cancellation finds it waiting (a short wait could end in the same loop iteration as the
            # repeated cancellation too, on a busy machine, and swallow that one as well).
            await asyncio.wait_for(reply if rounds == 0 else asyncio.sleep(2), 5)
            rounds += 1

    started = time.monotonic()
    async with background(worker(), "test.worker") as task:
        await asyncio.sleep(0)
        reply.set_result("250 OK")  # the reply arrives in the loop iteration of the cancellation
    assert task.done()
    assert time.monotonic() - started < 3
    assert rounds >= 1  # on 3.11 the first cancellation was swallowed and the loop went on


async def test_a_stop_lets_the_task_finish_its_work_without_a_cancellation() -> None:
    stopping = asyncio.Event()
    finished: list[str] = []

    async def worker() -> None:
        await stopping.wait()
        await asyncio.sleep(0.05)  # the job under way
        finished.append("job")

    async with background(worker(), "test.worker", stop=stopping.set) as task:
        pass
    assert finished == ["job"]
    assert not task.cancelled()


async def test_a_task_that_will_not_stop_is_logged_and_left_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "CANCEL_PATIENCE_SECONDS", 0.3)
    monkeypatch.setattr(tasks, "CANCEL_RETRY_SECONDS", 0.05)
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn(), name="test.stubborn")
    await asyncio.sleep(0)
    with structlog.testing.capture_logs() as logs:
        started = time.monotonic()
        await cancel_and_wait(task)
    assert time.monotonic() - started < 2
    assert not task.done()
    assert {"event": "task.did_not_stop", "tasks": ["test.stubborn"], "log_level": "error"} in logs
    release.set()
    task.cancel()
    await asyncio.wait({task}, timeout=1)
    assert task.done()


async def test_a_crash_is_logged_and_not_raised_when_the_context_ends() -> None:
    async def crashes() -> None:
        raise RuntimeError("broken")

    with structlog.testing.capture_logs() as logs:
        async with background(crashes(), "test.crashes") as task:
            await asyncio.wait({task})
    assert any(entry["event"] == "background.crashed" and entry["task"] == "test.crashes" for entry in logs)
