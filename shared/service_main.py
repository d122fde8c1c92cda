"""`python -m services.<name> [serve|migrate]`: the same start-up for every service."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

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
    access log (the kernel's middleware logs each request). On asyncio's own loop: with uvloop the update-plan
    benchmark's saturated round left some of its 200 connections waiting past 2 s (p99 1 s against 242 ms), so a
    slightly cheaper request is not worth it."""
    app.cleanup_ctx.append(_frozen_heap)
    app.cleanup_ctx.append(_log_lines_on_the_loop)
    web.run_app(app, host=host, port=port, access_log=None, print=None)


async def _log_lines_on_the_loop(app: web.Application) -> AsyncIterator[None]:
    """Log lines batched on the serving loop without asking for it each time (LineBatcher.serve_on)."""
    serve_log_lines_on(asyncio.get_running_loop())
    yield
    serve_log_lines_on(None)


# The youngest generation is collected after this many more objects were made than freed (Python's default: 700).
# Under load most young objects belong to requests still in flight, so a collection every 700 walked them again and
# again for nothing: on the contract intake, 130 collections of about 0.6 ms each in a 5 s round (2 % of the
# process's CPU), which found 20 objects to free; at 10,000, one collection of 1.3-1.9 ms (bench/RESULTS.md).
YOUNG_GENERATION_THRESHOLD = 10_000


async def _frozen_heap(app: web.Application) -> AsyncIterator[None]:
    """What exists once the app has started (modules, routes, models, pools) moved out of the garbage collector's
    reach: it lives as long as the process, and every full collection would walk it again (tens of ms each). The
    young generation is collected less often (YOUNG_GENERATION_THRESHOLD); the older ones as by default."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)
    yield
