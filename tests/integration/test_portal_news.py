"""Issue 17 on the portal against real identity, registration, contracts and notifications apps: the notification
settings per configuration, offers that name the accompanying partner with its contacts, and the partner list."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.notifications.app import NotificationsSettings
from services.notifications.app import create_app as create_notifications
from services.portal.app import PortalSettings, create_app
from shared.clock import RELOAD_SECONDS, TestClock
from shared.keys import POOL
from tests.infra import RunningApp, TestStack, wait_for
from tests.integration.identity_fixtures import identity
from tests.integration.registration_fixtures import World
from tests.integration.test_identity_partners import operator_token, tin
from tests.integration.test_identity_subscribers import Person
from tests.integration.test_portal_pages import Browser, labelled, portal_schema
from tests.integration.test_portal_software import (
    BothKeys,
    card_form,
    contracts,
    keys,
    owner_known_to_registration,
    registration,
    world,
)
from tests.tokens import TestKeys

__all__ = ["contracts", "identity", "keys", "portal_schema", "registration", "world"]


@pytest.fixture(scope="module")
async def notifications(
    migrated: TestStack, keys: TestKeys, identity: RunningApp, smtp_sink: int
) -> AsyncIterator[RunningApp]:
    jwks = f"{identity.url}/.well-known/jwks.json"
    settings = NotificationsSettings(smtp_port=smtp_sink, smtp_timeout=5)
    async with RunningApp(create_notifications(settings, keys=BothKeys(keys, jwks))) as running:
        yield running


@pytest.fixture(scope="module")
async def news_portal(
    portal_schema: TestStack,
    identity: RunningApp,
    registration: RunningApp,
    contracts: RunningApp,
    notifications: RunningApp,
) -> AsyncIterator[RunningApp]:
    settings = PortalSettings(
        identity_url=identity.url,
        registration_url=registration.url,
        contracts_url=contracts.url,
        notifications_url=notifications.url,
        trusted_proxies=["127.0.0.1"],
    )
    async with RunningApp(create_app(settings)) as running:
        yield running


@pytest.fixture
async def browser(news_portal: RunningApp) -> AsyncIterator[Browser]:
    browser = Browser(news_portal.url)
    yield browser
    await browser.close()


async def registered_product(browser: Browser, owner: Person, world: World, configurations: int = 1) -> str:
    """A product of new configurations registered by the owner with its PIN (pending, REG-3); its number."""
    [issued] = await world.issue(await world.product("BASIC", configurations=configurations), with_pin=True)
    await browser.log_in(owner.account["login"], owner.account["password"])
    await browser.get("/software/register")  # the form, with its CSRF token
    page = await browser.post("/software/register", card_form(issued["registration_number"], issued["pin"]))
    assert page.status == 303, page.text[-2000:]
    return str(issued["registration_number"])


def checkboxes(page_html: str) -> dict[str, bool]:
    """Each checkbox of the page by its name: checked or not."""
    return {
        match.group(1): " checked" in match.group(0)
        for match in re.finditer(r'<input type="checkbox" id="[^"]+" name="([^"]+)"[^>]*>', page_html)
    }


# ---- the notification settings: release news per configuration ------------------------------------------------


async def test_the_settings_page_lists_the_subscribers_configurations_each_with_its_checkbox(
    browser: Browser, identity: RunningApp, world: World, notifications: RunningApp
) -> None:
    owner = await owner_known_to_registration(identity, world)
    await registered_product(browser, owner, world, configurations=2)
    page = await browser.get("/notifications")
    assert page.status == 200 and labelled(page)
    boxes = checkboxes(page.text)
    codes = sorted(name.removeprefix("news-") for name in boxes if name.startswith("news-"))
    assert len(codes) == 2, boxes
    assert all(boxes.values())  # never chose: every release news on
    for code in codes:
        assert f'<label for="f-news-{code}">Configuration {code}</label>' in page.text

    wanted, muted = codes
    page = await browser.post("/notifications", {"release_news": "on", f"news-{wanted}": "on"})
    assert page.status == 303 and page.location == "/notifications?saved=1"
    page = await browser.get(page.location)
    assert "The settings are saved." in page.text
    assert checkboxes(page.text) == {"release_news": True, f"news-{wanted}": True, f"news-{muted}": False}
    status, preferences = await owner_preferences(notifications, owner)
    assert (status, preferences) == (200, {"release_news": True, "muted_configurations": [muted]})

    # A configuration muted for another subscriber (not shown here) stays muted when this page is saved.
    await set_preferences(notifications, owner, {"release_news": True, "muted_configurations": [muted, "Elsewhere"]})
    page = await browser.post("/notifications", {f"news-{wanted}": "on", f"news-{muted}": "on"})
    assert page.status == 303
    assert await owner_preferences(notifications, owner) == (
        200,
        {"release_news": False, "muted_configurations": ["Elsewhere"]},
    )
    page = await browser.post("/notifications", {"release_news": "on"}, csrf="wrong")
    assert page.status == 403
    assert (await owner_preferences(notifications, owner))[1]["release_news"] is False

    await browser.get("/language?lang=ru&next=/notifications")
    page = await browser.get("/notifications")
    assert page.lang == "ru" and "Релизы ваших конфигураций" in page.text


async def owner_preferences(notifications: RunningApp, owner: Person) -> tuple[int, Any]:
    headers = {"Authorization": owner.auth["Authorization"]}
    async with notifications.http.get("/v1/preferences", headers=headers) as response:
        return response.status, await response.json()


async def set_preferences(notifications: RunningApp, owner: Person, body: dict[str, Any]) -> None:
    headers = {"Authorization": owner.auth["Authorization"]}
    async with notifications.http.put("/v1/preferences", json=body, headers=headers) as response:
        assert response.status == 200, await response.text()


# ---- offers name where to go -----------------------------------------------------------------------------------


async def new_partner(identity: RunningApp, stack: TestStack, name: str, city: str) -> dict[str, Any]:
    operator = await operator_token(identity, stack)
    email = f"office.{uuid.uuid4().hex[:8]}@partner.example"
    body = {"name": name, "tin": tin(), "city": city, "contact_email": email}
    async with identity.http.post("/v1/partners", headers={"Authorization": f"Bearer {operator}"}, json=body) as r:
        assert r.status == 201, await r.text()
        return dict(await r.json())


async def processed_contract(
    contracts: RunningApp, keys: TestKeys, world: World, partner: dict[str, Any], number: str
) -> None:
    """A contract the partner posts for the number, processed on the next business day (the shared clock moved
    there and back: the portal's tokens are used only before and after)."""
    headers = {
        "Authorization": "Bearer " + keys.token(role="partner", scope="partner", partner={"id": partner["id"]}),
        "Idempotency-Key": uuid.uuid4().hex,
    }
    await wait_for(
        lambda: contracts.app[POOL].fetchval(
            "SELECT 1 FROM numbers WHERE number = $1 AND subscriber_id IS NOT NULL", number
        ),
        what="contracts knowing the registered number",
    )
    month = datetime.now(UTC).strftime("%Y-%m")
    body = {
        "number": f"ITS-{uuid.uuid4().hex[:10]}",
        "organisation": {"name": "Romashka LLC", "tin": "7707083893", "kpp": "773601001"},
        "main_registration_number": number,
        "additional_registration_numbers": [],
        "period": {"from": month, "to": month},
        "kind": "ITS PROF",
    }
    async with contracts.http.post("/v1/contracts", json=body, headers=headers) as response:
        answer = await response.json()
        assert response.status == 202, answer
    clock = TestClock(world.stack.var_dir)
    saved = clock.offset()
    moscow = ZoneInfo("Europe/Moscow")
    day = datetime.fromisoformat(answer["processing_on"]).date()
    clock.set(datetime.combine(day, time(0, 0, 5), moscow))
    try:
        await wait_for(
            lambda: contracts.app[POOL].fetchval(
                "SELECT 1 FROM contracts WHERE id = $1 AND state = 'active'", uuid.UUID(answer["id"])
            ),
            timeout=20,
            what="the contract processed",
        )
    finally:
        clock.set_offset(saved)
        await asyncio.sleep(2 * RELOAD_SECONDS)


async def test_offers_name_the_accompanying_partner_with_its_contacts_or_link_the_partner_list(
    browser: Browser,
    identity: RunningApp,
    contracts: RunningApp,
    keys: TestKeys,
    world: World,
    migrated: TestStack,
) -> None:
    owner = await owner_known_to_registration(identity, world)
    number = await registered_product(browser, owner, world)

    # No contract yet: where to buy is the list of partners.
    for path in ("/software", "/contracts", "/help"):
        page = await browser.get(path)
        assert page.status == 200, path
        assert "turn to a partner of the vendor" in page.text and 'href="/partners"' in page.text, path

    name = f"Franchisee {uuid.uuid4().hex[:6]}"
    partner = await new_partner(identity, migrated, name, "Kazan")
    await processed_contract(contracts, keys, world, partner, number)
    for path in ("/software", "/contracts", "/help"):
        page = await browser.get(path)
        assert page.status == 200, path
        said = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page.text))
        assert f"Your partner, who accompanies your ITS contract: {name}, Kazan · {partner['contact_email']}" in said
        assert f'href="mailto:{partner["contact_email"]}"' in page.text and partner["id"] not in page.text

    await browser.get("/language?lang=ru&next=/contracts")
    page = await browser.get("/contracts")
    assert "Ваш партнёр, который сопровождает ваш договор ИТС:" in page.text


async def test_the_partner_list_shows_active_partners_page_by_page(
    browser: Browser, identity: RunningApp, world: World, migrated: TestStack
) -> None:
    owner = await owner_known_to_registration(identity, world)
    partner = await new_partner(identity, migrated, f"AAA Directory {uuid.uuid4().hex[:6]}", "Tver")
    page = await browser.get("/partners")
    assert page.status == 303 and page.location.startswith("/login")  # identity reads it to logged-in accounts
    await browser.log_in(owner.account["login"], owner.account["password"])
    seen = ""
    path: str | None = "/partners"
    while path is not None:
        page = await browser.get(path)
        assert page.status == 200 and "<script" not in page.text
        seen += page.text
        found = re.search(r'<a href="(/partners\?cursor=[^"]+)" rel="next">', page.text)
        path = found.group(1).replace("&amp;", "&") if found else None
    assert partner["name"] in seen and partner["contact_email"] in seen and "Tver" in seen
    assert partner["id"] not in seen and partner["tin"] not in seen
    page = await browser.get("/partners?cursor=not-ours")  # a cursor that is not ours: the first page
    assert page.status == 200
