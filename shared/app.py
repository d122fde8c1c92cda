"""The service app factory and its capabilities, each a `setup_<name>(app)`.

A service's `app.py` reads as the list of what it has: database, bus, outbox,
consumers, deferred jobs, token verification, routes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta

import pydantic
from aio_pika.abc import AbstractIncomingMessage
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.asyncapi import add_asyncapi_route, service_asyncapi
from shared.auth import Caller, JwksKeySource, KeySource, TokenVerifier, bearer_token
from shared.bus import Bus, dlq_name
from shared.calendar import ProductionCalendar, load_calendar, reach
from shared.clock import local_date, make_clock
from shared.consumer import Consumer, Subscription
from shared.db import Outage, pool_context
from shared.events import Envelope
from shared.http import Api, document_response
from shared.jobs import Daily, JobHandler, JobWorker, sample_jobs
from shared.keys import (
    AUTHENTICATOR,
    BUS,
    CALENDAR,
    CLOCK,
    CONSUMER_QUEUES,
    DB_OUTAGE,
    FOLLOWED_STREAMS,
    METRICS,
    OUTBOX,
    POOL,
    READINESS,
    SAMPLERS,
    SUBSCRIPTIONS,
    VERIFIER,
)
from shared.logging import get_logger
from shared.metrics import Metrics
from shared.middlewares import kernel_middleware
from shared.openapi import add_openapi_route
from shared.outbox import Outbox, OutboxRelay, sample_pending
from shared.revocations import ACCESS_TOKEN_LIFETIME, REVOCATIONS, REVOKING_TYPES, revocation_of
from shared.settings import BaseServiceSettings, amqp_urls
from shared.tasks import background

log = get_logger(__name__)


BUS_CONNECT_TIMEOUT = 60.0
# A scrape waits this long at most for each figure read from the database.
SAMPLE_SECONDS = 2.0

# A production start needs the production calendar to know at least this far ahead.
CALENDAR_AHEAD = timedelta(days=366)


def create_app(settings: BaseServiceSettings, *, service: str, api: Api) -> web.Application:
    app = web.Application(
        client_max_size=settings.client_max_size,
        handler_args={"max_line_size": settings.max_request_line},
        middlewares=[kernel_middleware],
    )
    app[CLOCK] = make_clock(production=settings.is_production, var_dir=settings.var_dir)
    app[METRICS] = Metrics(service)
    app[READINESS] = []
    app[SAMPLERS] = {}
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    api.add_routes(app)
    add_openapi_route(app, api)
    # Built on first request, when the service's setup_outbox and setup_consumers have said what it sends and receives.
    add_asyncapi_route(app, lambda: service_asyncapi(app, service, amqp_urls(settings.amqp_url)))
    return app


def setup_calendar(app: web.Application, settings: BaseServiceSettings) -> None:
    """The production calendar (`ITS_CALENDAR`) as `app[CALENDAR]`, generated for the years this process can reach
    from today (later years when first asked about). One that cannot be read stops the start; so does, in
    production, one that does not cover the next 12 months (a file calendar that ran out, a year the package
    lacks: business days would fall on holidays): one clear log line, then exit 1. Elsewhere that is a warning
    (the test clock may be anywhere)."""
    app[CALENDAR] = _calendar_at_start(settings, local_date(app[CLOCK].now(), settings.vendor_zone))


def _calendar_at_start(settings: BaseServiceSettings, today: date) -> ProductionCalendar:
    try:
        calendar = load_calendar(settings.calendar, reach(today))
    except ValueError as exc:
        log.error("calendar.unusable", calendar=settings.calendar, error=str(exc))
        raise SystemExit(1) from None
    missing = calendar.missing_years(today, today + CALENDAR_AHEAD)
    if missing:
        covered = ", ".join(str(year) for year in sorted(calendar.years)) or "none"
        fields = {"calendar": settings.calendar, "missing_years": missing, "covered_years": covered}
        if settings.is_production:
            log.error("calendar.not_covering_next_12_months", **fields, hint="give ITS_CALENDAR a calendar that does")
            raise SystemExit(1)
        log.warning("calendar.not_covering_next_12_months", **fields)
    return calendar


def setup_db(app: web.Application, settings: BaseServiceSettings, schema: str) -> None:

    async def db(app: web.Application) -> AsyncIterator[None]:
        app[DB_OUTAGE] = outage = Outage()
        async for pool in pool_context(
            settings.database_url, schema, min_size=settings.db_pool_min, max_size=settings.db_pool_max, outage=outage
        ):
            app[POOL] = pool
            yield
        await outage.close()

    async def check() -> None:
        async with app[POOL].acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1", timeout=2)

    app.cleanup_ctx.append(db)
    app[READINESS].append(check)


def setup_bus(app: web.Application, settings: BaseServiceSettings, name: str) -> None:

    async def bus(app: web.Application) -> AsyncIterator[None]:
        bus = Bus(
            settings.amqp_url,
            name=name,
            prefetch=settings.amqp_prefetch,
            delivery_limit=settings.consumer_delivery_limit,
            streams=(REVOCATIONS,),
        )
        await _retry_until(bus.connect, BUS_CONNECT_TIMEOUT, "bus.connect")
        app[BUS] = bus
        yield
        await bus.close()

    async def check() -> None:
        if not app[BUS].is_connected:
            raise ConnectionError("broker not connected")

    app.cleanup_ctx.append(bus)
    app[READINESS].append(check)


def setup_outbox(app: web.Application, settings: BaseServiceSettings, *, producer: str, schema: str) -> None:
    app[OUTBOX] = Outbox(producer=producer, schema=schema, clock=app[CLOCK])

    async def relay(app: web.Application) -> AsyncIterator[None]:
        relay = OutboxRelay(
            app[POOL],
            app[BUS],
            schema=schema,
            database_url=settings.database_url,
            metrics=app[METRICS],
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
        )
        app[OUTBOX].attach_relay(relay)
        async with background(relay.run(), "outbox.relay", stop=relay.stop):
            yield
        await relay.close()

    app.cleanup_ctx.append(relay)
    app[SAMPLERS]["outbox"] = lambda: sample_pending(app[POOL], app[METRICS])


def setup_consumers(app: web.Application, settings: BaseServiceSettings, subscriptions: list[Subscription]) -> None:
    app[CONSUMER_QUEUES] = [subscription.queue for subscription in subscriptions]
    app[SUBSCRIPTIONS] = list(subscriptions)
    dlqs = [dlq_name(subscription.queue) for subscription in subscriptions]

    async def sample_parked() -> None:
        counts = await app[BUS].message_counts(dlqs)
        for subscription, dlq in zip(subscriptions, dlqs, strict=True):
            app[METRICS].parked.labels(subscription.queue).set(counts.get(dlq, 0))

    app[SAMPLERS]["dlq"] = sample_parked

    async def consumers(app: web.Application) -> AsyncIterator[None]:
        for subscription in subscriptions:
            consumer = Consumer(
                subscription,
                pool=app[POOL],
                bus=app[BUS],
                metrics=app[METRICS],
                retry_delays_ms=settings.consumer_retry_delays_ms,
            )
            await consumer.start()
        yield
        await app[BUS].stop_consuming()

    app.cleanup_ctx.append(consumers)


def setup_jobs(
    app: web.Application,
    settings: BaseServiceSettings,
    handlers: dict[str, JobHandler],
    *,
    daily: Sequence[Daily] = (),
    workers: int = 1,
) -> None:
    """Deferred job workers for `handlers`, and the `daily` jobs: each scheduled for today at start-up (a no-op
    when a replica or an earlier start did it) and run once a day from then on."""
    handlers = {**handlers, **{job.kind: job.handle for job in daily}}

    async def jobs(app: web.Application) -> AsyncIterator[None]:
        if daily:
            now = app[CLOCK].now()
            async with app[POOL].acquire() as conn:
                for job in daily:
                    await job.schedule(conn, now)
        worker = JobWorker(
            app[POOL], app[CLOCK], handlers, metrics=app[METRICS], poll_seconds=settings.jobs_poll_seconds
        )
        async with contextlib.AsyncExitStack() as stack:
            for n in range(workers):
                await stack.enter_async_context(background(worker.run(), f"jobs.worker.{n}", stop=worker.stop))
            yield

    app.cleanup_ctx.append(jobs)
    app[SAMPLERS]["jobs"] = lambda: sample_jobs(app[POOL], app[METRICS], app[CLOCK].now(), list(handlers))


def setup_auth(app: web.Application, settings: BaseServiceSettings, keys: KeySource | None = None) -> None:
    """Verify bearer tokens; `keys` defaults to identity's JWKS (identity passes its own keys)."""

    async def auth(app: web.Application) -> AsyncIterator[None]:
        source = keys or JwksKeySource(settings.jwks_url)
        verifier = TokenVerifier(source, issuer=settings.jwt_issuer, audience=settings.jwt_audience, clock=app[CLOCK])
        app[VERIFIER] = verifier

        async def authenticate(request: web.Request) -> Caller:
            return await verifier.verify(bearer_token(request))

        app[AUTHENTICATOR] = authenticate
        yield
        if isinstance(source, JwksKeySource):
            await source.close()

    app.cleanup_ctx.append(auth)


def setup_revocations(app: web.Application) -> None:
    """Refuse a token at once when identity takes its grant away (shared.revocations), not when it expires.

    Needs setup_bus and setup_auth. Every process follows identity's revoking events on their own stream
    (REVOCATIONS), replaying the last ACCESS_TOKEN_LIFETIME on start: older revocations concern only expired tokens.
    """
    app.setdefault(FOLLOWED_STREAMS, []).append(REVOCATIONS)

    async def revocations(app: web.Application) -> AsyncIterator[None]:
        view = app[VERIFIER].revocations

        async def on_event(message: AbstractIncomingMessage) -> None:
            if message.type in REVOKING_TYPES:
                try:
                    revocation = revocation_of(Envelope.model_validate_json(message.body))
                except pydantic.ValidationError as exc:
                    log.error("revocations.bad_event", message_id=message.message_id, error=str(exc))
                else:
                    if revocation is not None:
                        view.add(revocation)
            await message.ack()

        # The stream's offsets are the broker's wall-clock time, not the shared (test) clock.
        await app[BUS].follow(REVOCATIONS, datetime.now(UTC) - ACCESS_TOKEN_LIFETIME, on_event)
        yield

    app.cleanup_ctx.append(revocations)


async def _retry_until(connect: Callable[[], Awaitable[None]], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline, delay = loop.time() + timeout, 0.5
    while True:
        try:
            await connect()
            return
        except Exception as exc:
            if loop.time() > deadline:
                raise
            log.warning(f"{what}_failed", error=repr(exc), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _healthz(request: web.Request) -> web.Response:
    return document_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    failures: list[str] = []
    for check in request.app[READINESS]:
        try:
            await asyncio.wait_for(check(), 3)
        except Exception as exc:
            failures.append(f"{check.__qualname__.split('.')[0]}: {exc!r}")
    if failures:
        return document_response({"status": "unavailable", "failures": failures}, status=503)
    return document_response({"status": "ready"})


async def _metrics(request: web.Request) -> web.Response:
    """The service's metrics, the figures read from the database refreshed first (each bounded: a database that does
    not answer leaves them at their last value, counted in metrics_sample_failures_total, and the scrape answers)."""
    metrics = request.app[METRICS]

    async def refresh(name: str, sample: Callable[[], Awaitable[None]]) -> None:
        try:
            await asyncio.wait_for(sample(), SAMPLE_SECONDS)
        except Exception as exc:
            metrics.sample_failures.labels(name).inc()
            log.warning("metrics.sample_failed", sampler=name, error=repr(exc))

    await asyncio.gather(*(refresh(name, sample) for name, sample in request.app[SAMPLERS].items()))
    body = generate_latest(metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
