"""What the kernel keeps on an application: one place for its keys (a service's own are in its `keys.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from rules.refusal import Refused
from shared.auth import TokenVerifier
from shared.bus import Bus, Stream
from shared.calendar import ProductionCalendar
from shared.clock import Clock
from shared.consumer import Subscription
from shared.db import Outage, Pool
from shared.metrics import Metrics
from shared.outbox import Outbox
from shared.problems import Problem

# Set by the service: turns the request's bearer token into a Caller.
Authenticate = Callable[[web.Request], Awaitable[Any]]
# Set by a service whose handlers let the rules' `Refused` through: its answer (shared.middlewares).
RefusalAnswer = Callable[[Refused], Problem]

CLOCK: web.AppKey[Clock] = web.AppKey("clock")
# Set by setup_calendar: the production calendar (business days, business hours).
CALENDAR = web.AppKey("calendar", ProductionCalendar)
METRICS = web.AppKey("metrics", Metrics)
READINESS = web.AppKey("readiness", list[Callable[[], Awaitable[None]]])
# What /metrics reads from the database before it answers (shared.app._metrics): name -> refresh its gauges.
SAMPLERS = web.AppKey("samplers", dict[str, Callable[[], Awaitable[None]]])
POOL = web.AppKey("pool", Pool)
# Set by setup_db: the database outage this process may be living through.
DB_OUTAGE = web.AppKey("db_outage", Outage)
BUS = web.AppKey("bus", Bus)
OUTBOX = web.AppKey("outbox", Outbox)
# The queues this process consumes (shared.app.setup_consumers): `itsctl dlq` lists the same.
CONSUMER_QUEUES = web.AppKey("consumer_queues", list[str])
# The same subscriptions with the event types each queue handles: /asyncapi.json documents them (shared.asyncapi).
SUBSCRIPTIONS = web.AppKey("subscriptions", list[Subscription])
# The retained streams this process follows (shared.app.setup_revocations), for /asyncapi.json too.
FOLLOWED_STREAMS = web.AppKey("followed_streams", list[Stream])
VERIFIER = web.AppKey("verifier", TokenVerifier)
AUTHENTICATOR: web.AppKey[Authenticate] = web.AppKey("authenticator")
REFUSALS: web.AppKey[RefusalAnswer] = web.AppKey("refusals")
