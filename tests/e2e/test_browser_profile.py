"""The profile in a real browser, through the gateway (issue 17, ACC-4): the holder renames itself and moves the
account to a new e-mail address; the letter to the new address is read from the SMTP sink and its link opened, the
old address is told, and the unchanged login still logs in."""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.async_api import Page, expect

from tests.e2e.browser import browser_fixture, page_fixture, snap  # noqa: F401  (fixtures)
from tests.e2e.browser_stack import portal_fixture, site_fixture  # noqa: F401  (fixtures `portal`, `site`)
from tests.e2e.conftest import read_mail
from tests.e2e.flows import PASSWORD, body_text
from tests.e2e.test_browser_journey import log_in, open_every_link, sign_up_and_verify
from tests.infra import wait_for

CHANGED_SUBJECT = "The e-mail address of your ITS Portal account was changed"


async def test_the_holder_changes_name_and_address_and_logs_in_with_the_same_login(
    site: str, page: Page, mail_dir: Path
) -> None:
    login, old_email = await sign_up_and_verify(page, site, mail_dir)
    await log_in(page, site, login)

    await page.goto(f"{site}/profile")
    await page.get_by_label("Full name", exact=True).fill("Jonas Renamed")
    await page.get_by_role("button", name="Save the name").click()
    await expect(page.get_by_text("Your name is saved.")).to_be_visible()
    await expect(page.locator("dl.facts")).to_contain_text("Jonas Renamed")

    new_email = f"moved{uuid.uuid4().hex[:8]}@example.org"
    await page.get_by_label("New e-mail address", exact=True).fill(new_email)
    await page.get_by_label("Your password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Send the link").click()
    await expect(
        page.get_by_text(f"We sent a link to {new_email}; your address changes when you open it.")
    ).to_be_visible()
    await expect(page.locator("dl.facts")).to_contain_text(old_email)  # not yet
    await snap(page, "profile-email-link-sent")

    [letter] = await wait_for(lambda: read_mail(mail_dir, new_email), timeout=30, what="the letter to the new address")
    assert "Jonas Renamed" in body_text(letter)  # greeted by the new name
    [link] = await open_every_link(page, site, letter)  # the portal's page, through the gateway
    assert "/confirm-email?token=" in link
    await expect(page.get_by_text(f"{new_email} is the e-mail address of your account now")).to_be_visible()
    await snap(page, "confirm-email")
    await page.goto(link)
    await expect(
        page.get_by_text("This link is unknown, already used, replaced by a newer one or expired.")
    ).to_be_visible()

    [told] = await wait_for(
        lambda: [m for m in read_mail(mail_dir, old_email) if m["Subject"] == CHANGED_SUBJECT],
        timeout=30,
        what="the word to the old address",
    )
    assert f"{new_email[0]}***@example.org" in body_text(told) and new_email not in body_text(told)

    await page.goto(f"{site}/profile")
    await page.locator("form[action='/logout'] button").click()
    await log_in(page, site, login)  # the same login, the same password
    await page.goto(f"{site}/profile")
    await expect(page.locator("dl.facts")).to_contain_text(new_email)
    await expect(page.locator("dl.facts")).to_contain_text("verified")
