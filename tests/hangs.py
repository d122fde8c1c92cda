"""A test that hangs ends the run saying which test, in which phase, and where every asyncio task waits.

pytest-timeout's own report shows the threads' stacks; for async tests every thread is the event loop
waiting in `select()`, which says nothing. This plugin takes over the timer (`pytest_timeout_set_timer`)
and prints, when a test (its setup, call or teardown) runs longer than the configured timeout:

- the test and the phase, first and again on the last line (CI shows the end of the output);
- the stack of every pending task of the event loop (the coroutine each one awaits);
- the stacks of the other threads;

then ends the process, as pytest-timeout's thread method does: a hung loop cannot run another test.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

_PROJECT = str(Path(__file__).resolve().parent.parent) + os.sep
_VENV = _PROJECT + ".venv" + os.sep

# The phase that runs now, for the report: "setup", "call" or "teardown" of a test id.
_running: dict[str, str] = {}


def _phase(item: pytest.Item, phase: str) -> Iterator[None]:
    _running.update(test=item.nodeid, phase=phase)
    try:
        yield
    finally:
        _running.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    return (yield from _phase(item, "setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _phase(item, "call"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    return (yield from _phase(item, "teardown"))


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool:
    timer = threading.Timer(settings.timeout, _report_and_exit, (item, settings.timeout))
    timer.name = f"hang watch {item.nodeid}"
    timer.daemon = True

    def cancel() -> None:
        timer.cancel()

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # read by pytest-timeout's cancel hook
    timer.start()
    return True


def _report_and_exit(item: pytest.Item, timeout: float) -> None:
    where = f"{_running.get('test', item.nodeid)} ({_running.get('phase', 'between phases')})"
    capture = item.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(item)
    out = sys.stderr  # the real one, now that capturing is suspended
    try:
        out.write(f"\n{'+' * 30} HUNG for {timeout:.0f} s: {where} {'+' * 30}\n")
        waits = []
        loop = _main_thread_loop()
        if loop is not None:
            for task in sorted(_tasks(loop), key=lambda t: t.get_name()):
                stack = _await_chain(task.get_coro())
                out.write(f"--- task {task.get_name()} ({task.get_coro()!r})\n")
                out.write("".join(traceback.StackSummary.extract((f, f.f_lineno) for f in stack).format()))
                if stack:
                    waits.append(f"{task.get_name()} at {_summary(stack)}")
        for ident, frame in sys._current_frames().items():
            if ident != threading.get_ident():
                name = next((t.name for t in threading.enumerate() if t.ident == ident), "?")
                out.write(f"--- thread {name}\n{''.join(traceback.format_stack(frame, limit=8))}")
        out.write(f"HUNG: {where}; tasks: {'; '.join(waits) or 'none'}\n")
    finally:
        out.flush()
        os._exit(1)


def _await_chain(coro: Any) -> list[FrameType]:
    """The frames from a task's coroutine down to what it awaits now (Task.get_stack shows only the first)."""
    frames: list[FrameType] = []
    while coro is not None and len(frames) < 40:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None) or getattr(coro, "ag_frame", None)
        if frame is None:
            break
        frames.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None) or getattr(coro, "ag_await", None)
        if type(coro).__name__ in ("async_generator_asend", "async_generator_athrow"):
            # `await agen.__anext__()` (async fixtures, `async with` on a generator) hides the generator.
            local = frame.f_locals
            candidates = [*local.values(), getattr(local.get("self"), "gen", None)]
            coro = next((v for v in candidates if inspect.isasyncgen(v) and v.ag_running), None)
    return frames


def _summary(stack: list[FrameType]) -> str:
    """The deepest frame of the project's own code, then the frame the task waits in, if that is elsewhere."""
    own = [f for f in stack if f.f_code.co_filename.startswith(_PROJECT) and not f.f_code.co_filename.startswith(_VENV)]
    shown = [own[-1], stack[-1]] if own and own[-1] is not stack[-1] else [stack[-1]]
    return " -> ".join(_where(frame) for frame in shown)


def _where(frame: FrameType) -> str:
    return f"{frame.f_code.co_name} ({os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno})"


def _main_thread_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop the main thread runs, found on its stack (another thread cannot ask asyncio for it)."""
    frame: FrameType | None = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, asyncio.AbstractEventLoop):
            return candidate
        frame = frame.f_back
    return None


def _tasks(loop: asyncio.AbstractEventLoop) -> set[asyncio.Task[Any]]:
    for _ in range(5):  # the loop's thread may change the set while we read it
        try:
            return {task for task in asyncio.all_tasks(loop) if not task.done()}
        except RuntimeError:
            continue
    return set()
