"""A subscriber's journey in a real browser, through the gateway (issue 7, "Tests in a real browser"): sign up,
verify the e-mail address from the mail, invite a colleague who registers through the link (INV-2, INV-5), register
a product with its PIN (REG-2), see it pending and then active (REG-3), a partner's contract posted and processed on
the next business day (ITS-1, ITS-2) and then listed (ITS-3), and download a kit of a release published for its
configuration (UPD-1, UPD-4), checking the bytes. Also: the login form works with the keyboard alone, axe-core finds
no serious or critical violation, and sessions cannot be fixed, outlive a logout or be used without the CSRF token.

Every control is reached by its label or role, so a control without one fails the test.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from shared.db import Pool
from tests.drawn import form_code
from tests.e2e.browser import VIEWPORT, browser_fixture, page_fixture, snap  # noqa: F401  (fixtures)
from tests.e2e.browser_stack import portal_fixture, site_fixture  # noqa: F401  (fixtures `portal`, `site`)
from tests.e2e.conftest import read_mail
from tests.e2e.contracts_flows import Contracts, contract_body, contracts_db, flow, moscow, registration_db
from tests.e2e.flows import PASSWORD, PURCHASED, Portal, body_text, clock_moved, months_ahead
from tests.infra import ROOT, ServiceProcess, TestStack, wait_for

__all__ = ["contracts_db", "flow", "registration_db"]  # fixtures

AXE = ROOT / "var" / "node" / "node_modules" / "axe-core" / "axe.min.js"
AXE_INSTALL = "npm install --prefix var/node axe-core@4.14.1"


@pytest.fixture
async def api(services: dict[str, ServiceProcess], registration_db: Pool) -> AsyncIterator[Portal]:
    """The services' APIs, as an operator's tools would call them."""
    async with aiohttp.ClientSession() as http:
        yield Portal(http, services, registration_db)


async def publish_release(api: Portal, updates_url: str, operator: str, configuration: str) -> dict[str, bytes]:
    """A configuration release with one update package, uploaded and published through updates' operator API."""
    version = "3.0.50.1"
    kits = {f"{configuration}_3_0_50_1.cfu": hashlib.sha256(uuid.uuid4().bytes).digest() * 4000}
    draft = await api.call(
        "PUT",
        f"{updates_url}/v1/configurations/{configuration}/releases/{version}",
        operator,
        json={
            "release_date": "2026-11-20",
            "its_issue": "ITS 2026/11",
            "prerelease": False,
            "whats_new": "Faster closing of the month",
            "changes": "- closing of the month",
            "major_changes": [],
            "update_procedure": "Back up the infobase, then apply the package.",
            "min_platform": "8.3.24.1342",
            "updates_from": [],
            "kits": [
                {"name": name, "kind": "update", "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
                for name, content in kits.items()
            ],
        },
    )
    assert draft.status in (200, 201), draft.body
    release_id = str(draft.body["id"])
    for name, content in kits.items():
        uploaded = await api.call(
            "PUT",
            f"{updates_url}/v1/releases/{release_id}/kits/{name}/content",
            operator,
            data=content,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert uploaded.status in (200, 201), uploaded.body
    published = await api.call("POST", f"{updates_url}/v1/releases/{release_id}/publish", operator)
    assert published.status == 200, published.body
    return kits


async def publish_form(api: Portal, updates_url: str, operator: str, configuration: str) -> bytes:
    """A reporting form's version (DAT-2) with a long name and its file, uploaded and published through updates'
    operator API."""
    content = hashlib.sha256(uuid.uuid4().bytes).digest() * 1000
    code = form_code()
    draft = await api.call(
        "PUT",
        f"{updates_url}/v1/forms/{code}/versions/5.01",
        operator,
        json={
            "name": "Tax return for value added tax, with the book of purchases and the book of sales",
            "applies_from": "2027-01-01",
            "configurations": [configuration],
            "basis": {"number": "ED-7-3/1093@", "date": "2026-10-05"},
            "changes": "- New section **3.1** for tax agents",
            "file": {
                "name": f"VAT_{code}_5.01.zip",
                "size": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
            },
        },
    )
    assert draft.status in (200, 201), draft.body
    form_id = str(draft.body["id"])
    uploaded = await api.call(
        "PUT",
        f"{updates_url}/v1/form-versions/{form_id}/file",
        operator,
        data=content,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert uploaded.status in (200, 201), uploaded.body
    published = await api.call("POST", f"{updates_url}/v1/form-versions/{form_id}/publish", operator)
    assert published.status == 200, published.body
    return content


_LINK = re.compile(r"https?://[^\s<>\"']+")


def email_links(message: EmailMessage) -> list[str]:
    """Every link of the e-mail, once: in its text, its HTML's hrefs and its List-Unsubscribe header."""
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    hrefs = [html.unescape(href) for href in re.findall(r'href="([^"]+)"', str(html_part.get_content()))]
    header = [str(message["List-Unsubscribe"]).strip("<>")] if message["List-Unsubscribe"] else []
    found = [link.rstrip(".,;:)") for link in _LINK.findall(body_text(message))] + hrefs + header
    return list(dict.fromkeys(found))


async def open_every_link(page: Page, site: str, message: EmailMessage) -> list[str]:
    """Issue 17: each link of the e-mail starts with the public address (the gateway) and opens a page of the
    portal there (HTML, 200), not a service's JSON. The links, in the order opened."""
    links = email_links(message)
    assert links, message["Subject"]
    for link in links:
        assert link.startswith(f"{site}/"), (link, site)
        response = await page.goto(link)
        assert response is not None and response.status == 200, (link, response and response.status)
        assert response.headers["content-type"].startswith("text/html"), link
    return links


async def release_news_links_lead_to_the_portal(page: Page, site: str, mail_dir: Path, email: str) -> None:
    """The release e-mail's links: the release's page, the notification settings, and the unsubscribe page, which
    turns release news off in the reader's language; the settings page then shows them off."""
    messages = await wait_for(
        lambda: [m for m in read_mail(mail_dir, email) if m["List-Unsubscribe"]], timeout=30, what="the release e-mail"
    )
    links = await open_every_link(page, site, messages[0])
    [unsubscribe] = [link for link in links if "/unsubscribe?token=" in link]
    assert any("/releases/" in link for link in links) and f"{site}/notifications" in links
    await page.goto(unsubscribe)
    await expect(page.get_by_role("heading", name="Stop e-mails about new releases?")).to_be_visible()
    await snap(page, "unsubscribe")
    await page.get_by_role("button", name="Yes, stop these e-mails").click()
    await expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    await page.goto(f"{site}/notifications")
    await expect(page.get_by_label("Send me e-mails about new releases")).not_to_be_checked()
    await snap(page, "notification-settings")


async def password_reset_link_leads_to_the_portal(page: Page, site: str, mail_dir: Path, email: str) -> None:
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as http,
        http.post(f"{site}/api/identity/v1/password-resets", json={"email": email}) as response,
    ):
        assert response.status == 202, await response.text()
    [message] = await wait_for(
        lambda: [m for m in read_mail(mail_dir, email) if "/reset-password?token=" in body_text(m)],
        timeout=30,
        what="the password reset e-mail",
    )
    [link] = await open_every_link(page, site, message)
    assert "/reset-password?token=" in link
    await expect(page.get_by_label("New password", exact=True)).to_be_visible()


async def sign_up_and_verify(page: Page, site: str, mail_dir: Path) -> tuple[str, str]:
    login = f"jo{uuid.uuid4().hex[:8]}"
    email = f"{login}@example.com"
    await page.goto(f"{site}/signup")
    await snap(page, "signup")
    await page.get_by_label("Login", exact=True).fill(login)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_label("E-mail address", exact=True).fill(email)
    await page.get_by_label("Full name (optional)", exact=True).fill("Jonas Journey")
    await page.get_by_role("button", name="Create the account").click()
    await expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    await snap(page, "signup-done")

    [message] = await wait_for(lambda: read_mail(mail_dir, email), timeout=30, what="the verification e-mail")
    [link] = await open_every_link(page, site, message)  # the portal's page, through the gateway
    assert "/verify-email?token=" in link
    await expect(page.get_by_text(f"The address {email} is verified")).to_be_visible()
    await snap(page, "verify-email")
    return login, email


async def log_in(page: Page, site: str, login: str) -> None:
    await page.goto(f"{site}/login")
    await page.get_by_label("Login", exact=True).fill(login)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    # Logged in as this login (home greets by the full name; on a phone the menu with "Log out" is folded).
    await expect(page.locator("form[action='/logout'] button")).to_contain_text(f"({login})")


async def register_with_pin(page: Page, site: str, number: str, pin: str, email: str) -> None:
    await page.goto(f"{site}/software/register")
    fields = {
        "Registration number": number,
        "PIN": pin,
        "Company name": "Romashka LLC",
        "Type of activity": "Wholesale trade",
        "Postal code": "420111",
        "Address": "Kazan, Kremlyovskaya st. 1, office 5",
        "Head of the organisation": "Anna Romanova",
        "Person responsible for the software": "Boris Ivanov",
        "Phone": "+7 843 123-45-67",
        "E-mail": email,
        "Purchased from": "Franchisee One, Kazan",
        "Purchase date": PURCHASED.isoformat(),
        "Number of workplaces": "5",
    }
    for label, value in fields.items():
        await page.get_by_label(label, exact=True).fill(value)
    await snap(page, "software-register")
    await page.get_by_role("button", name="Register", exact=True).click()


async def invite_a_colleague(page: Page, site: str, browser: Browser, mail_dir: Path) -> str:
    """INV-2: the owner reads the text before sending; INV-5: the colleague registers through the link."""
    colleague = f"co{uuid.uuid4().hex[:8]}"
    email = f"{colleague}@example.com"
    await page.goto(f"{site}/users/invitations")
    await page.get_by_label("Full name", exact=True).fill("Nina Colleague")
    await page.get_by_label("E-mail", exact=True).fill(email)
    await page.get_by_label("Grant access to the ITS information system", exact=True).check()
    await page.get_by_role("button", name="Show the text to be sent").click()
    await expect(page.get_by_text("This is the text the invitation will send")).to_be_visible()
    await expect(page.locator("pre.invitation-text")).to_contain_text("Nina Colleague")
    await snap(page, "invitation-preview")
    await page.get_by_role("button", name="Send the invitation").click()
    await expect(page.get_by_text(f"The invitation to {email} is sent")).to_be_visible()
    await expect(page.get_by_role("row").filter(has_text=email)).to_contain_text("Pending")
    await snap(page, "invitations")

    [message] = await wait_for(lambda: read_mail(mail_dir, email), timeout=30, what="the invitation e-mail")
    context = await browser.new_context(ignore_https_errors=True, viewport=VIEWPORT, locale="en-US")
    try:
        theirs = await context.new_page()
        [link] = await open_every_link(theirs, site, message)
        assert "/invitation?token=" in link
        await expect(theirs.get_by_text("invites Nina Colleague")).to_be_visible()
        await snap(theirs, "invitation")
        await theirs.get_by_label("Login", exact=True).fill(colleague)
        await theirs.get_by_label("Password", exact=True).fill(PASSWORD)
        await theirs.get_by_label("I accept the user agreement", exact=True).check()
        await expect(theirs.get_by_label("E-mail address", exact=True)).to_have_value(email)
        await theirs.get_by_role("button", name="Register and accept").click()
        await expect(theirs.get_by_role("heading", name="Invitation accepted")).to_be_visible()
        await snap(theirs, "invitation-accepted")
        # SUB-7: acting for the inviting subscriber now, the colleague switches to the one registering made for
        # them (SUB-1) and back, with no password asked.
        await theirs.goto(f"{site}/subscriber")
        await expect(theirs.locator("dl.facts")).to_contain_text("user")
        await theirs.get_by_label("Subscriber", exact=True).select_option(index=0)
        await theirs.get_by_role("button", name="Switch").click()
        await expect(theirs.get_by_text("You are now acting for subscriber")).to_be_visible()
        await expect(theirs.locator("dl.facts")).to_contain_text("owner")
        await snap(theirs, "subscriber-switched")
        await theirs.get_by_label("Subscriber", exact=True).select_option(index=0)
        await theirs.get_by_role("button", name="Switch").click()
        await expect(theirs.locator("dl.facts")).to_contain_text("user")
    finally:
        await context.close()
    await page.goto(f"{site}/users")
    await expect(page.get_by_role("row").filter(has_text=colleague)).to_contain_text("User")
    await snap(page, "users")
    return colleague


async def test_a_subscriber_signs_up_invites_registers_and_downloads_a_kit_covered_by_a_contract(
    site: str,
    page: Page,
    browser: Browser,
    api: Portal,
    flow: Contracts,
    services: dict[str, ServiceProcess],
    migrated: TestStack,
    mail_dir: Path,
) -> None:
    login, email = await sign_up_and_verify(page, site, mail_dir)
    await log_in(page, site, login)
    await snap(page, "home")
    await invite_a_colleague(page, site, browser, mail_dir)

    operator = await api.operator()
    configuration = await api.configuration(operator)
    article = await api.product(operator, [configuration], edition="BASIC", pin_envelope=True)
    [issued] = await api.issue(operator, article, 1, with_pin=True)
    assert issued.pin is not None

    await register_with_pin(page, site, issued.number, issued.pin, email)
    await page.goto(f"{site}/software")
    row = page.get_by_role("row").filter(has_text=issued.number)
    await expect(row).to_contain_text("Pending: access begins at")
    await snap(page, "software-pending")

    async with clock_moved(migrated, timedelta(minutes=15, seconds=5)):
        await page.reload()
        await expect(row).to_contain_text("Active")
        await snap(page, "software")

        # A partner's system posts an ITS contract for the number (ITS-1); it waits for the next business day.
        partner = await flow.partner(await api.operator())  # the first token expired with the clock's move
        today = datetime.now(UTC).date()
        body = contract_body(issued.number, (months_ahead(today, 0), months_ahead(today, 11)))
        posted = await flow.post_contract(partner, body)
        assert posted.body["state"] == "processing"
        await page.goto(f"{site}/contracts")
        await expect(page.get_by_text(str(body["number"]))).to_have_count(0)  # ITS-2: not before it is processed

        async with flow.clock_at(moscow(f"{posted.body['processing_on']}T00:01")):
            await flow.wait_state(partner, str(posted.body["id"]), "active")
            await page.goto(f"{site}/contracts")
            contract = page.get_by_role("heading", name=f"Contract number {body['number']}")
            await expect(contract).to_be_visible()  # ITS-3
            await snap(page, "contracts")

            operator = await api.operator()
            kits = await publish_release(api, services["updates"].url, operator, configuration)
            [(name, content)] = kits.items()

            async def listed() -> bool:
                await page.goto(f"{site}/releases")
                return await page.get_by_role("link", name=configuration, exact=True).count() > 0

            await wait_for(listed, timeout=20, interval=0.5, what="updates to learn the registration")
            await snap(page, "releases")
            await page.get_by_role("link", name=configuration, exact=True).click()
            await snap(page, "releases-configuration")
            await page.get_by_role("link", name="3.0.50.1", exact=True).click()
            await expect(page.get_by_text("You may download these kits.")).to_be_visible()
            await snap(page, "release")

            async with page.expect_download() as downloading:
                await page.get_by_role("link", name=f"Download {name}").click()
            download = await downloading.value
            assert download.suggested_filename == name
            saved = await download.path()
            data = await asyncio.to_thread(saved.read_bytes)
            assert hashlib.sha256(data).hexdigest() == hashlib.sha256(content).hexdigest()

            await release_news_links_lead_to_the_portal(page, site, mail_dir, email)
    await password_reset_link_leads_to_the_portal(page, site, mail_dir, email)


async def test_the_login_form_works_with_the_keyboard_alone(site: str, page: Page, api: Portal) -> None:
    customer = await api.customer()
    await page.goto(f"{site}/login")
    login = page.get_by_label("Login", exact=True)
    for _ in range(40):  # past the skip link and the navigation
        await page.keyboard.press("Tab")
        if await login.evaluate("field => field === document.activeElement"):
            break
    await expect(login).to_be_focused()
    await page.keyboard.type(customer.login)
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Password", exact=True)).to_be_focused()
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_text(f"Hello, {customer.full_name}")).to_be_visible()


async def tab_to(page: Page, target: Locator, presses: int = 60) -> None:
    """Tab until `target` has the focus (it must be reachable by the keyboard)."""
    for _ in range(presses):
        await page.keyboard.press("Tab")
        if await target.evaluate("element => element === document.activeElement"):
            return
    await expect(target).to_be_focused()


async def test_the_main_flows_work_with_the_keyboard_alone(site: str, page: Page, api: Portal, mail_dir: Path) -> None:
    """From the skip link through the nav to the invitation form: focus, type, tick, preview, send."""
    owner = await api.customer(verified_through=mail_dir)
    await log_in(page, site, owner.login)
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()  # the first stop
    await tab_to(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Users"))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    await tab_to(page, page.get_by_role("link", name="Invitations", exact=True))
    await page.keyboard.press("Enter")
    await tab_to(page, page.get_by_label("Full name", exact=True))
    await page.keyboard.type("Kira Keyboard")
    await page.keyboard.press("Tab")
    email = f"kira{uuid.uuid4().hex[:8]}@example.com"
    await page.keyboard.type(email)
    await page.keyboard.press("Tab")
    access = page.get_by_label("Grant access to the ITS information system", exact=True)
    await expect(access).to_be_focused()
    await page.keyboard.press("Space")
    await expect(access).to_be_checked()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Show the text to be sent")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("pre.invitation-text")).to_contain_text("Kira Keyboard")
    await tab_to(page, page.get_by_role("button", name="Send the invitation"))
    await page.keyboard.press("Enter")
    await expect(page.get_by_text(f"The invitation to {email} is sent")).to_be_visible()


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    result: dict[str, Any] = await page.evaluate("async () => await axe.run(document)")
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]


PUBLIC_PAGES = ["/login", "/signup", "/forgot-password"]
ACCOUNT_PAGES = [
    "/",
    "/software",
    "/software/register",
    "/contracts",
    "/maintenance",
    "/releases",
    "/users",
    "/users/invitations",
    "/profile",
    "/subscriber",
]


@pytest.mark.parametrize("path", PUBLIC_PAGES + ACCOUNT_PAGES)
async def test_pages_have_no_serious_accessibility_violations(
    site: str, browser: Browser, api: Portal, path: str
) -> None:
    if not await asyncio.to_thread(AXE.is_file):
        pytest.fail(f"no axe-core at {AXE}: `make test` installs it (scripts/ensure-infra.sh: {AXE_INSTALL})")
    # The portal's CSP forbids inline scripts, and Playwright injects axe inline: bypass it for this check only.
    context = await browser.new_context(ignore_https_errors=True, viewport=VIEWPORT, locale="en-US", bypass_csp=True)
    try:
        page = await context.new_page()
        if path in ACCOUNT_PAGES:
            customer = await api.customer()
            await log_in(page, site, customer.login)
        await page.goto(f"{site}{path}")
        await page.add_script_tag(path=str(AXE))
        violations = await serious_violations(page)
        assert not violations, [(v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in violations]
    finally:
        await context.close()
