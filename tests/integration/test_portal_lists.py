"""Lists that page, search and filter on the portal's pages (portal issue 17): the owner's Users and Invitations, the
operator cabinet's partners — one GET form, "Next page"/"First page" links, and "No … match" apart from "none yet"."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest

from services.portal.pages import listing
from tests.infra import RunningApp, TestStack
from tests.integration.identity_fixtures import identity, unique
from tests.integration.test_identity_partners import operator_account, operator_token, tin
from tests.integration.test_identity_subscribers import invite, person
from tests.integration.test_portal_pages import Browser, Page, browser, labelled, portal, portal_schema
from tests.integration.test_portal_users import member

__all__ = ["browser", "identity", "portal", "portal_schema"]


@pytest.fixture
def pages_of_two() -> Iterator[None]:
    """Pages of two rows, so a few rows make several pages."""
    size = listing.PAGE_SIZE
    listing.PAGE_SIZE = 2
    yield
    listing.PAGE_SIZE = size


def link(page: Page, text: str) -> str | None:
    found = re.search(rf'<a href="([^"]*)"(?: rel="next")?>{re.escape(text)}</a>', page.text)
    return html.unescape(found.group(1)) if found else None


def rows(page: Page, prefix: str) -> list[str]:
    return re.findall(rf'<tr id="{prefix}-([^"]+)">', page.text)


async def test_the_users_page_pages_searches_and_filters(
    browser: Browser, identity: RunningApp, pages_of_two: None
) -> None:
    owner = await person(identity, full_name="Olga Owner")
    anna, boris, clara = [await member(identity, owner, name) for name in ("Anna A", "Boris B", "Clara C")]
    await browser.log_in(owner.account["login"], owner.account["password"])

    page = await browser.get("/users")
    assert page.status == 200 and labelled(page) and 'role="search"' in page.text
    assert rows(page, "user") == [owner.account["id"], anna.account["id"]]  # the owner first, then by name
    assert link(page, "First page") is None
    next_page = link(page, "Next page")
    assert next_page and next_page.startswith("/users?cursor=")
    page = await browser.get(next_page)
    assert rows(page, "user") == [boris.account["id"], clara.account["id"]]
    assert link(page, "First page") == "/users" and link(page, "Next page") is None

    page = await browser.get("/users?sort=newest")
    assert rows(page, "user") == [clara.account["id"], boris.account["id"]]
    assert (link(page, "Next page") or "").startswith("/users?sort=newest&cursor=")
    assert '<option value="newest" selected>' in page.text  # the choice stays chosen

    page = await browser.get("/users?q=CLARA")
    assert rows(page, "user") == [clara.account["id"]] and 'value="CLARA"' in page.text
    page = await browser.get("/users?q=nobody-like-this")
    assert rows(page, "user") == [] and "No users match your search and filters." in page.text
    assert "Nobody but you uses this subscriber yet." not in page.text

    # The excluded are a filter of their own; a change keeps the page of the list it was made on.
    assert (await browser.post(f"/users/{boris.account['id']}/exclude", {})).status == 303
    page = await browser.get("/users?state=excluded")
    assert rows(page, "user") == [boris.account["id"]] and "Excluded on" in page.text
    page = await browser.get("/users?q=anna")
    assert f'action="/users/{anna.account["id"]}/rights?q=anna"' in page.text
    page = await browser.post(f"/users/{anna.account['id']}/rights?q=anna", {"its_access": "yes"})
    assert page.status == 303 and page.location == "/users?q=anna&done=rights"
    page = await browser.get("/users?right=its_access")
    assert rows(page, "user") == [owner.account["id"], anna.account["id"]]
    page = await browser.get("/users?right=none")
    assert rows(page, "user") == [clara.account["id"]]

    # A page link we did not hand out: said above the list, the form still there.
    page = await browser.get("/users?cursor=not-ours")
    assert page.status == 422 and page.form_error == (
        "That page of the list is no longer available. Start again from the first page."
    )
    page = await browser.get("/users?q=" + "x" * 101)
    assert page.status == 422 and page.error_of("q") and 'value="' + "x" * 101 + '"' in page.text

    # In Russian too.
    await browser.get("/language?lang=ru&next=/users")
    page = await browser.get("/users?q=nobody-like-this")
    assert page.lang == "ru" and "Нет пользователей, подходящих под условия поиска." in page.text
    page = await browser.get("/users")
    assert "Следующая страница" in page.text and "Поиск по имени, логину или адресу" in page.text


async def test_the_invitations_list_searches_filters_and_pages(
    browser: Browser, identity: RunningApp, pages_of_two: None
) -> None:
    owner = await person(identity)
    tag = unique("inv")
    made = [await invite(owner, f"{tag}-{n}@example.com", full_name=name) for n, name in enumerate(("Ada", "Bo", "Cy"))]
    assert (await owner.call("POST", f"/v1/subscriber/invitations/{made[1]['id']}/revoke"))[0] == 200
    await browser.log_in(owner.account["login"], owner.account["password"])

    page = await browser.get("/users/invitations")
    assert rows(page, "invitation") == [made[2]["id"], made[1]["id"]] and labelled(page)
    page = await browser.get(link(page, "Next page") or "")
    assert rows(page, "invitation") == [made[0]["id"]]
    page = await browser.get("/users/invitations?state=revoked")
    assert rows(page, "invitation") == [made[1]["id"]]
    page = await browser.get(f"/users/invitations?q={tag}-2@")
    assert rows(page, "invitation") == [made[2]["id"]]
    page = await browser.get("/users/invitations?q=nobody-like-this")
    assert "No invitations match your search and filters." in page.text and "No invitations yet." not in page.text

    # Sent again from a filtered list: back on that list, with the notice.
    page = await browser.post(f"/users/invitations/{made[0]['id']}/resend?state=pending&sort=name", {})
    assert page.status == 303 and page.location == f"/users/invitations?state=pending&sort=name&resent={made[0]['id']}"
    page = await browser.get(page.location)
    assert f"The invitation to {made[0]['email']} is sent again" in page.text


async def test_operators_page_and_search_the_partners(
    browser: Browser, identity: RunningApp, migrated: TestStack, pages_of_two: None
) -> None:
    login, password = await operator_account(migrated)
    token = await operator_token(identity, migrated)
    tag = unique("p")
    ids = []
    for name in ("Ромашка", "Alpha", "beta"):
        async with identity.http.post(
            "/v1/partners",
            headers={"Authorization": f"Bearer {token}"},
            json={"name": f"{name} {tag}", "tin": tin(), "city": "Kazan", "contact_email": "office@franchisee.example"},
        ) as r:
            assert r.status == 201
            ids.append((await r.json())["id"])
    async with identity.http.post(f"/v1/partners/{ids[2]}/deactivate", headers={"Authorization": f"Bearer {token}"}):
        pass
    await browser.log_in(login, password)

    page = await browser.get(f"/operator/partners?q={tag}")
    assert page.status == 200 and labelled(page)
    assert rows(page, "partner") == [ids[1], ids[2]]
    page = await browser.get(link(page, "Next page") or "")
    assert rows(page, "partner") == [ids[0]] and link(page, "First page") == f"/operator/partners?q={tag}"
    page = await browser.get(f"/operator/partners?q=ромашка+{tag}")
    assert rows(page, "partner") == [ids[0]]
    page = await browser.get(f"/operator/partners?q={tag}&state=deactivated")
    assert rows(page, "partner") == [ids[2]]
    page = await browser.get(f"/operator/partners?q=none-{tag}")
    assert "No partners match your search and filters." in page.text
