"""structlog JSON lines; request and correlation ids bound per request and per message."""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import logging
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson
import structlog
from structlog.contextvars import bind_contextvars, bound_contextvars, get_contextvars, reset_contextvars

__all__ = [
    "CORRELATION_ID",
    "REQUEST_ID",
    "bind_contextvars",
    "bound_contextvars",
    "configure_logging",
    "get_contextvars_ids",
    "get_logger",
    "log_request",
    "reset_contextvars",
    "serve_log_lines_on",
]


def configure_logging(service: str, level: str = "INFO", *, traced: bool = False) -> None:
    """`traced`: tracing is on in this process (shared/tracing.py), and each line carries its span's ids."""
    shared_processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        *_trace_ids(traced),
        structlog.processors.add_log_level,
        _timestamp,
    ]
    # structlog's fast path: orjson renders bytes, written to stdout once per turn of the event loop (LineBatcher);
    # a level that is off costs nothing (the filtering logger's methods for it return at once); loggers are cached
    # on first use.
    lines = LineBatcher(sys.stdout.buffer)
    atexit.register(lines.flush)
    global _requests_written, _lines
    _lines = lines
    # The access log's own path where structlog's chain would add nothing to its line (log_request).
    info = logging.getLevelNamesMapping()[level.upper()] <= logging.INFO
    _requests_written = RequestLines(lines, service) if info and not traced else None
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.processors.format_exc_info,
            _add_service(service),
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=lambda *_: lines,
        cache_logger_on_first_use=True,
    )
    # Libraries (aiohttp, aio-pika, alembic) log through the stdlib: render them the same way.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared_processors, _add_service(service)],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if level.upper() == "INFO" else level.upper())


def _trace_ids(traced: bool) -> list[structlog.types.Processor]:
    if not traced:  # not even a call per line when off
        return []
    from shared.tracing import log_trace_ids

    return [log_trace_ids]


class LineBatcher:
    """structlog's logger: rendered lines gathered during one turn of the event loop and written together at its
    end (one write instead of one per request under load; a line waits microseconds, not for a timer). Outside
    the loop's thread, or with no loop running, a line is written at once."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lines: list[bytes] = []
        self._lock = threading.Lock()  # loops in other threads (tests run some) log here too
        self._serving: asyncio.AbstractEventLoop | None = None  # serve_on: the process's serving loop
        self._serving_thread = 0

    def serve_on(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Lines logged in `loop`'s thread go to its turn without asking which loop runs: on Python 3.11
        `asyncio.get_running_loop()` asks the kernel for the process id each time, a system call per line. None
        when that loop stops serving; its lines are written first."""
        self.flush()
        self._serving, self._serving_thread = loop, threading.get_ident() if loop is not None else 0

    def msg(self, message: bytes) -> None:
        loop: asyncio.AbstractEventLoop | None = self._serving
        if loop is None or threading.get_ident() != self._serving_thread:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._write(message + b"\n")
                return
        with self._lock:
            if not self._lines:
                loop.call_soon(self.flush)
            self._lines.append(message)

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg

    def flush(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
            if lines:
                lines.append(b"")
                self._stream.write(b"\n".join(lines))
                self._stream.flush()

    def _write(self, data: bytes) -> None:
        with self._lock:
            self._stream.write(data)
            self._stream.flush()


class RequestLines:
    """The access log's line for each request a service answers, written without structlog's chain of processors:
    under load that is one line per request, and the chain (a bound logger, five processors) costs several times
    the line itself. The same keys as a structlog line: level, timestamp, service, and the variables bound in the
    request's context, read directly: the kernel's middleware binds its two ids and nothing else binds any (a
    lookup through the whole context, as structlog's merge_contextvars does, cost more than the rest of the line)."""

    def __init__(self, lines: LineBatcher, service: str) -> None:
        self._lines, self._service = lines, service

    def write(self, method: str, path: str, status: int, ms: float) -> None:
        event: dict[str, Any] = {"method": method, "path": path, "status": status, "ms": ms}
        if (request_id := REQUEST_ID.get()) is not Ellipsis:  # structlog's mark of a variable unbound
            event["request_id"] = request_id
        if (correlation_id := CORRELATION_ID.get()) is not Ellipsis:
            event["correlation_id"] = correlation_id
        event["level"] = "info"
        _timestamp(None, "info", event)
        event["service"] = self._service
        event["event"] = "http.request"
        self._lines.msg(orjson.dumps(event))


_lines: LineBatcher | None = None  # configure_logging's
_requests_written: RequestLines | None = None  # configure_logging: INFO is on and tracing off


def serve_log_lines_on(loop: asyncio.AbstractEventLoop | None) -> None:
    """The process serves on `loop` from here on (None: no longer); its log lines are batched on it
    (LineBatcher.serve_on)."""
    if _lines is not None:
        _lines.serve_on(loop)


_request_log = structlog.get_logger("shared.middlewares")


def log_request(method: str, path: str, status: int, ms: float) -> None:
    """One answered request in the access log (the kernel's middleware calls this for each)."""
    if _requests_written is not None:
        _requests_written.write(method, path, status, ms)
    else:  # tracing on (its processor adds the span's ids), a level above INFO, or logging not configured
        _request_log.info("http.request", method=method, path=path, status=status, ms=ms)


def _timestamp(_: Any, __: str, event: structlog.types.EventDict) -> structlog.types.EventDict:
    """ISO 8601 UTC with milliseconds; the seconds' text made once a second (structlog's TimeStamper formats a
    datetime for every line), the milliseconds' taken from a table (formatting them took half the line's time)."""
    now = time.time()
    second = int(now)
    global _second, _second_text
    if second != _second:
        _second, _second_text = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    event["timestamp"] = _second_text + _MILLISECONDS[int((now - second) * 1000)]
    return event


_second, _second_text = -1, ""
_MILLISECONDS = [f".{ms:03d}Z" for ms in range(1000)]


def _add_service(service: str) -> structlog.types.Processor:
    def add(_: Any, __: str, event: structlog.types.EventDict) -> structlog.types.EventDict:
        event.setdefault("service", service)
        return event

    return add


def _bound_variable(key: str) -> contextvars.ContextVar[Any]:
    """structlog's own context variable of `key` (what `bind_contextvars(key=...)` sets and every log line merges),
    found through the token of a binding made in a throwaway context."""
    token: contextvars.Token[Any] = contextvars.copy_context().run(bind_contextvars, **{key: None})[key]
    return token.var


# The ids the kernel binds on every request, set directly (bind_contextvars builds names and a dict each time).
REQUEST_ID = _bound_variable("request_id")
CORRELATION_ID = _bound_variable("correlation_id")


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


@dataclass(frozen=True)
class FlowIds:
    request_id: str | None
    correlation_id: str | None
    causation_id: str | None


def get_contextvars_ids() -> FlowIds:
    """The ids of the request or message being handled, if any."""
    ctx = get_contextvars()
    return FlowIds(ctx.get("request_id"), ctx.get("correlation_id"), ctx.get("causation_id"))
