"""The profile's name and e-mail address through the portal (ACC-4) against a real identity and PostgreSQL: each
refusal next to its field with what was typed kept, the link's landing page in both languages, and the unchanged
login afterwards."""

from __future__ import annotations

import html

from tests.infra import RunningApp
from tests.integration.identity_fixtures import identity, link_token, outbox_events, unique
from tests.integration.test_portal_pages import Browser, browser, labelled, portal, portal_schema, registered

__all__ = ["browser", "identity", "portal", "portal_schema"]  # fixtures


async def logged_in(browser: Browser, identity: RunningApp) -> dict[str, str]:
    account = await registered(identity, full_name="Ivan Petrov")
    assert (await browser.log_in(account["login"], account["password"])).status == 303
    return account


async def test_the_name_is_changed_on_the_profile(browser: Browser, identity: RunningApp) -> None:
    account = await logged_in(browser, identity)
    page = await browser.get("/profile")
    assert page.status == 200 and labelled(page)
    assert 'value="Ivan Petrov"' in page.text  # the form starts from the current name

    too_long = "N" * 201
    page = await browser.post("/profile/name", {"full_name": too_long})
    assert page.status == 422 and page.error_of("full_name") == "This is too long."
    assert f'value="{too_long}"' in page.text  # what was typed is kept

    page = await browser.post("/profile/name", {"full_name": "  Ivan <Sidorov> "})
    assert page.status == 303 and page.location == "/profile?named=1"
    page = await browser.get(page.location)
    assert "Your name is saved." in page.text and "Ivan &lt;Sidorov&gt;" in page.text
    [event] = await outbox_events(identity, "identity.account.name_changed", account["id"])
    assert event["data"]["full_name"] == "Ivan <Sidorov>"

    assert (await browser.post("/profile/name", {"full_name": ""})).status == 303  # empty: no name
    assert "<dd>—</dd>" in (await browser.get("/profile")).text
    page = await browser.post("/profile/name", {"full_name": "Ivan"}, csrf="")
    assert page.status == 403  # no CSRF token, nothing happens
    assert "<dd>—</dd>" in (await browser.get("/profile")).text


async def test_the_email_changes_when_the_link_is_opened_and_the_login_stays(
    browser: Browser, identity: RunningApp
) -> None:
    account = await logged_in(browser, identity)
    taken = await registered(identity)
    new_email = f"{unique('moved')}@example.org"
    await browser.get("/profile")

    page = await browser.post("/profile/email", {"new_email": new_email, "password": "not my password"})
    assert page.status == 422 and page.error_of("password") == "The password is wrong."
    assert f'value="{new_email}"' in page.text and "not my password" not in page.text
    page = await browser.post("/profile/email", {"new_email": taken["email"], "password": account["password"]})
    assert page.error_of("new_email") == "An account with this e-mail address already exists."
    page = await browser.post("/profile/email", {"new_email": "not an address", "password": account["password"]})
    assert page.status == 422 and page.error_of("new_email") == "This is not a valid e-mail address."
    page = await browser.post("/profile/email", {"new_email": account["email"], "password": account["password"]})
    assert page.error_of("new_email") == "This is your address already."

    page = await browser.post("/profile/email", {"new_email": new_email, "password": account["password"]})
    assert page.status == 200
    text = html.unescape(page.text)
    assert f"We sent a link to {new_email}; your address changes when you open it." in text
    assert f"<dd>{account['email']} " in text  # not before the link is opened

    [event] = await outbox_events(identity, "identity.email.change_requested", account["id"])
    token = link_token(event["data"]["confirmation_url"], "/confirm-email")
    page = await browser.get(f"/confirm-email?token={token}")
    assert page.status == 200
    assert f"{new_email} is the e-mail address of your account now" in html.unescape(page.text)
    page = await browser.get(f"/confirm-email?token={token}")
    assert page.status == 404 and "already used" in page.text and "Traceback" not in page.text
    assert f"<dd>{new_email} " in (await browser.get("/profile")).text

    assert (await browser.post("/logout", {})).status == 303
    assert (await browser.log_in(account["login"], account["password"])).status == 303  # the login is unchanged


async def test_the_link_page_speaks_russian_and_needs_no_login(browser: Browser) -> None:
    await browser.get("/language?lang=ru&next=/")
    for token in ("", "x", "A" * 43):
        page = await browser.get(f"/confirm-email?token={token}")
        assert page.status == 404 and page.lang == "ru"
        assert "Ссылка неизвестна, уже использована, заменена новой или устарела." in html.unescape(page.text)
        assert 'href="/login"' in page.text
