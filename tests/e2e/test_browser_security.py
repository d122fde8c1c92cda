"""The portal's session and form security in a real browser, through the gateway (issue 7, "Security"): a session
id planted before login is worth nothing after it (fixation), logging out ends the session for every copy of the
cookie, a form without its CSRF token or with another's is refused with 403 and changes nothing, and one
subscriber's owner reaches none of another subscriber's pages by changing ids in the address.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.e2e.browser import VIEWPORT, browser_fixture, page_fixture, snap  # noqa: F401  (fixtures)
from tests.e2e.browser_stack import portal_fixture, site_fixture  # noqa: F401  (fixtures `portal`, `site`)
from tests.e2e.contracts_flows import registration_db
from tests.e2e.flows import Portal
from tests.e2e.test_browser_journey import api, log_in

__all__ = ["api", "registration_db"]  # fixture

COOKIE = "__Host-its_session"


async def session_cookie(context: BrowserContext) -> str | None:
    return next((c["value"] for c in await context.cookies() if c["name"] == COOKIE), None)


async def with_cookie(browser: Browser, site: str, value: str) -> BrowserContext:
    """Another browser holding a copy of a session cookie (as a thief, or the one who planted it, would)."""
    context = await browser.new_context(ignore_https_errors=True, viewport=VIEWPORT, locale="en-US")
    await context.add_cookies([{"name": COOKIE, "value": value, "url": site, "secure": True, "httpOnly": True}])
    return context


async def sent_to_login(context: BrowserContext, site: str) -> bool:
    page = await context.new_page()
    await page.goto(f"{site}/software")
    return "/login" in page.url and await page.get_by_role("button", name="Log in").count() == 1


async def test_a_session_id_planted_before_login_is_worthless_after_it(
    site: str, page: Page, browser: Browser, api: Portal
) -> None:
    customer = await api.customer()
    await page.goto(f"{site}/login")
    planted = await session_cookie(page.context)
    assert planted is not None  # the login form's CSRF secret lives in a visitor's session
    await log_in(page, site, customer.login)
    logged_in = await session_cookie(page.context)
    assert logged_in is not None and logged_in != planted  # a new id at login
    other = await with_cookie(browser, site, planted)
    try:
        assert await sent_to_login(other, site)  # whoever knew the planted id gets nothing
    finally:
        await other.close()


async def test_logging_out_ends_the_session_for_every_copy_of_the_cookie(
    site: str, page: Page, browser: Browser, api: Portal
) -> None:
    customer = await api.customer()
    await log_in(page, site, customer.login)
    cookie = await session_cookie(page.context)
    assert cookie is not None
    copy = await with_cookie(browser, site, cookie)
    try:
        reader = await copy.new_page()
        await reader.goto(f"{site}/software")
        await expect(reader.get_by_role("heading", name="Software", exact=True)).to_be_visible()  # the copy works
        await page.get_by_role("button", name=f"Log out ({customer.login})").click()
        await expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in")).to_be_visible()
        assert await session_cookie(page.context) is None
        assert await sent_to_login(copy, site)  # the session is gone on the server, not only in one browser
    finally:
        await copy.close()


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(site: str, page: Page, api: Portal) -> None:
    customer = await api.customer()
    await log_in(page, site, customer.login)
    await page.goto(f"{site}/subscriber")
    before = await api.call("GET", f"{api.identity}/v1/subscriber", customer.token)
    form = page.locator("form[action='/subscriber/name']")
    await form.get_by_label("New name").fill("Renamed by a forged form")
    for forged in ("", "not-the-token"):
        # The page's own form, its token removed or replaced, as a forging site's copy of it would be.
        await form.locator("input[name=csrf_token]").evaluate("(field, value) => { field.value = value; }", forged)
        await form.get_by_role("button", name="Rename").click()
        await expect(page.get_by_text("did not come from this site")).to_be_visible()
        await snap(page, "csrf-refused")
        refused = await page.request.post(f"{site}/subscriber/name", form={"name": "x", "csrf_token": forged})
        assert refused.status == 403
        await page.goto(f"{site}/subscriber")
    after = await api.call("GET", f"{api.identity}/v1/subscriber", customer.token)
    assert after.body["name"] == before.body["name"] != "Renamed by a forged form"


async def test_an_owner_reaches_no_page_of_another_subscriber_by_changing_ids(
    site: str, page: Page, api: Portal, mail_dir: Path
) -> None:
    stranger = await api.customer("Sergey Stranger", verified_through=mail_dir)
    their_user = await api.invited_user(stranger, mail_dir)
    users = await api.call("GET", f"{api.identity}/v1/subscriber/users", stranger.token)
    [their_user_id] = [u["account_id"] for u in users.body["items"] if u["login"] == their_user.login]
    operator = await api.operator()
    their_configuration = await api.configuration(operator, "Stranger's Trade")

    customer = await api.customer()
    await log_in(page, site, customer.login)
    for path in (f"/users/{their_user_id}/exclude", f"/users/{uuid.uuid4()}/exclude", "/users/not-an-id/exclude"):
        response = await page.goto(f"{site}{path}")
        assert response is not None and response.status == 404, path
        await expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    # Posting to another subscriber's user changes nothing there.
    await page.goto(f"{site}/users")
    token = await page.locator("input[name=csrf_token]").first.input_value()
    excluded = await page.request.post(f"{site}/users/{their_user_id}/exclude", form={"csrf_token": token})
    assert excluded.status == 404
    still = await api.call("GET", f"{api.identity}/v1/subscriber/users", stranger.token)
    assert their_user.login in [u["login"] for u in still.body["items"]]
    # Another subscriber's configuration: its release pages are refused with the reason (UPD-3), not shown.
    response = await page.goto(f"{site}/releases/{their_configuration}")
    assert response is not None and response.status == 403
    await snap(page, "releases-refused")
