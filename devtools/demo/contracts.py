"""The demo customer's product covered by an ITS contract that "Demo Partner" accompanies (`make run`); idempotent,
refused in production.

python -m devtools.demo.contracts

The demo partner's admin (devtools.demo.identity) logs in for the partner cabinet and posts, through contracts' API
as a partner does, a contract on the demo customer's Accounting PROF (devtools.demo.registration). A contract is
processed at 00:00 of the first business day after the day it was received (ITS-2); so that the demo has it active
today rather than tomorrow, it is posted with the local stack's shared clock set back to the day before the latest
business day, and the clock is put back at once: its processing job, due by now, then runs as it would have. From
then on support routes the demo customer's questions to Demo Partner (SUP-1).
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp

from devtools.demo.identity import DEMO_ACCOUNTS, DEMO_PARTNER, DEMO_PARTNER_ADMIN, random_tin
from devtools.demo.registration import CUSTOMER, DEMO_ARTICLE
from devtools.demo.waiting import NotLearnt, wait_for_row
from itsctl._http import CALL_ERRORS, REQUEST_TIMEOUT, Api, ServiceError, error_message, log_in, service_url
from rules.months import Month
from services.contracts.public import database
from shared.calendar import ProductionCalendar, load_calendar, reach
from shared.clock import TestClock, local_date, movable_clock
from shared.settings import BaseServiceSettings

DEMO_CONTRACT = "ITS-DEMO-0001"
PARTNER_PASSWORD = next(a[1] for a in DEMO_ACCOUNTS if a[0] == DEMO_PARTNER_ADMIN)
ACTIVE_WAIT_SECONDS = 60.0
CLOCK_SEEN = 0.6  # every process of the stack reads the clock file within 0.25 s


@dataclass(frozen=True)
class DemoProduct:
    registration_number: str
    subscriber_code: str
    configuration: str


async def demo_product(http: aiohttp.ClientSession) -> DemoProduct:
    """The demo customer's Accounting PROF and subscriber code, as the customer sees them."""
    assert CUSTOMER.login is not None and CUSTOMER.password is not None
    token = await log_in(http, service_url("identity"), CUSTOMER.login, CUSTOMER.password)
    _, registrations = await Api(http, "registration", service_url("registration"), token).call(
        "GET", "/v1/registrations"
    )
    _, subscriber = await Api(http, "identity", service_url("identity"), token).call("GET", "/v1/subscriber")
    found = next(r for r in registrations["items"] if r["product"]["article"] == DEMO_ARTICLE)
    return DemoProduct(found["registration_number"], subscriber["code"], found["product"]["configurations"][0])


async def partner_token(http: aiohttp.ClientSession) -> str:
    """The demo partner's admin, logged in for the partner cabinet (a partner token, 15 minutes)."""
    token = await log_in(http, service_url("identity"), DEMO_PARTNER_ADMIN, PARTNER_PASSWORD)
    _, mine = await Api(http, "identity", service_url("identity"), token).call("GET", "/v1/me/partners")
    partner = next(p for p in mine["items"] if p["name"] == DEMO_PARTNER)
    form = {"grant_type": "password", "username": DEMO_PARTNER_ADMIN, "password": PARTNER_PASSWORD}
    url = f"{service_url('identity')}/oauth/token"
    async with http.post(url, data={**form, "partner": partner["id"]}) as response:
        body = await response.json()
        if response.status != 200:
            raise ServiceError("identity", "POST", url, response.status, body)
    return str(body["access_token"])


async def find_contract(http: aiohttp.ClientSession) -> dict[str, Any] | None:
    partner = Api(http, "contracts", service_url("contracts"), await partner_token(http))
    _, page = await partner.call("GET", "/v1/partner/contracts?" + urlencode({"q": DEMO_CONTRACT}))
    return next((c for c in page["items"] if c["number"] == DEMO_CONTRACT), None)


def received_on(calendar: ProductionCalendar, today: date) -> date:
    """The day before the latest business day up to today: a contract received then is processed by now (ITS-2)."""
    day = today
    while not calendar.is_business_day(day):
        day -= timedelta(days=1)
    return day - timedelta(days=1)


async def post_contract(http: aiohttp.ClientSession, product: DemoProduct, today: date) -> None:
    body = {
        "number": DEMO_CONTRACT,
        "subscriber_code": product.subscriber_code,
        "organisation": {"name": "Demo Customer LLC", "tin": random_tin(), "kpp": "773601001"},
        "main_registration_number": product.registration_number,
        "period": {"from": str(Month.of(today)), "to": str(Month.of(today).plus(11))},
        "kind": "ITS PROF",
    }
    url = f"{service_url('contracts')}/v1/contracts"
    headers = {"Authorization": f"Bearer {await partner_token(http)}", "Idempotency-Key": f"demo-{DEMO_CONTRACT}"}
    async with http.post(url, json=body, headers=headers) as response:
        if response.status != 202:
            raise ServiceError("contracts", "POST", url, response.status, await response.json())


async def post_yesterday(http: aiohttp.ClientSession, clock: TestClock, product: DemoProduct, zone: ZoneInfo) -> None:
    """Posted on the shared clock set back to the day it must be received on; the clock is put back whatever
    happens."""
    settings = BaseServiceSettings()
    now = clock.now()
    today = local_date(now, zone)
    calendar = load_calendar(settings.calendar, reach(today))
    received = datetime.combine(received_on(calendar, today), clock_time(12), tzinfo=zone)
    saved = clock.offset()
    clock.set_offset(saved + (received - now))
    try:
        await asyncio.sleep(CLOCK_SEEN)
        await post_contract(http, product, today)
    finally:
        clock.set_offset(saved)
    await asyncio.sleep(CLOCK_SEEN)


async def wait_until_active(http: aiohttp.ClientSession) -> None:
    deadline = time.monotonic() + ACTIVE_WAIT_SECONDS
    while (contract := await find_contract(http)) is None or contract["state"] != "active":
        if time.monotonic() > deadline:
            raise NotLearnt(f"contract {DEMO_CONTRACT} is not active after {ACTIVE_WAIT_SECONDS:.0f} s")
        await asyncio.sleep(0.5)


async def ensure_demo_contract(settings: BaseServiceSettings) -> bool:
    """The demo contract, active; True if it was posted now."""
    clock = movable_clock(production=settings.is_production, var_dir=settings.var_dir)
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as http:
        posted = False
        if await find_contract(http) is None:
            product = await demo_product(http)
            # contracts refuses a number it has not learnt from registration's events yet.
            _, schema = database()
            await wait_for_row(
                settings,
                f"SELECT 1 FROM {schema}.numbers WHERE number = $1",  # noqa: S608 - a constant
                product.registration_number,
                what=f"contracts learning the number {product.registration_number}",
            )
            await post_yesterday(http, clock, product, settings.vendor_zone)
            posted = True
        await wait_until_active(http)
    return posted


def main() -> None:
    settings = BaseServiceSettings()
    if settings.is_production:
        sys.exit("demo data is not loaded in production")
    try:
        posted = asyncio.run(ensure_demo_contract(settings))
    except NotLearnt as exc:
        sys.exit(f"demo contract not made: {exc}")
    except CALL_ERRORS as exc:
        sys.exit(f"demo contract not made: {error_message(exc)}")
    if posted:
        print(f"demo: ITS contract {DEMO_CONTRACT} on the demo customer's Accounting PROF, with {DEMO_PARTNER}")


if __name__ == "__main__":
    main()
