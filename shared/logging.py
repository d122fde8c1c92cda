"""structlog JSON lines; request and correlation ids bound per request and per message."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from structlog.contextvars import bind_contextvars, bound_contextvars, get_contextvars, reset_contextvars

__all__ = [
    "bind_contextvars",
    "bound_contextvars",
    "configure_logging",
    "get_contextvars_ids",
    "get_logger",
    "reset_contextvars",
]


def configure_logging(service: str, level: str = "INFO") -> None:
    shared_processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # structlog's fast path: orjson renders bytes straight to stdout's buffer; a level that is off costs nothing
    # (the filtering logger's methods for it return at once); loggers are cached on first use.
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.processors.format_exc_info,
            _add_service(service),
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.BytesLoggerFactory(sys.stdout.buffer),
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


def _add_service(service: str) -> structlog.types.Processor:
    def add(_: Any, __: str, event: structlog.types.EventDict) -> structlog.types.EventDict:
        event.setdefault("service", service)
        return event

    return add


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
