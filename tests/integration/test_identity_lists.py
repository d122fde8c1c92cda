"""identity's lists a page at a time (portal issue 17): a subscriber's users and invitations, the partners and a
partner's staff — keyset pages that return every row once, search, filters, sorts, and cursors we did not hand out
refused as 422s naming the field."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from shared.clock import RELOAD_SECONDS, TestClock
from shared.pages import encode_cursor
from tests.infra import RunningApp, TestStack
from tests.integration.identity_fixtures import identity, unique
from tests.integration.test_identity_partners import operator_token, partner_invitation_link, password_token, tin
from tests.integration.test_identity_subscribers import Person, invite, person

__all__ = ["identity"]


async def every_page(call: Any, path: str, **query: str) -> tuple[list[dict[str, Any]], int]:
    """Every item of a list, following next_cursor page after page; and the number of pages."""
    items: list[dict[str, Any]] = []
    cursor, pages = None, 0
    while True:
        status, body = await call("GET", f"{path}?{urlencode({**query, **({'cursor': cursor} if cursor else {})})}")
        assert status == 200, body
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 50, "the pages never end"


def bearer(app: RunningApp, token: str) -> Any:
    async def call(method: str, path: str) -> tuple[int, Any]:
        async with app.http.request(method, path, headers={"Authorization": f"Bearer {token}"}) as r:
            return r.status, await r.json()

    return call


def assert_refused_cursor(status: int, problem: Any) -> None:
    assert status == 422, problem
    assert [e["field"] for e in problem["errors"]] == ["cursor"], problem


async def subscriber_with_users(app: RunningApp, tag: str) -> tuple[Person, list[Person]]:
    """An owner ("Olga <tag>") and four users who accepted its invitations: Anna, boris, Clara, Dmitri <tag>."""
    owner = await person(app, full_name=f"Olga {tag}")
    users = []
    for name in ("Anna", "boris", "Clara", "Dmitri"):
        someone = await person(app, verified=False, full_name=f"{name} {tag}")
        invitation = await invite(owner, someone.account["email"], its_access=name != "Clara", full_name=name)
        status, accepted = await someone.call("POST", f"{invitation['link']}/accept")
        assert status == 200, accepted
        users.append(someone)
    return owner, users


async def test_the_owner_pages_searches_and_filters_the_users(identity: RunningApp) -> None:
    tag = unique("t")
    owner, (anna, boris, clara, dmitri) = await subscriber_with_users(identity, tag)
    assert (await owner.call("DELETE", f"/v1/subscriber/users/{dmitri.account['id']}"))[0] == 204

    # Two at a time, by name (the owner first): every current user once, in order, on two pages.
    items, pages = await every_page(owner.call, "/v1/subscriber/users", limit="2")
    assert [u["full_name"] for u in items] == [f"Olga {tag}", f"Anna {tag}", f"boris {tag}", f"Clara {tag}"]
    assert pages == 2 and all(u["excluded_at"] is None for u in items)
    items, pages = await every_page(owner.call, "/v1/subscriber/users", limit="1", sort="newest")
    assert [u["login"] for u in items] == [p.account["login"] for p in (clara, boris, anna, owner)] and pages == 4

    # The search: part of a name, a login or an address, in any case; its wildcards are plain characters.
    async def found(**query: str) -> list[str]:
        return [u["login"] for u in (await every_page(owner.call, "/v1/subscriber/users", **query))[0]]

    assert await found(q="BORIS") == [boris.account["login"]]
    assert await found(q=anna.account["login"][-6:].upper()) == [anna.account["login"]]
    assert await found(q=clara.account["email"].split("@")[0]) == [clara.account["login"]]
    assert await found(q="%") == [] and await found(q="_") == []
    assert await found(q="nobody-like-this") == []

    # Filters: the excluded, and who holds the ITS right (the owner holds every right).
    excluded = (await every_page(owner.call, "/v1/subscriber/users", state="excluded"))[0]
    assert [u["login"] for u in excluded] == [dmitri.account["login"]] and excluded[0]["excluded_at"]
    assert await found(right="its_access") == [p.account["login"] for p in (owner, anna, boris)]
    assert await found(right="none") == [clara.account["login"]]
    assert await found(right="its_access", q="anna") == [anna.account["login"]]

    # One user, for the page that asks before excluding them; an excluded one is no longer there.
    status, one = await owner.call("GET", f"/v1/subscriber/users/{boris.account['id']}")
    assert status == 200 and one["login"] == boris.account["login"] and one["rights"] == ["its_access"]
    assert (await owner.call("GET", f"/v1/subscriber/users/{dmitri.account['id']}"))[0] == 404

    # Cursors: only one this list handed out, for this sort.
    status, first = await owner.call("GET", "/v1/subscriber/users?limit=1")
    cursor = first["next_cursor"]
    assert_refused_cursor(*await owner.call("GET", f"/v1/subscriber/users?sort=newest&cursor={cursor}"))
    for bad in ("not-a-cursor", encode_cursor("users.name", "x"), encode_cursor("partners.name", anna.account["id"])):
        assert_refused_cursor(*await owner.call("GET", f"/v1/subscriber/users?cursor={bad}"))
    for bad_query in ("limit=0", "limit=501", "sort=oldest", "state=gone", "right=admin", "q=", "surprise=1"):
        status, problem = await owner.call("GET", f"/v1/subscriber/users?{bad_query}")
        assert status == 422, (bad_query, problem)
        assert problem["errors"][0]["field"] == bad_query.split("=")[0], problem

    # Another subscriber's cursor finds none of this one's rows (and says nothing about the other's).
    other = await person(identity)
    status, page = await other.call("GET", f"/v1/subscriber/users?cursor={cursor}")
    assert status == 200 and page == {"items": [], "next_cursor": None}


async def test_the_owner_pages_and_filters_invitations_by_state(identity: RunningApp, stack: TestStack) -> None:
    """Rule INV-6: each state the filter asks for is the state each invitation is listed with."""
    owner = await person(identity)
    tag = unique("inv")
    made = [await invite(owner, f"{tag}-{n}@example.com", full_name=f"{name} {tag}") for n, name in enumerate("ECADB")]
    assert (await owner.call("POST", f"/v1/subscriber/invitations/{made[1]['id']}/revoke"))[0] == 200
    accepting = await person(identity, verified=False)
    accepted = await invite(owner, accepting.account["email"], full_name=f"F {tag}")
    assert (await accepting.call("POST", f"{accepted['link']}/accept"))[0] == 200
    superseded = made[4]
    made[4] = await invite(owner, superseded["email"].upper(), full_name=f"B {tag}")

    items, pages = await every_page(owner.call, "/v1/subscriber/invitations", limit="2")  # newest first
    assert [i["id"] for i in items] == [i["id"] for i in reversed([*made[:4], superseded, accepted, made[4]])]
    assert pages == 4
    items, _ = await every_page(owner.call, "/v1/subscriber/invitations", limit="3", sort="name")
    assert [i["full_name"].split()[0] for i in items] == ["A", "B", "B", "C", "D", "E", "F"]
    items, _ = await every_page(owner.call, "/v1/subscriber/invitations", q=f"{tag}-3@EXAMPLE")
    assert [i["id"] for i in items] == [made[3]["id"]]

    clock = TestClock(stack.var_dir)
    clock.advance(timedelta(days=7, minutes=1))
    try:
        await asyncio.sleep(RELOAD_SECONDS * 2)
        assert (await owner.login())[0] == 200
        expected = {"pending": set(), "expired": {made[n]["id"] for n in (0, 2, 3, 4)}}
        expected |= {"revoked": {made[1]["id"]}, "accepted": {accepted["id"]}, "superseded": {superseded["id"]}}
        for state, ids in expected.items():
            items, _ = await every_page(owner.call, "/v1/subscriber/invitations", state=state, limit="2")
            assert {i["id"] for i in items} == ids and {i["state"] for i in items} <= {state}, state
    finally:
        clock.advance(-timedelta(days=7, minutes=1))
        await asyncio.sleep(RELOAD_SECONDS * 2)
    assert (await owner.login())[0] == 200
    items, _ = await every_page(owner.call, "/v1/subscriber/invitations", state="pending")
    assert {i["id"] for i in items} == {made[n]["id"] for n in (0, 2, 3, 4)}

    status, first = await owner.call("GET", "/v1/subscriber/invitations?limit=1")
    assert_refused_cursor(
        *await owner.call("GET", f"/v1/subscriber/invitations?sort=name&cursor={first['next_cursor']}")
    )
    assert_refused_cursor(*await owner.call("GET", "/v1/subscriber/invitations?cursor=AAAA"))
    status, problem = await owner.call("GET", "/v1/subscriber/invitations?state=lost")
    assert status == 422 and problem["errors"][0]["field"] == "state"


async def test_operators_page_search_and_filter_the_partners(identity: RunningApp, stack: TestStack) -> None:
    operator = await operator_token(identity, stack)
    call = bearer(identity, operator)
    tag = unique("p")
    created = []
    for name, city in (("Ромашка", "Kazan"), ("ООО «Ромашка-2»", "Omsk"), ("Alpha", "Tver"), ("beta", "Kazan")):
        async with identity.http.post(
            "/v1/partners",
            headers={"Authorization": f"Bearer {operator}"},
            json={"name": f"{name} {tag}", "tin": tin(), "city": city, "contact_email": f"{tag}@franchisee.example"},
        ) as r:
            assert r.status == 201, await r.text()
            created.append(await r.json())
    async with identity.http.post(
        f"/v1/partners/{created[3]['id']}/deactivate", headers={"Authorization": f"Bearer {operator}"}
    ) as r:
        assert r.status == 200

    items, pages = await every_page(call, "/v1/partners", q=tag, limit="1")
    assert [p["name"].removesuffix(f" {tag}") for p in items] == ["Alpha", "beta", "ООО «Ромашка-2»", "Ромашка"]
    assert pages == 4
    items, _ = await every_page(call, "/v1/partners", q=tag.upper(), sort="newest", limit="3")
    assert [p["id"] for p in items] == [p["id"] for p in reversed(created)]
    items, _ = await every_page(call, "/v1/partners", q=f"РОМАШКА {tag}")  # a substring, in any case
    assert [p["id"] for p in items] == [created[0]["id"]]
    items, _ = await every_page(call, "/v1/partners", q=created[2]["tin"])
    assert [p["id"] for p in items] == [created[2]["id"]]
    items, _ = await every_page(call, "/v1/partners", q=tag, state="deactivated")
    assert [p["id"] for p in items] == [created[3]["id"]] and items[0]["deactivated_at"]
    items, _ = await every_page(call, "/v1/partners", q=tag, state="active", sort="newest")
    assert [p["id"] for p in items] == [created[2]["id"], created[1]["id"], created[0]["id"]]

    _, first = await call("GET", f"/v1/partners?q={tag}&limit=1")
    assert_refused_cursor(*await call("GET", f"/v1/partners?sort=newest&cursor={first['next_cursor']}"))
    assert_refused_cursor(*await call("GET", f"/v1/partners?cursor={encode_cursor('partners.name', 'x', 'y')}"))
    status, problem = await call("GET", "/v1/partners?state=asleep")
    assert status == 422 and problem["errors"][0]["field"] == "state"


async def test_a_partners_staff_pages_and_one_person_is_found(identity: RunningApp, stack: TestStack) -> None:
    operator = await operator_token(identity, stack)
    call = bearer(identity, operator)
    async with identity.http.post(
        "/v1/partners",
        headers={"Authorization": f"Bearer {operator}"},
        json={"name": "Staffed", "tin": tin(), "city": "Kazan", "contact_email": "office@franchisee.example"},
    ) as r:
        partner = await r.json()
    people = []
    for name in ("Yan", "Zoya", "Xenia"):
        someone = await person(identity, verified=False, full_name=name)
        async with identity.http.post(
            f"/v1/partners/{partner['id']}/invitations",
            headers={"Authorization": f"Bearer {operator}"},
            json={"full_name": name, "email": someone.account["email"]},
        ) as r:
            invitation = await r.json()
        link = await partner_invitation_link(identity, invitation["id"])
        own = await password_token(identity, someone.account["login"], someone.account["password"])
        async with identity.http.post(f"{link}/accept", headers={"Authorization": f"Bearer {own}"}) as r:
            assert r.status == 200, await r.text()
        people.append(someone)

    staff = f"/v1/partners/{partner['id']}/users"
    items, pages = await every_page(call, staff, limit="2")
    assert [u["full_name"] for u in items] == ["Xenia", "Yan", "Zoya"] and pages == 2
    items, _ = await every_page(call, staff, sort="newest", limit="2")
    assert [u["full_name"] for u in items] == ["Xenia", "Zoya", "Yan"]
    items, _ = await every_page(call, staff, q="YAN")
    assert [u["full_name"] for u in items] == ["Yan"]
    status, one = await call("GET", f"{staff}/{people[1].account['id']}")
    assert status == 200 and one["full_name"] == "Zoya"
    assert (await call("GET", f"{staff}/{partner['id']}"))[0] == 404
    _, first = await call("GET", f"{staff}?limit=1")
    assert_refused_cursor(*await call("GET", f"{staff}?sort=newest&cursor={first['next_cursor']}"))
