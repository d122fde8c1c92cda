"""DAT-1 against the real PostgreSQL and broker, with an updates app served in this process: rates files imported by
operators (corrections kept in history, the same file again changes nothing, a wrong file stores nothing) and read
by client programs of subscribers covered by ITS (refused with the offer otherwise), every calendar day, JSON or
CSV, with an ETag, streamed."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from devtools.demo.rates import business_days, generated_rates_csv
from devtools.demo.updates import load_demo_rates
from itsctl._http import Api
from itsctl.cli import app as itsctl_app
from services.updates import rates
from services.updates.rates_currencies import CURRENCIES
from services.updates.rates_query import MAX_CURRENCIES
from shared.bus import Bus
from shared.db import Pool
from shared.settings import BaseServiceSettings
from tests.infra import RunningApp, TestStack, wait_for
from tests.integration.test_updates_entitlement import World, this_month
from tests.integration.updates_fixtures import keys, kits_dir, pool, publisher, updates
from tests.tokens import TestKeys

__all__ = ["keys", "kits_dir", "pool", "publisher", "updates"]  # fixtures

PROBLEMS = "https://its-portal.dev/problems/"
TODAY = datetime.now(UTC).date()  # the vendor's (Moscow) date is this one or the next: the tests keep clear of both


class RatesWorld(World):
    def operator(self) -> dict[str, str]:
        now = datetime.now(UTC).timestamp()
        return {"Authorization": f"Bearer {self.keys.token(now=now, ttl=3600, scope='operator', role='operator')}"}

    async def import_file(self, body: bytes, content_type: str = "text/csv", **params: str) -> tuple[int, Any]:
        headers = {**self.operator(), "Content-Type": content_type}
        data = io.BytesIO(body)  # aiohttp warns of a large body given as bytes
        status, answer, _ = await self.call("POST", "/v1/rates/imports", headers, data=data, params=params)
        return status, answer

    async def rates(self, headers: dict[str, str], **params: str) -> tuple[int, Any, Any]:
        return await self.call("GET", "/v1/rates", headers, params=params)

    async def covered_owner(self) -> tuple[uuid.UUID, dict[str, str]]:
        """A subscriber whose PROF product is covered by a contract this month, and its owner's headers."""
        subscriber = uuid.uuid4()
        number = await self.product(subscriber, f"Cfg{uuid.uuid4().hex[:10]}")
        await self.contract([number], (this_month(-1), this_month(1)))
        owner = self.headers(subscriber)
        await self.until_status(owner, 200)
        return subscriber, owner

    async def until_status(self, headers: dict[str, str], status: int) -> Any:
        async def reached() -> Any:
            got, body, _ = await self.rates(headers, currencies="USD", since=TODAY.isoformat())
            return body if got == status else None

        return await wait_for(reached, timeout=10, interval=0.1, what=f"rates answer {status}")


@pytest.fixture
async def world(migrated: TestStack, keys: TestKeys, updates: RunningApp, publisher: Bus, pool: Pool) -> RatesWorld:
    return RatesWorld(migrated, keys, updates, publisher, pool)


def csv(*rows: str) -> bytes:
    return ("date,currency,nominal,value\n" + "\n".join(rows) + "\n").encode()


async def test_dat1_an_import_adds_then_corrects_with_history_and_the_same_file_again_changes_nothing(
    world: RatesWorld, pool: Pool
) -> None:
    first = csv("1995-03-01,SEK,1,4500.5000", "1995-03-02,SEK,1,4510.0000", "1995-03-02,NOK,1,7000.0000")
    status, report = await world.import_file(first, source="march.csv")
    assert status == 200, report
    assert {k: report[k] for k in ("days", "currencies", "rows_added", "rows_corrected", "rows_unchanged")} == {
        "days": 2,
        "currencies": 2,
        "rows_added": 3,
        "rows_corrected": 0,
        "rows_unchanged": 0,
    }

    status, again = await world.import_file(first)
    assert (status, again["rows_added"], again["rows_corrected"], again["rows_unchanged"]) == (200, 0, 0, 3)

    corrected = csv("1995-03-02,SEK,1,4511.00", "1995-03-01,SEK,1,4500.50")  # 4500.50 is 4500.5000: unchanged
    status, report = await world.import_file(corrected)
    assert (status, report["rows_added"], report["rows_corrected"], report["rows_unchanged"]) == (200, 0, 1, 1)
    async with pool.acquire() as conn:
        history = await conn.fetch(
            "SELECT old_value::text, new_value::text, i.source FROM exchange_rate_corrections c "
            "JOIN rate_imports i ON i.id = c.import_id WHERE currency = 'SEK' AND day = '1995-03-02'"
        )
        value = await conn.fetchval(
            "SELECT value::text FROM exchange_rates WHERE currency = 'SEK' AND day = '1995-03-02'"
        )
    assert [tuple(r) for r in history] == [("4510.0000", "4511.00", "upload")]
    assert value == "4511.00"


async def test_dat1_a_wrong_file_stores_nothing_of_it_and_names_the_line(world: RatesWorld, pool: Pool) -> None:
    future = (TODAY + timedelta(days=3)).isoformat()
    body = csv("1996-04-01,DKK,1,5000.0000", f"{future},DKK,1,5001.0000", "1996-04-02,DKK,1,1.0")
    status, problem = await world.import_file(body)
    assert status == 422 and problem["type"] == PROBLEMS + "rates-file-refused", problem
    assert [p["line"] for p in problem["problems"]] == [3]
    assert "in the future" in problem["problems"][0]["message"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM exchange_rates WHERE currency = 'DKK'") == 0

    status, problem = await world.import_file(b"<ValCurs", "application/xml")
    assert status == 422 and problem["problems"][0]["message"].startswith("not well-formed XML"), problem
    status, problem = await world.import_file(body, "application/json")
    assert status == 415, problem
    status, problem = await world.import_file(body, format="yaml")
    assert status == 422, problem  # the kernel's: format is xml or csv

    customer = world.headers(uuid.uuid4())
    status, problem, _ = await world.call(
        "POST", "/v1/rates/imports", {**customer, "Content-Type": "text/csv"}, data=csv("1996-04-01,USD,1,1")
    )
    assert status == 403, problem  # operators only


async def test_dat1_the_banks_daily_file_in_windows_1251(world: RatesWorld, pool: Pool) -> None:
    daily = (
        '<?xml version="1.0" encoding="windows-1251"?><ValCurs Date="04.03.2002" name="Foreign Currency Market">'
        '<Valute ID="R01010"><NumCode>036</NumCode><CharCode>AUD</CharCode><Nominal>1</Nominal>'
        "<Name>Австралийский доллар</Name><Value>30,9436</Value></Valute></ValCurs>"
    ).encode("cp1251")
    status, report = await world.import_file(daily, "application/xml")
    assert (status, report["rows_added"] + report["rows_unchanged"]) == (200, 1), report
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT value::text, c.name FROM exchange_rates JOIN currencies c ON "
            "c.char_code = currency WHERE currency = 'AUD' AND day = '2002-03-04'"
        )
    assert row is not None and tuple(row) == ("30.9436", "Австралийский доллар")


async def test_dat1_only_a_covered_subscribers_owner_or_user_with_the_right_receives_rates(world: RatesWorld) -> None:
    nobody = uuid.uuid4()
    status, problem, _ = await world.rates(world.headers(nobody), currencies="USD", since=TODAY.isoformat())
    assert status == 403 and problem["type"] == PROBLEMS + "no-registered-product", problem

    subscriber = uuid.uuid4()
    number = await world.product(subscriber, f"Cfg{uuid.uuid4().hex[:10]}")  # PROF bought in 2025: no free period now
    owner = world.headers(subscriber)
    problem = await world.until_status(owner, 402)
    assert problem["type"] == PROBLEMS + "its-contract-required", problem
    assert problem["offer"]["kind"] == "its-subscription"
    assert problem["offer"]["registration_numbers"] == [number]
    assert problem["offer"]["month"] in (this_month(0), this_month(1))

    await world.contract([number], (this_month(-1), this_month(1)))
    await world.until_status(owner, 200)
    without_right = world.headers(subscriber, role="user", rights=())
    status, problem, _ = await world.rates(without_right, currencies="USD", since=TODAY.isoformat())
    assert status == 403 and problem["type"] == PROBLEMS + "its-access-right-missing", problem
    status, _, _ = await world.rates(world.headers(subscriber, role="user"), currencies="USD", since=TODAY.isoformat())
    assert status == 200


async def test_dat1_every_day_of_the_period_json_and_csv_with_an_etag(world: RatesWorld) -> None:
    # Friday 1997-05-02 and Monday 1997-05-05: the weekend carries Friday's rate; PLN only from Monday.
    body = csv(
        "1997-05-01,CZK,100,4600.0", "1997-05-02,CZK,100,4650.0", "1997-05-05,CZK,100,4700.0", "1997-05-05,PLN,1,3900.0"
    )
    assert (await world.import_file(body))[0] == 200
    _, owner = await world.covered_owner()
    params = {"currencies": "CZK,PLN", "from": "1997-05-02", "to": "1997-05-05"}
    status, answer, headers = await world.call("GET", "/v1/rates", owner, params=params)
    assert status == 200, answer
    assert answer["currencies"]["CZK"]["name"] == CURRENCIES["CZK"].name
    assert answer["rates"] == [
        ["1997-05-02", "CZK", 100, "4650.0"],
        ["1997-05-03", "CZK", 100, "4650.0"],
        ["1997-05-04", "CZK", 100, "4650.0"],
        ["1997-05-05", "CZK", 100, "4700.0"],
        ["1997-05-05", "PLN", 1, "3900.0"],
    ]
    assert headers["Cache-Control"].startswith("private, max-age=")
    etag = headers["ETag"]
    assert etag.startswith('"')

    status, _, again = await world.call("GET", "/v1/rates", {**owner, "If-None-Match": etag}, params=params)
    assert (status, again["ETag"]) == (304, etag)

    status, text, csv_headers = await world.call("GET", "/v1/rates", {**owner, "Accept": "text/csv"}, params=params)
    assert status == 200 and csv_headers["Content-Type"].startswith("text/csv")
    assert text.decode().splitlines()[:3] == [
        "date,currency,nominal,value",
        "1997-05-02,CZK,100,4650.0",
        "1997-05-03,CZK,100,4650.0",
    ]
    assert csv_headers["ETag"] != etag  # another representation, another tag

    assert (await world.import_file(csv("1997-05-03,CZK,100,4660.0")))[0] == 200  # a Saturday rate appears

    async def changed() -> Any:  # every replica drops the answers it keeps when it hears of the import (on commit)
        status, answer, headers = await world.call("GET", "/v1/rates", {**owner, "If-None-Match": etag}, params=params)
        return answer if status == 200 and headers["ETag"] != etag else None

    answer = await wait_for(changed, timeout=5, what="the new rates answered")
    assert answer["rates"][1] == ["1997-05-03", "CZK", 100, "4660.0"]


async def test_dat1_a_whole_history_is_streamed(world: RatesWorld) -> None:
    last = date(2024, 12, 31)
    assert (await world.import_file(generated_rates_csv(("KZT",), last=last), source="kzt"))[0] == 200
    _, owner = await world.covered_owner()
    params = {"currencies": "KZT", "from": "1991-01-01", "to": last.isoformat()}
    async with world.app.http.get("/v1/rates", headers=owner, params=params) as response:
        assert response.status == 200
        assert response.headers.get("Transfer-Encoding") == "chunked"  # streamed, no Content-Length
        answer = await response.json()
    first_published = business_days(date(1993, 11, 15), last)[0]
    assert len(answer["rates"]) == (last - first_published).days + 1
    assert answer["rates"][0][0] == first_published.isoformat() and answer["rates"][-1][0] == last.isoformat()


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"currencies": "USD,XYZ", "from": "2001-01-01"}, "currencies"),
        ({"currencies": ",".join(list(CURRENCIES)[: MAX_CURRENCIES + 1]), "from": "2001-01-01"}, "currencies"),
        ({"from": "2001-01-01"}, "currencies"),
        ({"currencies": "USD", "from": "2002-01-01", "to": "2001-01-01"}, "from"),
        ({"currencies": "USD", "from": "1990-12-31"}, "from"),
        ({"currencies": "USD", "from": "2999-01-01"}, "from"),
        ({"currencies": "USD", "from": "01.01.2001"}, "from"),
        ({"currencies": "USD", "from": "2001-01-01", "to": "\u0661\u0669\u0669\u0661-01-01"}, "to"),
        ({"currencies": "USD", "since": "yesterday"}, "since"),
        ({"currencies": "USD", "from": "2001-01-01", "format": "xml"}, "format"),
        ({"currencies": "USD"}, "from"),
    ],
)
async def test_dat1_bad_parameters_are_a_400_naming_the_parameter(
    world: RatesWorld, params: dict[str, str], parameter: str
) -> None:
    _, owner = await world.covered_owner()
    status, problem, _ = await world.rates(owner, **params)
    assert status == 400 and problem["type"] == PROBLEMS + "invalid-rates-query", problem
    assert [e["field"] for e in problem["errors"]] == [parameter], problem


async def test_dat1_itsctl_imports_each_file_and_exits_1_on_a_refused_one(world: RatesWorld, tmp_path: Path) -> None:
    good, bad = tmp_path / "march.csv", tmp_path / "bad.xml"
    good.write_bytes(csv("1993-03-01,HUF,1,680.0000", "1993-03-02,HUF,1,684.0000"))
    bad.write_bytes(
        b'<ValCurs Date="40.01.2001"><Valute><CharCode>USD</CharCode><Nominal>1</Nominal>'
        b"<Value>1,0</Value></Valute></ValCurs>"
    )
    token = world.operator()["Authorization"].removeprefix("Bearer ")

    def itsctl(*args: str) -> Result:
        env = {"ITS_TOKEN": token, "ITS_UPDATES_URL": str(world.app.url)}
        return CliRunner().invoke(itsctl_app, list(args), env=env, catch_exceptions=False)

    result = await asyncio.to_thread(itsctl, "rates", "import", str(good))
    assert result.exit_code == 0, result.output
    assert "2 day(s) 1993-03-01..1993-03-02, 1 currency: 2 added, 0 corrected, 0 unchanged" in " ".join(
        result.output.split()
    )

    result = await asyncio.to_thread(itsctl, "rates", "import", str(bad), str(good))
    output = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert "bad.xml: refused, nothing stored: line 1: the date '40.01.2001' is not a date" in output
    assert "0 added, 0 corrected, 2 unchanged" in output  # the other file is imported all the same


async def test_dat1_the_demo_rates_import_within_seconds_and_again_change_nothing(world: RatesWorld) -> None:
    """`make run`'s data: 8 currencies on every business day since 1991, as devtools.demo.updates loads them."""
    token = world.operator()["Authorization"].removeprefix("Bearer ")
    api = Api(world.app.http, "updates", str(world.app.url), token)
    started = time.monotonic()
    report = await load_demo_rates(api, BaseServiceSettings())
    took = time.monotonic() - started
    assert report["currencies"] == 8 and report["first_day"] == "1991-01-01"
    assert report["rows_added"] + report["rows_corrected"] + report["rows_unchanged"] > 8 * 8_000
    assert took < 10, f"the demo rates took {took:.1f} s to import"
    again = await load_demo_rates(api, BaseServiceSettings())
    assert (again["rows_added"], again["rows_corrected"]) == (0, 0)


async def test_dat1_a_short_period_in_one_query_answers_as_the_cursor_does(
    world: RatesWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        await world.import_file(
            generated_rates_csv(("CNY", "CHF", "EUR"), first=date(1998, 12, 1), last=date(1999, 2, 10))
        )
    )[0] == 200
    _, owner = await world.covered_owner()
    params = {"currencies": "EUR,CNY,GBP,CHF", "from": "1998-12-20", "to": "1999-01-20"}  # EUR from 1999-01-01
    status, short, _ = await world.call("GET", "/v1/rates", owner, params=params)
    assert status == 200
    monkeypatch.setattr(rates, "SHORT_PERIOD_DAYS", 0)
    status, cursor, _ = await world.call("GET", "/v1/rates", owner, params=params)
    assert status == 200 and short == cursor
    assert [row[1] for row in short["rates"]].count("CNY") == 32
    assert short["rates"][0][:2] == ["1999-01-01", "EUR"]
