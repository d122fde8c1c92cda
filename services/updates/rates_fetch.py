"""DAT-1 without anyone asking: a deferred job on the shared clock fetches the bank's daily file every day from
ITS_RATES_URL (`{date}` in it becomes the day as DD/MM/YYYY, the bank's `XML_daily.asp?date_req=`) and imports it,
in the job's transaction: the rates and the job's completion commit together.

One run a day at FETCH_AT (vendor's time: the bank sets a day's rates the afternoon before, so the file of the day
is there by then); each run's dedupe key names its day, so replicas and restarts schedule it once. A download that
fails (no answer, a status other than 200) raises, and the job is tried again with the workers' back-off (2 s, 4 s …
15 min); the last attempt logs the failure instead, so that the next day's run is still scheduled. A file the bank
got wrong is refused as an operator's would be (nothing stored), logged, and not fetched again that day.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from services.updates import rates
from services.updates.rates_formats import RatesFileRefused, parse_rates
from shared import jobs
from shared.clock import Clock, local_date
from shared.db import Connection
from shared.keys import CLOCK, POOL
from shared.logging import get_logger

log = get_logger(__name__)

FETCH_JOB = "rates-fetch"
FETCH_AT = time(0, 30)
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)


class FetchFailed(Exception):
    """The bank's file could not be had this time (tried again later)."""


def day_url(url: str, day: date) -> str:
    return url.replace("{date}", day.strftime("%d/%m/%Y"))


async def download(url: str, max_bytes: int) -> bytes:
    try:
        async with aiohttp.ClientSession(timeout=FETCH_TIMEOUT) as http, http.get(url) as response:
            if response.status != 200:
                raise FetchFailed(f"{url} answered {response.status}")
            body = await response.content.read(max_bytes + 1)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise FetchFailed(f"{url}: {type(exc).__name__}: {exc}") from exc
    if len(body) > max_bytes:
        raise FetchFailed(f"{url} sent more than {max_bytes} bytes")
    return body


def fetch_job(url: str, max_bytes: int, zone: ZoneInfo, clock: Clock) -> jobs.JobHandler:
    async def fetch(conn: Connection, job: jobs.Job) -> None:
        day = date.fromisoformat(job.payload["day"])
        source = day_url(url, day)
        try:
            body = await download(source, max_bytes)
        except FetchFailed as exc:
            if job.attempts + 1 < job.max_attempts:
                raise  # tried again with back-off
            log.error("rates.fetch_failed", day=str(day), error=str(exc), attempts=job.attempts + 1)
        else:
            now = clock.now()
            try:
                parsed = parse_rates(body, "xml", today=local_date(now, zone))
            except RatesFileRefused as refused:
                log.error("rates.fetch_refused", day=str(day), problems=[str(p) for p in refused.problems])
            else:
                report = await rates.store_rates(conn, parsed, body, "xml", source=source, now=now)
                log.info("rates.fetched", day=str(day), added=report.rows_added, corrected=report.rows_corrected)
        await schedule_fetch(conn, day + timedelta(days=1), zone)

    return fetch


async def schedule_fetch(conn: Connection, day: date, zone: ZoneInfo) -> None:
    """The run of `day` at FETCH_AT, vendor's time (nothing when it is scheduled already)."""
    at = datetime.combine(day, FETCH_AT, tzinfo=zone)
    await jobs.schedule(conn, FETCH_JOB, {"day": day.isoformat()}, at, dedupe_key=f"{FETCH_JOB}:{day.isoformat()}")


def fetch_at_start(zone: ZoneInfo) -> Callable[[web.Application], AsyncIterator[None]]:
    """Today's run, scheduled when a process starts (a no-op when a replica or yesterday's run did): what starts the
    daily chain, and starts it again should it ever break."""

    async def start(app: web.Application) -> AsyncIterator[None]:
        async with app[POOL].acquire() as conn:
            await schedule_fetch(conn, local_date(app[CLOCK].now(), zone), zone)
        yield

    return start
