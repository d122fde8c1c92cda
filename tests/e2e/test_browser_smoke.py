"""A real browser through the gateway: Chromium opens https://127.0.0.1:<gateway>/ (deploy/nginx/gateway.conf with a
self-signed certificate) in front of the services and the portal as processes, and logs in."""

from __future__ import annotations

import uuid

import aiohttp
from playwright.async_api import Page, expect

from tests.e2e.browser import browser_fixture, page_fixture, snap  # noqa: F401  (fixtures `browser`, `page`)
from tests.e2e.browser_stack import portal_fixture, site_fixture  # noqa: F401  (fixtures `portal`, `site`)


async def create_account(site: str) -> tuple[str, str]:
    """An account made through identity's API (via the gateway): (login, password)."""
    login, password = f"br{uuid.uuid4().hex[:8]}", "browser passphrase 1"
    account = {"login": login, "password": password, "email": f"{login}@example.com", "full_name": "Bea Browser"}
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as http,
        http.post(f"{site}/api/identity/v1/accounts", json=account) as response,
    ):
        assert response.status == 201, await response.text()
    return login, password


async def test_the_browser_reaches_a_service_through_the_gateway(site: str, page: Page) -> None:
    response = await page.goto(f"{site}/api/identity/openapi.json")
    assert response is not None and response.status == 200
    assert response.headers["x-request-id"]
    assert "ITS Portal identity" in await page.content()


async def test_a_user_logs_in_through_the_gateway_and_lands_on_the_home_page(site: str, page: Page) -> None:
    login, password = await create_account(site)
    await page.goto(f"{site}/login")
    await expect(page.get_by_label("Login", exact=True)).to_be_visible()
    await expect(page.get_by_label("Password", exact=True)).to_be_visible()
    await snap(page, "login")

    await page.get_by_label("Login", exact=True).fill(login)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Log in").click()

    await expect(page.get_by_text("Hello, Bea Browser")).to_be_visible()  # greeted by name
    assert "/login" not in page.url
    # Behind TLS the session cookie is the __Host- one: Secure, HttpOnly, for this host only.
    cookies = {cookie["name"]: cookie for cookie in await page.context.cookies()}
    session = cookies["__Host-its_session"]
    assert session.get("secure") and session.get("httpOnly") and session.get("sameSite") == "Lax"
    await snap(page, "home")
