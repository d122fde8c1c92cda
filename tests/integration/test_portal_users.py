"""The Users and Invitations pages (owner only) against a real identity: SUB-5, SUB-6, INV-2, INV-6."""

from __future__ import annotations

import re

from markupsafe import escape

from tests.infra import RunningApp
from tests.integration.identity_fixtures import identity, new_account
from tests.integration.test_identity_subscribers import Person, invite, person
from tests.integration.test_portal_pages import Browser, browser, labelled, portal, portal_schema

__all__ = ["browser", "identity", "portal", "portal_schema"]


async def member(identity: RunningApp, owner: Person, full_name: str = "Bob Smith") -> Person:
    """A person who accepted the owner's invitation (without the ITS right)."""
    someone = await person(identity, verified=False, full_name=full_name)
    invitation = await invite(owner, someone.account["email"], its_access=False, full_name=full_name)
    status, _ = await someone.call("POST", f"{invitation['link']}/accept")
    assert status == 200
    return someone


def row(text: str, element_id: str) -> str:
    found = re.search(rf'<tr id="{element_id}">(.*?)</tr>', text, re.S)
    assert found, element_id
    return found.group(1)


async def test_the_owner_invites_and_sees_the_text_and_the_state(browser: Browser, identity: RunningApp) -> None:
    owner = await person(identity)
    await browser.log_in(owner.account["login"], owner.account["password"])
    page = await browser.get("/users/invitations")
    assert page.status == 200 and labelled(page)
    assert '<a href="/users">' in page.text  # the nav link

    page = await browser.post("/users/invitations", {"full_name": "Nina New", "email": "not an address"})
    assert page.status == 422 and page.error_of("email")
    assert 'value="Nina New"' in page.text  # what was typed stays

    email = f"{new_account()['login']}@example.com"
    form = {"full_name": "Nina New", "email": email, "its_access": "yes"}
    # INV-2: first the text to be sent, and nothing sent yet.
    page = await browser.post("/users/invitations", {**form, "action": "preview"})
    assert page.status == 200 and "This is the text the invitation will send" in page.text
    assert "Nina New" in page.text.split("invitation-text", 1)[1]
    _, none_yet = await owner.call("GET", "/v1/subscriber/invitations")
    assert none_yet["items"] == []
    page = await browser.post("/users/invitations", {**form, "action": "send"})
    assert page.status == 303 and page.location.startswith("/users/invitations?sent=")
    page = await browser.get(page.location)
    _, listed = await owner.call("GET", "/v1/subscriber/invitations")
    [invitation] = listed["items"]
    assert invitation["its_access"] is True and invitation["text"]
    assert f"The invitation to {email} is sent" in page.text
    first_line = invitation["text"].splitlines()[0]
    assert str(escape(first_line)) in page.text  # INV-2: the owner reads the text that was sent
    assert "Pending" in row(page.text, f"invitation-{invitation['id']}")

    page = await browser.post(f"/users/invitations/{invitation['id']}/resend", {})  # INV-6
    assert page.status == 303
    page = await browser.get(page.location)
    assert f"The invitation to {email} is sent again" in page.text
    _, again = await owner.call("GET", "/v1/subscriber/invitations")
    assert [i["state"] for i in again["items"]] == ["pending"]

    page = await browser.post("/users/invitations", {"full_name": "X", "email": email, "action": "send"}, csrf="")
    assert page.status == 403 and "did not come from this site" in page.text
    _, after = await owner.call("GET", "/v1/subscriber/invitations")
    assert len(after["items"]) == 1


async def test_the_owner_changes_rights_and_excludes_a_user(browser: Browser, identity: RunningApp) -> None:
    owner = await person(identity)
    bob = await member(identity, owner)
    bob_id = bob.account["id"]
    await browser.log_in(owner.account["login"], owner.account["password"])
    page = await browser.get("/users")
    assert page.status == 200 and labelled(page)
    assert "Bob Smith" in page.text and "checked" not in row(page.text, f"user-{bob_id}")

    page = await browser.post(f"/users/{bob_id}/rights", {}, csrf="")
    assert page.status == 403
    page = await browser.post(f"/users/{bob_id}/rights", {"its_access": "yes"})
    assert page.status == 303
    page = await browser.get(page.location)
    assert "The rights are saved." in page.text and "checked" in row(page.text, f"user-{bob_id}")
    _, users = await owner.call("GET", "/v1/subscriber/users")
    assert "its_access" in next(u for u in users["items"] if u["account_id"] == bob_id)["rights"]

    page = await browser.get(f"/users/{bob_id}/exclude")  # the confirm step
    assert page.status == 200 and "Yes, exclude Bob Smith" in page.text
    page = await browser.post(f"/users/{bob_id}/exclude", {}, csrf="")
    assert page.status == 403
    page = await browser.post(f"/users/{bob_id}/exclude", {})
    assert page.status == 303
    page = await browser.get(page.location)
    assert "The user is excluded." in page.text and f'id="user-{bob_id}"' not in page.text
    page = await browser.post(f"/users/{bob_id}/rights", {"its_access": "yes"})
    assert page.status == 404 and "no longer a user" in page.text


async def test_a_user_who_is_not_the_owner_is_told_so(browser: Browser, identity: RunningApp) -> None:
    owner = await person(identity)
    _, subscriber = await owner.call("GET", "/v1/subscriber")
    bob = await member(identity, owner)
    await browser.log_in(bob.account["login"], bob.account["password"])
    await browser.get("/subscriber")
    page = await browser.post("/subscriber/switch", {"code": subscriber["code"]})
    assert page.status == 303
    for path in ("/users", "/users/invitations"):
        page = await browser.get(path)
        assert page.status == 403 and "owner manages its users and invitations" in page.text
        assert "Traceback" not in page.text
    page = await browser.post("/users/invitations", {"full_name": "Eve", "email": "eve@example.com", "action": "send"})
    assert page.status == 403 and "owner manages its users" in page.text
    _, listed = await owner.call("GET", "/v1/subscriber/invitations")
    assert len(listed["items"]) == 1  # only Bob's own invitation


async def test_the_pages_speak_russian(browser: Browser, identity: RunningApp) -> None:
    owner = await person(identity)
    await browser.log_in(owner.account["login"], owner.account["password"])
    await browser.get("/language?lang=ru&next=/users")
    page = await browser.get("/users")
    assert page.lang == "ru" and "Пользователи" in page.text
    page = await browser.get("/users/invitations")
    assert '<label for="f-full_name">ФИО</label>' in page.text
