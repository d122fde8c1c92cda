"""A new customer on a phone, from signing up to a downloaded kit (issue 17, "Done when": "a phone-width journey from
sign-up to a downloaded kit"), through the gateway in a 360 px wide touch browser.

Every step goes the way a person on a phone goes: from the e-mail's link, and then through the folded main menu
(opened with a tap, no script) rather than typed addresses, and each page it passes must fit the screen: no
sideways scrolling of the page itself.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests.e2e.browser import browser_fixture, snap  # noqa: F401  (fixtures)
from tests.e2e.browser_stack import portal_fixture, site_fixture  # noqa: F401  (fixtures `portal`, `site`)
from tests.e2e.contracts_flows import Contracts, contract_body, contracts_db, flow, moscow, registration_db
from tests.e2e.flows import Portal, clock_moved, months_ahead
from tests.e2e.test_browser_journey import api, log_in, publish_release, register_with_pin, sign_up_and_verify
from tests.infra import ServiceProcess, TestStack, wait_for

__all__ = ["api", "contracts_db", "flow", "registration_db"]  # fixtures

SMALL_PHONE: ViewportSize = {"width": 360, "height": 740}


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(
        ignore_https_errors=True, viewport=SMALL_PHONE, locale="en-US", is_mobile=True, has_touch=True
    )
    context.set_default_timeout(10_000)
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def fits(page: Page, step: str) -> None:
    scroll, inner = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"{step}: the page is {scroll} px wide on a {inner} px screen"
    await snap(page, f"phone-{step}")


async def through_the_menu(page: Page, item: str) -> None:
    """Taps "Menu" (folded on a phone), then the item."""
    menu = page.get_by_role("navigation", name="Main")
    link = menu.get_by_role("link", name=item, exact=True)
    await expect(link).to_be_hidden()  # folded until asked for
    await menu.get_by_text("Menu", exact=True).tap()
    async with page.expect_navigation():
        await link.tap()


async def test_on_a_phone_a_new_customer_signs_up_registers_and_downloads_a_kit(
    site: str,
    phone: Page,
    api: Portal,
    flow: Contracts,
    services: dict[str, ServiceProcess],
    migrated: TestStack,
    mail_dir: Path,
) -> None:
    page = phone
    login, email = await sign_up_and_verify(page, site, mail_dir)
    await fits(page, "verified")
    await log_in(page, site, login)
    await fits(page, "home")

    operator = await api.operator()
    configuration = await api.configuration(operator)
    article = await api.product(operator, [configuration], edition="BASIC", pin_envelope=True)
    [issued] = await api.issue(operator, article, 1, with_pin=True)
    assert issued.pin is not None

    await through_the_menu(page, "Software")
    await fits(page, "software-empty")
    await register_with_pin(page, site, issued.number, issued.pin, email)
    await expect(page.get_by_role("row").filter(has_text=issued.number)).to_contain_text("Pending")
    await fits(page, "registered")

    async with clock_moved(migrated, timedelta(minutes=15, seconds=5)):
        partner = await flow.partner(await api.operator())
        today = datetime.now(UTC).date()
        body = contract_body(issued.number, (months_ahead(today, 0), months_ahead(today, 11)))
        posted = await flow.post_contract(partner, body)
        async with flow.clock_at(moscow(f"{posted.body['processing_on']}T00:01")):
            await flow.wait_state(partner, str(posted.body["id"]), "active")
            kits = await publish_release(api, services["updates"].url, await api.operator(), configuration)
            [(name, content)] = kits.items()

            await page.goto(f"{site}/")
            await through_the_menu(page, "Contracts")
            await expect(page.get_by_role("heading", name=f"Contract number {body['number']}")).to_be_visible()
            await fits(page, "contracts")

            async def listed() -> bool:
                await page.goto(f"{site}/")
                await through_the_menu(page, "Releases")
                return await page.get_by_role("link", name=configuration, exact=True).count() > 0

            await wait_for(listed, timeout=20, interval=0.5, what="updates to learn the registration")
            await fits(page, "releases")
            async with page.expect_navigation():
                await page.get_by_role("link", name=configuration, exact=True).tap()
            await fits(page, "releases-configuration")
            await page.get_by_role("link", name="3.0.50.1", exact=True).tap()
            await expect(page.get_by_text("You may download these kits.")).to_be_visible()
            await fits(page, "release")

            async with page.expect_download() as downloading:
                await page.get_by_role("link", name=f"Download {name}").tap()
            download = await downloading.value
            data = await asyncio.to_thread((await download.path()).read_bytes)
            assert download.suggested_filename == name
            assert hashlib.sha256(data).hexdigest() == hashlib.sha256(content).hexdigest()
