"""The renewal of updates' signed update metadata: a deferred job on the shared clock, once an hour, signs again every
online role whose metadata would expire within its renewal window (tuf_roles.RENEW_BEFORE: timestamp 12 h before its
day is out, snapshot 3 days before its week, targets and the delegated roles 30 days before their 90). Clients refuse
expired metadata (a freeze attack looks just like a repository nobody signs any more), so a renewal is never late by
more than an hour however quiet publishing is; each run schedules the next hour's.

Every hour's run is one job row (its dedupe key names the hour), so replicas and restarts schedule it once. A run
that cannot sign (its keys missing) logs it and still schedules the next: the figure of seconds to expiry
(tuf_figures.py) and its alert say so before clients notice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from aiohttp import web

from services.updates import tuf_metadata
from services.updates.tuf_keys import OnlineKeys
from services.updates.tuf_roles import RENEWAL_INTERVAL
from shared import jobs
from shared.clock import Clock
from shared.db import Connection
from shared.keys import CLOCK, POOL
from shared.logging import get_logger

log = get_logger(__name__)

RENEW_JOB = "tuf-renew"


def renewal_job(keys: OnlineKeys, clock: Clock) -> jobs.JobHandler:
    async def renew(conn: Connection, job: jobs.Job) -> None:
        now = clock.now()  # not the job's run_at: a run late by hours renews for now, and schedules the next hour
        try:
            renewed = await tuf_metadata.renew_expiring(conn, keys, now)
        except tuf_metadata.SigningUnavailable as exc:
            log.error("tuf.renewal_unsigned", error=str(exc))
        else:
            if renewed:
                log.info("tuf.renewed", roles=renewed)
        await schedule_renewal(conn, now + RENEWAL_INTERVAL)

    return renew


async def schedule_renewal(conn: Connection, at: datetime) -> None:
    """The run of the hour `at` falls in, at the start of that hour (nothing when it is scheduled already)."""
    hour = at.replace(minute=0, second=0, microsecond=0)
    await jobs.schedule(conn, RENEW_JOB, {}, hour, dedupe_key=f"{RENEW_JOB}:{hour:%Y-%m-%dT%H}")


async def renewal_at_start(app: web.Application) -> AsyncIterator[None]:
    """This hour's run, scheduled when a process starts (a no-op when a replica or the last run did): what starts the
    hourly chain, and starts it again should it ever break."""
    async with app[POOL].acquire() as conn:
        await schedule_renewal(conn, app[CLOCK].now())
    yield
