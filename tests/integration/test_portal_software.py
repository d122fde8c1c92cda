"""The Software, Contracts and Maintenance pages against real identity, registration and contracts apps."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from services.contracts.app import ContractsSettings
from services.contracts.app import create_app as create_contracts
from services.portal.app import PortalSettings, create_app
from services.registration.app import RegistrationSettings
from services.registration.app import create_app as create_registration
from shared.auth import JwksKeySource
from shared.bus import Bus
from shared.clock import TestClock
from shared.keys import POOL
from tests.infra import RunningApp, TestStack, wait_for
from tests.integration.identity_fixtures import identity
from tests.integration.registration_fixtures import World, card_of
from tests.integration.test_identity_subscribers import Person, person
from tests.integration.test_portal_pages import Browser, labelled, portal_schema
from tests.tokens import TestKeys

__all__ = ["identity", "portal_schema"]


class BothKeys:
    """The test's own key (for operator tokens) and identity's JWKS (for the users' tokens)."""

    def __init__(self, test: TestKeys, jwks_url: str) -> None:
        self.test, self.jwks = test, JwksKeySource(jwks_url)

    async def key(self, kid: str) -> Any:
        if kid == self.test.kid:
            return await self.test.key(kid)
        return await self.jwks.key(kid)


@pytest.fixture(scope="module")
def keys() -> TestKeys:
    return TestKeys()


@pytest.fixture(scope="module")
async def registration(migrated: TestStack, keys: TestKeys, identity: RunningApp) -> AsyncIterator[RunningApp]:
    jwks = f"{identity.url}/.well-known/jwks.json"
    app = create_registration(RegistrationSettings(jwks_url=jwks), keys=BothKeys(keys, jwks))
    async with RunningApp(app) as running:
        yield running


@pytest.fixture(scope="module")
async def contracts(migrated: TestStack, keys: TestKeys, identity: RunningApp) -> AsyncIterator[RunningApp]:
    jwks = f"{identity.url}/.well-known/jwks.json"
    app = create_contracts(ContractsSettings(jwks_url=jwks, jobs_poll_seconds=0.1), keys=BothKeys(keys, jwks))
    async with RunningApp(app) as running:
        yield running


@pytest.fixture(scope="module")
async def portal(
    portal_schema: TestStack, identity: RunningApp, registration: RunningApp, contracts: RunningApp
) -> AsyncIterator[RunningApp]:
    settings = PortalSettings(
        identity_url=identity.url,
        registration_url=registration.url,
        contracts_url=contracts.url,
        trusted_proxies=["127.0.0.1"],
    )
    async with RunningApp(create_app(settings)) as running:
        yield running


@pytest.fixture(scope="module")
def world(migrated: TestStack, keys: TestKeys, registration: RunningApp) -> World:
    # Only the catalogue and the operator's API are used: no bus is needed.
    return World(migrated, keys, registration, cast(Bus, None), registration.app[POOL])


@pytest.fixture
async def browser(portal: RunningApp) -> AsyncIterator[Browser]:
    browser = Browser(portal.url)
    yield browser
    await browser.close()


async def owner_known_to_registration(identity: RunningApp, world: World) -> Person:
    """A verified owner with a subscriber, once registration has learnt the subscriber from identity's events."""
    owner = await person(identity)
    status, subscriber = await owner.call("GET", "/v1/subscriber")
    assert status == 200, subscriber
    await world.wait_for_row("SELECT 1 FROM subscribers WHERE id = $1", uuid.UUID(subscriber["id"]))
    return owner


def card_form(number: str, pin: str) -> dict[str, str]:
    return {"registration_number": number, "pin": pin, **{k: str(v) for k, v in card_of().items()}}


async def test_pin_registration_through_the_portal(browser: Browser, identity: RunningApp, world: World) -> None:
    owner = await owner_known_to_registration(identity, world)
    article = await world.product("BASIC")
    [issued] = await world.issue(article, with_pin=True)
    page = await browser.get("/software/register")
    assert page.status == 303 and page.location == "/login?next=%2Fsoftware%2Fregister"  # the form after login
    await browser.log_in(owner.account["login"], owner.account["password"])

    page = await browser.get("/software")
    assert page.status == 200 and "No products are registered" in page.text
    page = await browser.get("/software/register")
    assert page.status == 200 and labelled(page)

    page = await browser.post(
        "/software/register",
        card_form(issued["registration_number"], "".join(str((int(c) + 1) % 10) for c in issued["pin"])),
    )
    wrong = page.error_of("pin")
    assert page.status == 422 and wrong is not None and "Tries left this hour: 4" in wrong, page.text[-3000:]

    page = await browser.post("/software/register", card_form(issued["registration_number"], issued["pin"]), csrf="")
    assert page.status == 403

    page = await browser.post("/software/register", card_form(issued["registration_number"], issued["pin"]))
    assert page.status == 303 and page.location.startswith("/software?registered=")
    page = await browser.get(page.location)
    assert page.status == 200
    assert f"Product {issued['registration_number']} is registered. Access begins at" in page.text
    assert "Pending: access begins at" in page.text and "(Moscow time)" in page.text
    assert "You, with the PIN" in page.text

    page = await browser.post("/software/register", card_form(issued["registration_number"], issued["pin"]))
    assert page.status == 409 and "already registered to your subscriber" in (page.error_of("pin") or "")

    page = await browser.get("/software/configurations")
    assert page.status == 200 and "Pending: access begins at" in page.text

    # Home greets by name and lists the subscriber's products; a service it cannot reach (updates is not running
    # here) leaves only its own part out, said in words.
    page = await browser.get("/")
    greeting = owner.account.get("full_name") or owner.account["login"]
    assert page.status == 200 and f"Hello, {html.escape(greeting)}" in page.text
    assert "Your products" in page.text and issued["registration_number"] in page.text
    assert "cannot be shown just now: the support of your configurations" in page.text

    # ITS-7: once contracts has learnt the product from registration's events, its coverage is shown.
    number = issued["registration_number"]

    async def coverage_shown() -> bool:
        page = await browser.get("/contracts")
        return page.status == 200 and number in page.text and "No ITS contract needed" in page.text

    await wait_for(coverage_shown, timeout=20, what="the coverage of the registered product")

    # Another subscriber sees nothing of it.
    other = await owner_known_to_registration(identity, world)
    stranger = Browser(browser.url)
    try:
        await stranger.log_in(other.account["login"], other.account["password"])
        for path in ("/software", "/contracts", "/software/configurations"):
            page = await stranger.get(path)
            assert page.status == 200 and number not in page.text
    finally:
        await stranger.close()


async def test_too_many_wrong_pins_say_when_to_try_again(browser: Browser, identity: RunningApp, world: World) -> None:
    owner = await owner_known_to_registration(identity, world)
    [issued] = await world.issue(await world.product("BASIC"), with_pin=True)
    wrong_pin = "".join(str((int(c) + 1) % 10) for c in issued["pin"])
    await browser.log_in(owner.account["login"], owner.account["password"])
    await browser.get("/software/register")
    for _ in range(5):
        page = await browser.post("/software/register", card_form(issued["registration_number"], wrong_pin))
        assert page.status == 422
    assert "Tries left this hour: 0" in (page.error_of("pin") or "")
    page = await browser.post("/software/register", card_form(issued["registration_number"], issued["pin"]))
    error = page.error_of("pin") or ""
    assert page.status == 429 and error.startswith("Too many wrong PINs") and "(Moscow time)" in error, error


async def test_the_time_to_try_again_is_in_the_vendors_zone_in_both_languages(
    identity: RunningApp, registration: RunningApp, contracts: RunningApp, portal_schema: TestStack, world: World
) -> None:
    """REG-7's "try later" is a time like every other one the portal shows: in the vendor's zone (the
    ITS_VENDOR_TIMEZONE the services have; here not Moscow), named, in English and Russian."""
    zone = ZoneInfo("Asia/Vladivostok")
    settings = PortalSettings(
        identity_url=identity.url,
        registration_url=registration.url,
        contracts_url=contracts.url,
        trusted_proxies=["127.0.0.1"],
        vendor_timezone=zone.key,
    )
    owner = await owner_known_to_registration(identity, world)
    [issued] = await world.issue(await world.product("BASIC"), with_pin=True)
    wrong_pin = "".join(str((int(c) + 1) % 10) for c in issued["pin"])
    async with RunningApp(create_app(settings)) as vladivostok:
        browser = Browser(vladivostok.url)
        try:
            await browser.log_in(owner.account["login"], owner.account["password"])
            await browser.get("/software/register")
            for _ in range(5):
                page = await browser.post("/software/register", card_form(issued["registration_number"], wrong_pin))
                assert page.status == 422
            now = TestClock(world.stack.var_dir).now().astimezone(zone)
            page = await browser.post("/software/register", card_form(issued["registration_number"], issued["pin"]))
            error = page.error_of("pin") or ""
            assert page.status == 429 and error.startswith("Too many wrong PINs"), error
            found = re.search(r"after (\d{1,2} [A-Z][a-z]+ \d{4}, \d{2}:\d{2}) \(Asia/Vladivostok time\)", error)
            assert found is not None, error
            shown = datetime.strptime(found.group(1), "%d %B %Y, %H:%M").replace(tzinfo=zone)
            assert timedelta(minutes=58) <= shown - now <= timedelta(minutes=61), (shown, now)

            await browser.get("/language?lang=ru&next=/software/register")
            page = await browser.post("/software/register", card_form(issued["registration_number"], issued["pin"]))
            error = page.error_of("pin") or ""
            russian = f"{shown:%d.%m.%Y, %H:%M} (по времени Asia/Vladivostok)"  # issue 17: Russian formats
            assert page.status == 429 and russian in error, error
        finally:
            await browser.close()


async def test_configurations_show_offers(browser: Browser, identity: RunningApp, world: World) -> None:
    owner = await owner_known_to_registration(identity, world)
    article = await world.product("BASIC")
    await browser.log_in(owner.account["login"], owner.account["password"])
    page = await browser.get("/software/configurations")
    assert page.status == 200
    assert "Not registered" in page.text and article in page.text
    assert "buy and register one of these products" in page.text


async def test_card_errors_are_shown_next_to_their_fields(browser: Browser, identity: RunningApp, world: World) -> None:
    owner = await owner_known_to_registration(identity, world)
    await browser.log_in(owner.account["login"], owner.account["password"])
    await browser.get("/software/register")
    form = card_form("12345", "1")
    form["postal_code"] = "12"
    page = await browser.post("/software/register", form)
    assert page.status == 422
    assert page.error_of("postal_code") == "A postal code is six digits."
    assert page.error_of("registration_number") is not None
    assert page.error_of("company_name") is None and 'value="Romashka LLC"' in page.text

    await browser.get("/language?lang=ru&next=/software/register")
    page = await browser.get("/software/register")
    assert page.lang == "ru" and labelled(page)
    page = await browser.post("/software/register", form)
    assert page.status == 422 and page.error_of("postal_code") == "Почтовый индекс — шесть цифр."


async def test_contracts_page_for_a_new_subscriber(browser: Browser, identity: RunningApp, world: World) -> None:
    owner = await owner_known_to_registration(identity, world)
    await browser.log_in(owner.account["login"], owner.account["password"])
    page = await browser.get("/contracts")
    assert page.status == 200 and labelled(page)
    assert "No ITS contracts are listed for your subscriber." in page.text
    page = await browser.post("/contracts/why", {"number": "ITS-0001-NOPE"})
    assert page.status == 200, page.text[-2000:]
    assert 'id="why-answer"' in page.text and "ITS-0001-NOPE" in page.text
    page = await browser.post("/contracts/why", {"number": "!!"})
    assert page.status == 422 and page.error_of("number") is not None
    page = await browser.post("/contracts/why", {"number": "ITS-1"}, csrf="wrong")
    assert page.status == 403
    # Another subscriber's (or no) contract: the same answer, nothing reported.
    page = await browser.post(f"/contracts/{uuid.uuid4()}/report", {"message": "the TIN is wrong"})
    assert page.status == 404 and page.form_error == "No such contract among yours."
    page = await browser.post("/contracts/not-an-id/report", {"message": "the TIN is wrong"})
    assert page.status == 404 and page.form_error == "No such contract among yours."


async def test_maintenance_page_lists_and_refuses_a_bad_code(
    browser: Browser, identity: RunningApp, world: World
) -> None:
    owner = await owner_known_to_registration(identity, world)
    await browser.log_in(owner.account["login"], owner.account["password"])
    page = await browser.get("/maintenance")
    assert page.status == 200 and labelled(page) and "No maintenance services are activated." in page.text
    form = {"code": "AAAA-BBBB-CCCC-DDDD", "registration_number": "1234567890", "period_from": "2026-01"}
    page = await browser.post("/maintenance/activate", form)
    assert page.status == 422
    assert page.error_of("code") == "The activation code is unknown: check it as printed on the activation sheet."


async def test_the_maintenance_form_offers_the_subscribers_own_products_configurations_and_partners(
    browser: Browser, identity: RunningApp, world: World
) -> None:
    owner = await owner_known_to_registration(identity, world)
    mine, theirs = await world.product("BASIC"), await world.product("BASIC")
    [issued] = await world.issue(mine, with_pin=True)
    [other] = await world.issue(theirs, with_pin=True)
    await browser.log_in(owner.account["login"], owner.account["password"])
    await browser.get("/software/register")
    page = await browser.post("/software/register", card_form(issued["registration_number"], issued["pin"]))
    assert page.status == 303, page.text

    page = await browser.get("/maintenance")
    assert page.status == 200 and labelled(page)
    number_select = re.search(r'<select id="f-registration_number".*?</select>', page.text, re.S)
    configuration_select = re.search(r'<select id="f-configuration".*?</select>', page.text, re.S)
    partner_select = re.search(r'<select id="f-partner_id".*?</select>', page.text, re.S)
    assert number_select and configuration_select and partner_select, page.text[-3000:]
    assert issued["registration_number"] in number_select.group(0)
    assert other["registration_number"] not in page.text
    assert "Configuration Conf" in configuration_select.group(0)
    assert configuration_select.group(0).count("<option") == 2  # "the one of the code's category" and its own
    assert partner_select.group(0).count("<option") == 1  # no ITS contract: no partner to choose

    # A refusal keeps what was chosen and typed.
    form = {
        "code": "AAAA-BBBB-CCCC-DDDD",
        "registration_number": issued["registration_number"],
        "period_from": "2031-01",
    }
    refused = await browser.post("/maintenance/activate", form)
    assert refused.status == 422 and 'value="AAAA-BBBB-CCCC-DDDD"' in refused.text
    assert f'<option value="{issued["registration_number"]}" selected>' in refused.text
