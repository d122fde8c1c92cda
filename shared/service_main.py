"""`python -m services.<name> [serve|migrate]`: the same start-up for every service."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from shared.held_writes import HeldWritesLoop
from shared.logging import configure_logging, get_logger, serve_log_lines_on
from shared.migrate import migrate
from shared.settings import BaseServiceSettings
from shared.tracing import configure_tracing


def run_service(
    *,
    name: str,
    schema: str,
    migrations_dir: Path,
    settings: BaseServiceSettings,
    create_app: Callable[[], web.Application],
    argv: list[str] | None = None,
) -> None:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "serve"
    # Traces only where the work is done (not `migrate`), and before the app exists: see shared/tracing.py.
    traced = command == "serve" and configure_tracing(name, var_dir=settings.var_dir)
    configure_logging(name, settings.log_level, traced=traced)
    log = get_logger(name)
    if command == "migrate":
        migrate(migrations_dir, settings.database_url, schema)
        log.info("migrated", schema=schema)
    elif command == "serve":
        log.info("starting", host=settings.host, port=settings.port, env=settings.env, traced=traced)
        serve(create_app(), host=settings.host, port=settings.port)
    else:
        sys.exit(f"usage: python -m services.{name} [serve|migrate]")


def serve(app: web.Application, *, host: str, port: int) -> None:
    """Serve `app` until stopped, as every service process does (the benchmarks' reference servers too), with no
    access log (the kernel's middleware logs each request). On asyncio's own loop, its answers sent together at the
    end of each turn (shared.held_writes): with uvloop the update-plan benchmark's saturated round left some of its
    200 connections waiting past 2 s (p99 1 s against 242 ms), so a slightly cheaper request is not worth it."""
    app.cleanup_ctx.append(_frozen_heap)
    app.cleanup_ctx.append(_log_lines_on_the_loop)
    web.run_app(app, host=host, port=port, access_log=None, print=None, loop=HeldWritesLoop())


async def _log_lines_on_the_loop(app: web.Application) -> AsyncIterator[None]:
    """Log lines batched on the serving loop without asking for it each time (LineBatcher.serve_on)."""
    serve_log_lines_on(asyncio.get_running_loop())
    yield
    serve_log_lines_on(None)


# The youngest generation is collected after this many more objects were made than freed (Python's default: 700).
# Under load most young objects belong to requests still in flight, so a collection every 700 walked them again and
# again to free almost nothing. Measured with gc.callbacks over one benchmark run each (bench/RESULTS.md): the
# contract intake, 130 young collections of about 0.6 ms (2 % of the process's CPU) at 700, 10 (7 ms in all) at
# 3,000; update-plan's process, 872 young collections (850 ms), 79 middle ones (200 ms) and 7 full ones of 23-33 ms
# at 700, 69 young and 6 middle ones (71 ms in all, the longest 5 ms) at 3,000. At 10,000 one middle collection
# took 14 ms, a pause every request in flight waits for: 3,000 keeps the pauses short.
YOUNG_GENERATION_THRESHOLD = 3_000


async def _frozen_heap(app: web.Application) -> AsyncIterator[None]:
    """What exists once the app has started (modules, routes, models, pools) moved out of the garbage collector's
    reach: it lives as long as the process, and every full collection would walk it again (tens of ms each). The
    young generation is collected less often (YOUNG_GENERATION_THRESHOLD); the older ones as by default."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)
    yield
