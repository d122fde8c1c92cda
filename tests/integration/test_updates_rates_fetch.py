"""DAT-1 without anyone asking: with ITS_RATES_URL set, an updates process schedules the day's fetch at start, its job
worker downloads the bank's daily file (here from a local aiohttp server, which fails the first try) and imports it,
trying again with back-off; the next day's run is scheduled. A file the bank got wrong stores nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from services.updates.app import UpdatesSettings, create_app
from services.updates.rates_fetch import FETCH_JOB, FetchFailed, day_url, fetch_job
from shared import jobs
from shared.clock import TestClock, local_date
from shared.db import Pool
from tests.infra import RunningApp, TestStack, free_port, wait_for
from tests.integration.updates_fixtures import keys, pool
from tests.tokens import TestKeys

__all__ = ["keys", "pool"]  # fixtures

ZONE = UpdatesSettings().vendor_zone


def daily_file(day: date, value: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="windows-1251"?><ValCurs Date="{day:%d.%m.%Y}" name="Foreign Currency Market">'
        '<Valute ID="R01775"><NumCode>756</NumCode><CharCode>CHF</CharCode><Nominal>1</Nominal>'
        f"<Name>Швейцарский франк</Name><Value>{value}</Value></Valute></ValCurs>"
    ).encode("cp1251")


class Bank:
    """The bank's site: `/daily?date_req=DD/MM/YYYY` answers that day's file; the first request of each day fails."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.value = "88,1234"

    async def daily(self, request: web.Request) -> web.Response:
        asked = request.query["date_req"]
        self.asked.append(asked)
        if self.asked.count(asked) == 1:
            return web.Response(status=503, text="try again later")
        day = datetime.strptime(asked, "%d/%m/%Y").date()
        return web.Response(body=daily_file(day, self.value), content_type="application/xml")


@pytest.fixture
async def bank() -> AsyncIterator[tuple[Bank, str]]:
    site = Bank()
    app = web.Application()
    app.router.add_get("/daily", site.daily)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield site, f"http://127.0.0.1:{port}/daily?date_req={{date}}"
    await runner.cleanup()


async def test_dat1_the_days_file_is_fetched_tried_again_and_imported_by_the_job_worker(
    migrated: TestStack, keys: TestKeys, pool: Pool, bank: tuple[Bank, str], tmp_path: Path
) -> None:
    site, url = bank
    # At noon, vendor's time: the day's run (FETCH_AT, 00:30) is due at start. By the wall clock, a run between
    # midnight and 00:30 in Moscow would wait for it (CI failed so at 00:06).
    clock = TestClock(tmp_path / "var")
    clock.set(datetime.combine(local_date(datetime.now(UTC), ZONE), time(12), tzinfo=ZONE))
    today = local_date(clock.now(), ZONE)
    settings = UpdatesSettings(kits_dir=tmp_path, var_dir=tmp_path / "var", rates_url=url, jobs_poll_seconds=0.2)
    async with RunningApp(create_app(settings, keys=keys)):

        async def imported() -> bool:
            async with pool.acquire() as conn:
                value = await conn.fetchval(
                    "SELECT value::text FROM exchange_rates WHERE currency = 'CHF' AND day = $1", today
                )
            # The bank's figure, not just a row: when the vendor's today is a business day, the demo rates imported
            # by another module's test (the same database) already hold one for it, which the bank's file corrects
            # (CI failed so at 00:42 in Moscow, on a Monday).
            return bool(value == "88.1234")

        assert await wait_for(imported, timeout=20, what="the bank's figure of the day imported")
    assert site.asked == [f"{today:%d/%m/%Y}"] * 2  # failed once, tried again (back-off), then imported
    async with pool.acquire() as conn:
        following = await conn.fetchrow(
            "SELECT payload, run_at, state FROM deferred_jobs WHERE dedupe_key = $1",
            f"{FETCH_JOB}:{today + timedelta(days=1)}",
        )
    assert following is not None and following["state"] == "pending"


async def test_dat1_a_wrong_file_from_the_bank_stores_nothing_and_the_next_day_is_still_scheduled(
    pool: Pool, bank: tuple[Bank, str]
) -> None:
    site, url = bank
    site.value = "-1"
    day = date(2003, 6, 10)
    site.asked.append(f"{day:%d/%m/%Y}")  # no failing first try for this day
    handler = fetch_job(url, 1024 * 1024, ZONE, _Now())
    job = jobs.Job(
        id=0, kind=FETCH_JOB, payload={"day": day.isoformat()}, run_at=datetime.now(UTC), attempts=0, max_attempts=10
    )
    async with pool.acquire() as conn, conn.transaction():
        await handler(conn, job)
        stored = await conn.fetchval("SELECT count(*) FROM rate_imports WHERE source = $1", day_url(url, day))
        following = await conn.fetchval(
            "SELECT count(*) FROM deferred_jobs WHERE dedupe_key = $1", f"{FETCH_JOB}:{day + timedelta(days=1)}"
        )
    assert (stored, following) == (0, 1)


async def test_dat1_the_last_attempt_logs_the_failure_and_schedules_the_next_day(pool: Pool) -> None:
    url = f"http://127.0.0.1:{free_port()}/daily?date_req={{date}}"  # nobody listens
    handler = fetch_job(url, 1024, ZONE, _Now())
    day = date(2003, 7, 1)
    job = jobs.Job(
        id=0, kind=FETCH_JOB, payload={"day": day.isoformat()}, run_at=datetime.now(UTC), attempts=0, max_attempts=2
    )
    async with pool.acquire() as conn:
        with pytest.raises(FetchFailed, match="ClientConnectorError"):
            async with conn.transaction():
                await handler(conn, job)  # not the last attempt: raised, so that the worker tries again
        async with conn.transaction():
            await handler(conn, jobs.Job(**{**job.__dict__, "attempts": 1}))  # the last: logged
            following = await conn.fetchval(
                "SELECT count(*) FROM deferred_jobs WHERE dedupe_key = $1", f"{FETCH_JOB}:{day + timedelta(days=1)}"
            )
    assert following == 1


class _Now:
    def now(self) -> datetime:
        return datetime.now(UTC)
