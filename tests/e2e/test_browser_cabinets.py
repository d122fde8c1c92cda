"""The partner and operator cabinets in a real browser, through the gateway (issue 7): a partner's staff member
opens the cabinet with the password again and posts an ITS contract from it (ITS-1), told when it is processed
(ITS-2), and a contract typed after the cabinet's 15 minutes is kept across the password (issue 17); an operator
drafts a release and uploads its kit with the page's progress script (the upload is an XMLHttpRequest), and the kit
at updates has the file's sha256. axe-core finds no serious violation on the cabinets' pages.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from playwright.async_api import Browser, Page, Request, expect

from services.portal.app import SCHEMA as PORTAL_SCHEMA
from services.portal.sessions import SECURE_COOKIE, _id_hash, _seal, _unb64, _unseal
from shared.db import close_pool, create_pool
from tests.e2e.browser import VIEWPORT, browser_fixture, page_fixture, snap  # noqa: F401  (fixtures)
from tests.e2e.browser_stack import portal_fixture, site_fixture  # noqa: F401  (fixtures `portal`, `site`)
from tests.e2e.conftest import read_mail
from tests.e2e.contracts_flows import Contracts, contracts_db, flow, registration_db
from tests.e2e.flows import PASSWORD, Customer, Partner, Portal, body_text, months_ahead
from tests.e2e.test_browser_journey import AXE, AXE_INSTALL, api, log_in, serious_violations
from tests.infra import ServiceProcess, TestStack, wait_for

__all__ = ["api", "contracts_db", "flow", "registration_db"]  # fixtures


async def partner_staff(api: Portal, operator: str, partner: Partner, mail_dir: Path) -> Customer:
    """A person on the partner's staff (an admin), invited by an operator and accepted from the e-mail's link."""
    staff = await api.customer("Pavel Partner")
    invited = await api.call(
        "POST",
        f"{api.identity}/v1/partners/{partner.id}/invitations",
        operator,
        json={"full_name": "Pavel Partner", "email": staff.email, "admin": True},
    )
    assert invited.status == 201, invited.body
    # The e-mail links to the portal's invitation page, which calls identity's API with the token: so does this test.
    pattern = re.compile(r"https?://\S+/invitation\?token=([A-Za-z0-9_-]+)")

    def invitation_link() -> list[str]:
        return [token for m in read_mail(mail_dir, staff.email) for token in pattern.findall(body_text(m))]

    [token] = await wait_for(invitation_link, timeout=30, what="the staff invitation")
    link = f"{api.identity}/v1/invitations/{token}"
    accepted = await api.call("POST", f"{link}/accept", staff.token)
    assert accepted.status == 200, accepted.body
    return staff


async def open_cabinet(page: Page, site: str, partner: Partner) -> str:
    """Through the nav, the list of cabinets and the password page: the cabinet's URL."""
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Partner cabinet").click()
    await page.get_by_role("link", name=partner.name).click()
    await expect(page.get_by_text(f"Confirm your password to open the cabinet of {partner.name}")).to_be_visible()
    await snap(page, "partner-login")
    await page.get_by_label("Your password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Open the cabinet").click()
    await expect(page.get_by_role("button", name="Close the cabinet")).to_be_visible()
    return page.url.split("?")[0]


async def test_a_partners_staff_member_posts_a_contract_from_the_cabinet(
    site: str, page: Page, api: Portal, flow: Contracts, mail_dir: Path
) -> None:
    operator = await api.operator()
    partner = await flow.partner(operator)
    staff = await partner_staff(api, operator, partner, mail_dir)
    configuration = await api.configuration(operator)
    article = await api.product(operator, [configuration], edition="PROF", pin_envelope=False)
    [issued] = await api.issue(operator, article, 1, with_pin=False)

    await log_in(page, site, staff.login)
    cabinet = await open_cabinet(page, site, partner)
    await snap(page, "partner-contracts")
    await page.get_by_role("navigation", name="Partner cabinet").get_by_role("link", name="Post a contract").click()
    today = datetime.now(UTC).date()
    number = f"ITS-{uuid.uuid4().hex[:8]}"
    fields = {
        "Contract number": number,
        "Organisation name": "Romashka LLC",
        "TIN": "7707083893",
        "KPP": "773601001",
        "Registration number of the main product": issued.number,
        "First month": months_ahead(today, 0),
        "Last month": months_ahead(today, 11),
        "Kind of contract": "ITS PROF",
    }
    for label, value in fields.items():
        await page.get_by_label(label, exact=True).fill(value)
    await snap(page, "partner-contract-new")

    async def posted() -> bool:
        # contracts learns the new number from registration's events: until then the form says so.
        await page.get_by_role("button", name="Post the contract").click()
        await page.wait_for_load_state()
        return await page.get_by_text(f"Contract {number} is received").count() == 1

    await wait_for(posted, timeout=20, interval=0.5, what="the contract to be received")
    assert page.url.startswith(cabinet)
    row = page.get_by_role("row").filter(has_text=number)
    await expect(row).to_contain_text("In processing until")  # ITS-2: the next business day
    await snap(page, "partner-contract-received")
    [contract] = [c for c in (await flow.partner_contracts(partner)).values() if c["number"] == number]
    assert contract["state"] == "processing" and contract["main_registration_number"] == issued.number


async def expire_cabinet(page: Page, migrated: TestStack, partner: Partner) -> None:
    """The session's cabinet token replaced by one that expired a minute ago, as 15 minutes after the password (the
    portal reads its expiry only; the browser's session cookie names the row)."""
    [cookie] = [c for c in await page.context.cookies() if c.get("name") == SECURE_COOKIE]
    raw = _unb64(cookie.get("value", ""))
    assert raw is not None
    claims = {"sub": str(uuid.uuid4()), "scope": "partner", "partner": {"id": partner.id, "admin": True}}
    expired = jwt.encode({**claims, "exp": int(time.time()) - 60}, "a key no service knows, for no service", "HS256")
    pool = await create_pool(migrated.database_url, PORTAL_SCHEMA, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            sealed = await conn.fetchval("SELECT tokens FROM sessions WHERE id_hash = $1", _id_hash(raw))
            tokens = replace(_unseal(raw, _id_hash(raw), sealed), partner=expired)
            await conn.execute(
                "UPDATE sessions SET tokens = $2 WHERE id_hash = $1", _id_hash(raw), _seal(raw, _id_hash(raw), tokens)
            )
    finally:
        await close_pool(pool)


async def test_expired_re_authentication_keeps_a_typed_contract(
    site: str, page: Page, api: Portal, flow: Contracts, mail_dir: Path, migrated: TestStack
) -> None:
    """Issue 17: the contract typed after the cabinet's 15 minutes are over is not lost: the password page, then
    the form again with what was typed and a notice that nothing was saved yet; it is posted when the person
    presses the button again, and only then."""
    operator = await api.operator()
    partner = await flow.partner(operator)
    staff = await partner_staff(api, operator, partner, mail_dir)
    article = await api.product(operator, [await api.configuration(operator)], edition="PROF", pin_envelope=False)
    [issued] = await api.issue(operator, article, 1, with_pin=False)

    await log_in(page, site, staff.login)
    await open_cabinet(page, site, partner)
    await page.get_by_role("navigation", name="Partner cabinet").get_by_role("link", name="Post a contract").click()
    today = datetime.now(UTC).date()
    number = f"ITS-{uuid.uuid4().hex[:8]}"
    fields = {
        "Contract number": number,
        "Organisation name": "Romashka LLC",
        "TIN": "7707083893",
        "KPP": "773601001",
        "Registration number of the main product": issued.number,
        "First month": months_ahead(today, 0),
        "Last month": months_ahead(today, 11),
        "Kind of contract": "ITS PROF",
    }
    for label, value in fields.items():
        await page.get_by_label(label, exact=True).fill(value)
    await expire_cabinet(page, migrated, partner)

    await page.get_by_role("button", name="Post the contract").click()
    await expect(page.get_by_text(f"Confirm your password to open the cabinet of {partner.name}")).to_be_visible()
    await page.get_by_label("Your password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Open the cabinet").click()

    notice = "The cabinet asked for your password again; nothing was saved yet — check and send again."
    await expect(page.get_by_role("status").filter(has_text=notice)).to_be_visible()
    for label, value in fields.items():
        await expect(page.get_by_label(label, exact=True)).to_have_value(value)
    await snap(page, "partner-contract-kept")
    assert [c for c in (await flow.partner_contracts(partner)).values() if c["number"] == number] == []

    async def posted() -> bool:
        await page.get_by_role("button", name="Post the contract").click()
        await page.wait_for_load_state()
        return await page.get_by_text(f"Contract {number} is received").count() == 1

    await wait_for(posted, timeout=20, interval=0.5, what="the contract to be received")
    [contract] = [c for c in (await flow.partner_contracts(partner)).values() if c["number"] == number]
    assert contract["state"] == "processing"


async def test_an_operator_drafts_a_release_and_its_kit_is_uploaded_with_progress(
    site: str, page: Page, api: Portal, services: dict[str, ServiceProcess]
) -> None:
    login, token = await api.operator_account()
    configuration = await api.configuration(token)
    await log_in(page, site, login)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Operator cabinet").click()
    await page.get_by_role("navigation", name="Operator cabinet").get_by_role("link", name="Releases").click()
    await page.get_by_role("link", name="New configuration release").click()  # the form is a page of its own
    content = hashlib.sha256(uuid.uuid4().bytes).digest() * (3 * 1024 * 1024 // 32)  # 3 MiB
    name = f"{configuration}_3_0_60_1.cf"
    draft = page.locator("form[action='/operator/releases']")
    await draft.get_by_label("Configuration", exact=True).select_option(configuration)
    fields = {
        "Version": "3.0.60.1",
        "Release date": "2026-11-20",
        "ITS issue": "ITS 2026/11",
        "What is new": "Faster closing of the month",
        "Full list of changes": "- closing of the month",
        "Update procedure": "Back up the infobase, then apply the package.",
    }
    for label, value in fields.items():
        await draft.get_by_label(label, exact=True).fill(value)
    await draft.get_by_label("File", exact=True).set_input_files(
        {"name": name, "mimeType": "application/octet-stream", "buffer": content}
    )
    await snap(page, "operator-release-draft")

    def is_upload(request: Request) -> bool:
        return request.method == "POST" and request.url.endswith("/operator/releases")

    async with page.expect_request(is_upload) as uploading:
        await draft.get_by_role("button", name="Save the draft and upload the kit").click()
    upload = await uploading.value
    assert upload.resource_type == "xhr"  # sent by static/upload.js, which moves the progress bar
    await expect(page.get_by_text("The draft is saved and its kit uploaded.")).to_be_visible(timeout=30_000)
    await snap(page, "operator-releases")

    releases = await api.call("GET", f"{services['updates'].url}/v1/releases?limit=1000", token)
    [release] = [r for r in releases.body["items"] if r["configuration"] == configuration]
    [kit] = release["kits"]
    assert (kit["name"], kit["size"], kit["sha256"]) == (name, len(content), hashlib.sha256(content).hexdigest())
    assert release["state"] == "draft"


CABINET_PAGES = [
    "",
    "/partners",
    "/catalogue",
    "/releases",
    "/releases/new",
    "/releases/new-platform",
    "/forms",
    "/forms/new",
    "/codes",
    "/deliveries",
]


async def test_the_cabinets_have_no_serious_accessibility_violations(
    site: str, browser: Browser, api: Portal, flow: Contracts, mail_dir: Path
) -> None:
    if not await asyncio.to_thread(AXE.is_file):
        pytest.fail(f"no axe-core at {AXE}: `make test` installs it (scripts/ensure-infra.sh: {AXE_INSTALL})")
    login, operator = await api.operator_account()
    partner = await flow.partner(operator)
    staff = await partner_staff(api, operator, partner, mail_dir)
    article = await api.product(operator, [await api.configuration(operator)], edition="BASIC", pin_envelope=True)
    listed = await api.call("GET", f"{api.identity}/v1/partners/{partner.id}/users", operator)
    [staff_id] = [u["account_id"] for u in listed.body["items"] if u["login"] == staff.login]
    # The pages that take access away, each a confirmation (the partner's own staff member as the example).
    partner_pages = [f"/partners/{partner.id}", f"/partners/{partner.id}/deactivate"]
    partner_pages.append(f"/partners/{partner.id}/staff/{staff_id}/remove")
    context = await browser.new_context(ignore_https_errors=True, viewport=VIEWPORT, locale="en-US", bypass_csp=True)
    found: dict[str, list[Any]] = {}
    try:
        page = await context.new_page()
        await log_in(page, site, login)
        for path in CABINET_PAGES + partner_pages:
            await page.goto(f"{site}/operator{path}")
            await page.add_script_tag(path=str(AXE))
            found[f"/operator{path}"] = await serious_violations(page)
        # A large batch's page (REG-1): it reloads itself while the batch is issued, then offers its numbers.
        await page.goto(f"{site}/operator/catalogue/products/{article}")
        await page.get_by_label("How many numbers").fill("1001")
        await page.get_by_role("button", name="Issue and show").click()
        await page.get_by_role("button", name="Show the numbers and PINs").wait_for(timeout=60_000)
        await page.add_script_tag(path=str(AXE))
        found["/operator/catalogue/batches/…"] = await serious_violations(page)
        await page.get_by_role("button", name=f"Log out ({login})").click()
        await log_in(page, site, staff.login)
        cabinet = await open_cabinet(page, site, partner)
        for path in ("", "/contracts/new", "/authorise", "/clients", "/staff", f"/staff/{staff_id}/remove"):
            await page.goto(f"{cabinet}{path}")
            await page.add_script_tag(path=str(AXE))
            found[f"/partner/…{path}"] = await serious_violations(page)
    finally:
        await context.close()
    problems = {
        path: [(v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in violations]
        for path, violations in found.items()
        if violations
    }
    assert not problems, problems
