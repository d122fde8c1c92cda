"""Access in a real browser, through the gateway and the portal as processes: a right the owner withdraws shows on
the user's next page, the portal having refreshed the session's token when updates refused the stale one (SUB-5);
and a browser's failed logins are counted against its own address, which the gateway and the portal pass on to
identity, not against 127.0.0.1 (ASVS 2.2.1: trusted proxies, shared.forwarded)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, expect

from services.identity.app import SCHEMA as IDENTITY_SCHEMA
from shared.db import Pool, close_pool, create_pool
from tests.e2e.browser import VIEWPORT, browser_fixture, page_fixture, snap  # noqa: F401  (fixtures)
from tests.e2e.browser_stack import portal_fixture, site_fixture  # noqa: F401  (fixtures `portal`, `site`)
from tests.e2e.contracts_flows import contracts_db, flow, registration_db
from tests.e2e.relay import relay
from tests.e2e.test_browser_journey import log_in
from tests.e2e.test_updates_flow import Updates, owner_with, updates
from tests.infra import TestStack, wait_for

__all__ = ["contracts_db", "flow", "registration_db", "updates"]  # fixtures

BROWSER_ADDRESS = "127.0.0.2"  # a loopback address of the browser's own (tests/e2e/relay.py)


@pytest.fixture(scope="module")
async def identity_db(migrated: TestStack) -> AsyncIterator[Pool]:
    """identity's login attempts, to see which address a failure was counted against."""
    pool = await create_pool(migrated.database_url, IDENTITY_SCHEMA, min_size=1, max_size=2)
    yield pool
    await close_pool(pool)


async def test_a_withdrawn_right_shows_on_the_users_next_page(
    site: str, page: Page, updates: Updates, mail_dir: Path
) -> None:
    portal = updates.flow.portal
    operator = await portal.operator()
    owner, configuration, _ = await owner_with(updates, operator, edition="BASIC", verified_through=mail_dir)
    await updates.release(operator, configuration, "3.0.40.10", [])
    user = await portal.invited_user(owner, mail_dir, its_access=True)
    await updates.visible(user, configuration)

    await log_in(page, site, user.login)
    await page.goto(f"{site}/subscriber")
    await page.get_by_label("Subscriber", exact=True).select_option(owner.code)
    await page.get_by_role("button", name="Switch").click()
    await expect(page.get_by_text(f"You are now acting for subscriber {owner.code}")).to_be_visible()
    release = f"{site}/releases/{configuration}/3.0.40.10"
    await page.goto(release)
    await expect(page.get_by_text("You may download these kits.")).to_be_visible()

    users = await portal.call("GET", f"{portal.identity}/v1/subscriber/users", owner.token)
    [user_id] = [u["account_id"] for u in users.body["items"] if u["login"] == user.login]
    rights = f"{portal.identity}/v1/subscriber/users/{user_id}/rights"
    for its_access, shown in ((False, "You cannot download these kits."), (True, "You may download these kits.")):
        changed = await portal.call("PUT", rights, owner.token, json={"its_access": its_access})
        assert changed.status == 204

        async def seen(text: str = shown) -> bool:
            await page.goto(release)
            return await page.get_by_text(text).count() == 1

        await wait_for(seen, timeout=10, interval=0.2, what=f"the release page to say {shown!r}")
        assert page.url == release  # the same session, its token refreshed: no login page
        if not its_access:
            reason = "You do not have the right of access to the ITS information system."
            await expect(page.get_by_text(reason)).to_be_visible()
            await snap(page, "release-right-withdrawn")


async def test_a_browsers_failed_logins_count_against_its_own_address(
    site: str, browser: Browser, identity_db: Pool
) -> None:
    gateway = urlsplit(site)
    assert gateway.hostname is not None and gateway.port is not None
    async with relay(gateway.hostname, gateway.port, source=BROWSER_ADDRESS) as port:
        context = await browser.new_context(ignore_https_errors=True, viewport=VIEWPORT, locale="en-US")
        try:
            page = await context.new_page()
            login = f"nobody{uuid.uuid4().hex[:8]}"
            await page.goto(f"https://127.0.0.1:{port}/login")
            await page.get_by_label("Login", exact=True).fill(login)
            await page.get_by_label("Password", exact=True).fill("not the password 1")
            await page.get_by_role("button", name="Log in").click()
            await expect(page.get_by_text("The login or password is wrong.")).to_be_visible()
        finally:
            await context.close()
    addresses = await identity_db.fetch("SELECT client_addr FROM login_attempts WHERE login = $1", login)
    assert [row["client_addr"] for row in addresses] == [BROWSER_ADDRESS]
