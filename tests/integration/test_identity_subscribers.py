"""Subscribers (SUB-1..7) and invitations (INV-1..6), through identity's HTTP API."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any

import jwt

from shared.clock import RELOAD_SECONDS, TestClock
from shared.keys import POOL
from tests.infra import RunningApp, TestStack
from tests.integration.identity_fixtures import address, api_path, identity, new_account, outbox_events, unique

__all__ = ["identity"]


class Person:
    """An account, logged in for one subscriber."""

    def __init__(self, app: RunningApp, account: dict[str, Any], tokens: dict[str, Any]) -> None:
        self.app, self.account, self.tokens = app, account, tokens

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}", "X-Forwarded-For": self.account["addr"]}

    @property
    def claims(self) -> dict[str, Any]:
        return jwt.decode(self.tokens["access_token"], options={"verify_signature": False})

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with self.app.http.request(method, path, headers=self.auth, **kw) as response:
            body = await response.json() if response.content_type.endswith("json") else None
            return response.status, body

    async def refresh(self, subscriber: str | None = None) -> tuple[int, dict[str, Any]]:
        form = {"grant_type": "refresh_token", "refresh_token": self.tokens["refresh_token"]}
        if subscriber:
            form["subscriber"] = subscriber
        async with self.app.http.post("/oauth/token", data=form) as response:
            body = await response.json()
            if response.status == 200:
                self.tokens = body
            return response.status, body

    async def login(self, subscriber: str | None = None) -> tuple[int, dict[str, Any]]:
        form = {"grant_type": "password", "username": self.account["login"], "password": self.account["password"]}
        if subscriber:
            form["subscriber"] = subscriber
        async with self.app.http.post(
            "/oauth/token", data=form, headers={"X-Forwarded-For": self.account["addr"]}
        ) as response:
            body = await response.json()
            if response.status == 200:
                self.tokens = body
            return response.status, body


async def person(app: RunningApp, *, verified: bool = True, **overrides: Any) -> Person:
    account = new_account(**overrides)
    async with app.http.post("/v1/accounts", json=account) as response:
        assert response.status == 201, await response.text()
        account.update(await response.json())
    account["addr"] = address()
    if verified:
        [event] = await outbox_events(app, "identity.email.verification_requested", account["id"])
        async with app.http.get(api_path(event["data"]["verification_url"])) as response:
            assert response.status == 200
    someone = Person(app, account, {})
    status, _ = await someone.login()
    assert status == 200
    return someone


async def invitation_link(app: RunningApp, invitation_id: str) -> str:
    async with app.app[POOL].acquire() as conn:
        rows = await conn.fetch(
            "SELECT envelope FROM outbox WHERE routing_key = 'identity.invitation.sent' "
            "AND envelope->'data'->>'invitation_id' = $1 ORDER BY created_at",
            invitation_id,
        )
    return api_path(rows[-1]["envelope"]["data"]["invitation_url"])


async def invite(owner: Person, email: str, its_access: bool = True, full_name: str = "Bob Smith") -> dict[str, Any]:
    status, body = await owner.call(
        "POST", "/v1/subscriber/invitations", json={"full_name": full_name, "email": email, "its_access": its_access}
    )
    assert status == 201, body
    body["link"] = await invitation_link(owner.app, body["id"])
    return dict(body)


async def test_registering_creates_the_subscriber_with_the_account_as_owner(identity: RunningApp) -> None:
    """Rules SUB-1, SUB-2."""
    named = await person(identity, verified=False)
    unnamed = await person(identity, verified=False, full_name=None)
    status, subscriber = await named.call("GET", "/v1/subscriber")
    assert status == 200
    assert re.fullmatch(r"CL-\d{7}", subscriber["code"])
    assert subscriber["name"] == "Ivan Petrov" and subscriber["role"] == "owner"
    assert subscriber["rights"] == ["its_access"]
    assert subscriber["owner"] == {"name": "Ivan Petrov", "email": named.account["email"]}
    _, other = await unnamed.call("GET", "/v1/subscriber")
    assert other["name"] == unnamed.account["login"] and other["code"] != subscriber["code"]
    claims = named.claims["subscriber"]
    assert claims == {"id": subscriber["id"], "code": subscriber["code"], "role": "owner", "rights": ["its_access"]}
    [created] = [
        e for e in await _events(identity, "identity.subscriber.created") if e["data"]["code"] == subscriber["code"]
    ]
    assert created["data"]["owner_account_id"] == named.account["id"]


async def test_owner_renames_the_subscriber_and_cannot_change_anything_else(identity: RunningApp) -> None:
    """Rule SUB-3; mass assignment is refused."""
    owner = await person(identity, verified=False)
    status, body = await owner.call("PATCH", "/v1/subscriber", json={"name": "Horns & Hooves Ltd"})
    assert status == 200 and body["name"] == "Horns & Hooves Ltd"
    for extra in ({"code": "CL-0000001"}, {"role": "user"}, {"owner": {"email": "x@example.com"}}):
        status, problem = await owner.call("PATCH", "/v1/subscriber", json={"name": "Other", **extra})
        assert status == 422 and problem["errors"][0]["type"] == "extra_forbidden"
    status, problem = await owner.call("PATCH", "/v1/subscriber", json={"name": "Horns\u0000"})  # PostgreSQL: no NUL
    assert status == 422 and problem["errors"][0]["field"] == "name"
    _, after = await owner.call("GET", "/v1/subscriber")
    assert after["name"] == "Horns & Hooves Ltd" and after["code"] == body["code"]


async def test_only_an_owner_with_a_verified_email_invites(identity: RunningApp) -> None:
    """Rule INV-1."""
    unverified = await person(identity, verified=False)
    status, problem = await unverified.call(
        "POST", "/v1/subscriber/invitations", json={"full_name": "Bob", "email": "bob@example.com"}
    )
    assert status == 403 and problem["type"].endswith("/email-not-verified")
    status, invitations = await unverified.call("GET", "/v1/subscriber/invitations")
    assert invitations["items"] == []


async def test_the_owner_reads_the_text_before_sending_it(identity: RunningApp) -> None:
    """Rule INV-2: the preview is the very text the invitation then sends, and sends nothing."""
    owner = await person(identity)
    body = {"full_name": "Bob Smith", "email": "bob@example.com", "its_access": False}
    status, preview = await owner.call("POST", "/v1/subscriber/invitations/preview", json=body)
    assert status == 200 and "Bob Smith" in preview["text"]
    _, listed = await owner.call("GET", "/v1/subscriber/invitations")
    assert listed["items"] == []
    status, sent = await owner.call("POST", "/v1/subscriber/invitations", json=body)
    assert status == 201 and sent["text"] == preview["text"]
    unverified = await person(identity, verified=False)
    status, problem = await unverified.call("POST", "/v1/subscriber/invitations/preview", json=body)
    assert status == 403 and problem["type"].endswith("/email-not-verified")


async def test_invite_accept_and_act_for_the_subscriber(identity: RunningApp) -> None:
    """Rules INV-2, INV-3, INV-5, SUB-5, SUB-7."""
    owner = await person(identity)
    _, subscriber = await owner.call("GET", "/v1/subscriber")
    bob = await person(identity, verified=False, full_name="Bob Smith")
    invitation = await invite(owner, bob.account["email"].upper())  # addresses compare case-insensitively
    assert invitation["state"] == "pending" and invitation["its_access"] is True
    assert "Bob Smith" in invitation["text"] and subscriber["name"] in invitation["text"]
    valid_until = datetime.fromisoformat(invitation["valid_until"])
    created = datetime.fromisoformat(invitation["created_at"])
    assert valid_until - created == timedelta(days=7)

    async with identity.http.get(invitation["link"]) as response:
        preview = await response.json()
    assert preview["subscriber_name"] == subscriber["name"] and preview["full_name"] == "Bob Smith"

    status, accepted = await bob.call("POST", f"{invitation['link']}/accept")
    assert status == 200, accepted
    assert accepted["subscriber_code"] == subscriber["code"] and accepted["its_access"] is True
    assert accepted["owner"] == {"name": "Ivan Petrov", "email": owner.account["email"]}

    # Bob belongs to two subscribers now (SUB-7): his own by default, the owner's when he names it.
    status, mine = await bob.call("GET", "/v1/me/subscribers")
    assert sorted(m["role"] for m in mine["items"]) == ["owner", "user"]
    status, _ = await bob.login(subscriber=subscriber["code"])
    assert status == 200
    assert bob.claims["subscriber"]["role"] == "user" and bob.claims["subscriber"]["rights"] == ["its_access"]
    status, seen = await bob.call("GET", "/v1/subscriber")
    assert seen["code"] == subscriber["code"] and seen["role"] == "user"
    # A user is not the owner (SUB-4).
    for method, path, body in (
        ("GET", "/v1/subscriber/users", None),
        ("PATCH", "/v1/subscriber", {"name": "Mine now"}),
        ("POST", "/v1/subscriber/invitations", {"full_name": "Eve", "email": "eve@example.com"}),
        ("GET", "/v1/subscriber/invitations", None),
        ("DELETE", f"/v1/subscriber/users/{owner.account['id']}", None),
    ):
        status, problem = await bob.call(method, path, json=body)
        assert status == 403 and problem["type"].endswith("/owner-only"), (method, path)

    status, users = await owner.call("GET", "/v1/subscriber/users")
    assert [(u["login"], u["is_owner"], u["rights"]) for u in users["items"]] == [
        (owner.account["login"], True, ["its_access"]),
        (bob.account["login"], False, ["its_access"]),
    ]
    status, listed = await owner.call("GET", "/v1/subscriber/invitations")
    assert [i["state"] for i in listed["items"]] == ["accepted"]
    # The link works once; a tampered or made-up one never.
    status, _ = await bob.call("POST", f"{invitation['link']}/accept")
    assert status == 404
    for bad in (
        invitation["link"][:-2] + "xx",
        "/v1/invitations/" + "A" * 43,
        "/v1/invitations/short",
        "/v1/invitations/" + "%2F..%2F" * 4,
    ):
        status, _ = await bob.call("POST", f"{bad}/accept")
        assert status == 404, bad
    accepted_events = [
        e
        for e in await _events(identity, "identity.invitation.accepted")
        if e["data"]["invitation_id"] == invitation["id"]
    ]
    assert len(accepted_events) == 1 and accepted_events[0]["data"]["owner_email"] == owner.account["email"]


async def test_a_refresh_switches_to_another_of_the_accounts_subscribers(identity: RunningApp) -> None:
    """Rule SUB-7: a refresh token of the account's own subscriber turns into one for another of its subscribers,
    with no password; never into one for a subscriber the account does not (or no longer) belong to."""
    owner = await person(identity)
    _, subscriber = await owner.call("GET", "/v1/subscriber")
    stranger = await person(identity)
    _, strangers = await stranger.call("GET", "/v1/subscriber")
    bob = await person(identity)
    _, own = await bob.call("GET", "/v1/subscriber")
    invitation = await invite(owner, bob.account["email"], its_access=False)
    assert (await bob.call("POST", f"{invitation['link']}/accept"))[0] == 200

    for code in (strangers["code"], "CL-0000000", "not a code"):
        kept = bob.tokens["refresh_token"]
        status, error = await bob.refresh(subscriber=code)
        assert (status, error["error"]) == (400, "invalid_scope"), code
        assert bob.tokens["refresh_token"] == kept  # refused before it was used: the session goes on
    status, _ = await bob.refresh(subscriber=subscriber["code"])
    assert status == 200
    assert bob.claims["subscriber"] == {
        "id": subscriber["id"],
        "code": subscriber["code"],
        "role": "user",
        "rights": [],
    }
    _, seen = await bob.call("GET", "/v1/subscriber")
    assert seen["code"] == subscriber["code"]
    # A plain refresh stays with the subscriber it was switched to; naming the own one switches back.
    assert (await bob.refresh())[0] == 200 and bob.claims["subscriber"]["code"] == subscriber["code"]
    assert (await bob.refresh(subscriber=own["code"]))[0] == 200
    assert bob.claims["subscriber"]["code"] == own["code"] and bob.claims["subscriber"]["role"] == "owner"

    assert (await owner.call("DELETE", f"/v1/subscriber/users/{bob.account['id']}"))[0] == 204
    status, error = await bob.refresh(subscriber=subscriber["code"])  # excluded (SUB-6)
    assert (status, error["error"]) == (400, "invalid_scope")


async def test_only_the_invited_address_may_accept(identity: RunningApp) -> None:
    owner = await person(identity)
    local = unique("alice")
    alice = await person(identity, email=f"{local}@example.com")
    ice = await person(identity, email=f"{local[2:]}@example.com")
    invitation = await invite(owner, f"{local.upper()}@EXAMPLE.COM")
    status, problem = await ice.call("POST", f"{invitation['link']}/accept")
    assert status == 403 and problem["type"].endswith("/invitation-for-another-address")
    status, _ = await alice.call("POST", f"{invitation['link']}/accept")
    assert status == 200


async def test_a_newer_invitation_voids_the_older_and_every_state_is_listed(
    identity: RunningApp, stack: TestStack
) -> None:
    """Rules INV-3, INV-4, INV-6."""
    owner = await person(identity)
    email = f"{unique('carol')}@example.com"
    first = await invite(owner, email)
    second = await invite(owner, email.upper())
    async with identity.http.get(first["link"]) as response:
        assert response.status == 404
    revoked = await invite(owner, f"{unique('dave')}@example.com")
    status, body = await owner.call("POST", f"/v1/subscriber/invitations/{revoked['id']}/revoke")
    assert status == 200 and body["state"] == "revoked"
    async with identity.http.get(revoked["link"]) as response:
        assert response.status == 404

    clock = TestClock(stack.var_dir)
    clock.advance(timedelta(days=7, minutes=1))
    try:
        await asyncio.sleep(RELOAD_SECONDS * 2)
        assert (await owner.login())[0] == 200  # a week later the access token has long expired
        _, listed = await owner.call("GET", "/v1/subscriber/invitations")
        states = {i["id"]: i["state"] for i in listed["items"]}
        assert states == {first["id"]: "superseded", second["id"]: "expired", revoked["id"]: "revoked"}
        async with identity.http.get(second["link"]) as response:
            assert response.status == 404
        # An expired invitation can be sent again (INV-3): a new link, 7 more days; the old link stays dead.
        status, again = await owner.call("POST", f"/v1/subscriber/invitations/{second['id']}/resend")
        assert status == 200 and again["state"] == "pending"
        new_link = await invitation_link(identity, second["id"])
        assert new_link != second["link"]
        async with identity.http.get(new_link) as response:
            assert response.status == 200
        async with identity.http.get(second["link"]) as response:
            assert response.status == 404
        status, _ = await owner.call("POST", f"/v1/subscriber/invitations/{revoked['id']}/resend")
        assert status == 409
    finally:
        clock.advance(-timedelta(days=7, minutes=1))
        await asyncio.sleep(RELOAD_SECONDS * 2)


async def test_two_concurrent_accepts_make_one_membership(identity: RunningApp) -> None:
    owner = await person(identity)
    bob = await person(identity)
    invitation = await invite(owner, bob.account["email"])
    results = await asyncio.gather(*(bob.call("POST", f"{invitation['link']}/accept") for _ in range(5)))
    assert sorted(status for status, _ in results).count(200) == 1
    _, users = await owner.call("GET", "/v1/subscriber/users")
    assert len(users["items"]) == 2


async def test_register_through_the_invitation(identity: RunningApp) -> None:
    """Rule INV-5: name and e-mail prefilled and editable; a changed address is verified anew."""
    owner = await person(identity)
    invited = f"{unique('erin')}@example.com"
    invitation = await invite(owner, invited, its_access=False)
    body = new_account(email=invited, full_name="Erin Doe")
    body.pop("language", None)
    async with identity.http.post(f"{invitation['link']}/register", json={**body, "accept_terms": False}) as r:
        assert r.status == 422
    async with identity.http.post(f"{invitation['link']}/register", json={**body, "accept_terms": True}) as r:
        assert r.status == 201, await r.text()
        accepted = await r.json()
    assert accepted["its_access"] is False and accepted["account"]["email_verified"] is True

    other = await invite(owner, f"{unique('frank')}@example.com")
    changed = new_account(full_name="Frank")
    async with identity.http.post(f"{other['link']}/register", json={**changed, "accept_terms": True}) as r:
        assert r.status == 201
        account = (await r.json())["account"]
    assert account["email"] == changed["email"] and account["email_verified"] is False
    assert len(await outbox_events(identity, "identity.email.verification_requested", account["id"])) == 1
    _, users = await owner.call("GET", "/v1/subscriber/users")
    assert len(users["items"]) == 3


async def test_excluding_a_user_takes_effect_at_once(identity: RunningApp) -> None:
    """Rule SUB-6."""
    owner = await person(identity)
    _, subscriber = await owner.call("GET", "/v1/subscriber")
    bob = await person(identity)
    invitation = await invite(owner, bob.account["email"])
    assert (await bob.call("POST", f"{invitation['link']}/accept"))[0] == 200
    assert (await bob.login(subscriber=subscriber["code"]))[0] == 200
    refresh = bob.tokens["refresh_token"]

    status, problem = await owner.call("DELETE", f"/v1/subscriber/users/{owner.account['id']}")
    assert status == 409  # the owner can never be excluded
    status, _ = await owner.call("DELETE", f"/v1/subscriber/users/{bob.account['id']}")
    assert status == 204
    status, problem = await bob.call("GET", "/v1/subscriber")
    assert status == 403 and problem["type"].endswith("/membership-ended")
    async with identity.http.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": refresh}) as r:
        assert r.status == 400 and (await r.json())["error"] == "invalid_grant"
    status, error = await bob.login(subscriber=subscriber["code"])
    assert status == 400 and error["error"] == "invalid_grant"
    assert (await bob.login())[0] == 200  # the account itself remains, with its own subscriber
    excluded = [
        e for e in await _events(identity, "identity.member.excluded") if e["data"]["account_id"] == bob.account["id"]
    ]
    assert len(excluded) == 1
    _, users = await owner.call("GET", "/v1/subscriber/users")
    assert [u["login"] for u in users["items"]] == [owner.account["login"]]


async def test_rights_changes_reach_the_next_token(identity: RunningApp) -> None:
    """Rule SUB-5."""
    owner = await person(identity)
    _, subscriber = await owner.call("GET", "/v1/subscriber")
    bob = await person(identity)
    invitation = await invite(owner, bob.account["email"], its_access=False)
    await bob.call("POST", f"{invitation['link']}/accept")
    await bob.login(subscriber=subscriber["code"])
    assert bob.claims["subscriber"]["rights"] == []
    status, _ = await owner.call("PUT", f"/v1/subscriber/users/{bob.account['id']}/rights", json={"its_access": True})
    assert status == 204
    async with identity.http.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": bob.tokens["refresh_token"]}
    ) as response:
        bob.tokens = await response.json()
    assert bob.claims["subscriber"]["rights"] == ["its_access"]
    status, _ = await owner.call(
        "PUT", f"/v1/subscriber/users/{owner.account['id']}/rights", json={"its_access": False}
    )
    assert status == 409


async def test_one_subscriber_never_reaches_another(identity: RunningApp) -> None:
    """A matrix over the subscriber-scoped endpoints with the other subscriber's ids: nothing leaks or changes."""
    a, b = await person(identity), await person(identity)
    b_user = await person(identity)
    b_invitation = await invite(b, b_user.account["email"])
    assert (await b_user.call("POST", f"{b_invitation['link']}/accept"))[0] == 200
    pending = await invite(b, f"{unique('gina')}@example.com")
    attempts = [
        ("PUT", f"/v1/subscriber/users/{b_user.account['id']}/rights", {"its_access": False}),
        ("DELETE", f"/v1/subscriber/users/{b_user.account['id']}", None),
        ("POST", f"/v1/subscriber/invitations/{pending['id']}/resend", None),
        ("POST", f"/v1/subscriber/invitations/{pending['id']}/revoke", None),
    ]
    for method, path, body in attempts:
        status, _ = await a.call(method, path, json=body)
        assert status == 404, (method, path)
    _, a_users = await a.call("GET", "/v1/subscriber/users")
    assert [u["login"] for u in a_users["items"]] == [a.account["login"]]
    _, a_invitations = await a.call("GET", "/v1/subscriber/invitations")
    assert a_invitations["items"] == []
    # B is unchanged.
    _, b_users = await b.call("GET", "/v1/subscriber/users")
    assert [u["rights"] for u in b_users["items"]] == [["its_access"], ["its_access"]]
    _, b_invitations = await b.call("GET", "/v1/subscriber/invitations")
    assert {i["id"]: i["state"] for i in b_invitations["items"]}[pending["id"]] == "pending"
    # Naming another's subscriber code at login does not get in.
    _, b_subscriber = await b.call("GET", "/v1/subscriber")
    status, error = await a.login(subscriber=b_subscriber["code"])
    assert status == 400 and error["error"] == "invalid_grant"


async def test_invitations_are_rate_limited_per_subscriber(identity: RunningApp) -> None:
    from services.identity.domain import INVITATIONS_PER_DAY

    owner = await person(identity)
    for n in range(INVITATIONS_PER_DAY):
        status, _ = await owner.call(
            "POST", "/v1/subscriber/invitations", json={"full_name": f"P{n}", "email": f"p{n}-{unique()}@example.com"}
        )
        assert status == 201
    status, problem = await owner.call(
        "POST", "/v1/subscriber/invitations", json={"full_name": "One more", "email": f"{unique()}@example.com"}
    )
    assert status == 429 and problem["retry_after"] > 0


async def _events(app: RunningApp, event_type: str) -> list[dict[str, Any]]:
    async with app.app[POOL].acquire() as conn:
        rows = await conn.fetch("SELECT envelope FROM outbox WHERE routing_key = $1", event_type)
    return [row["envelope"] for row in rows]


async def test_mass_assignment_in_invitations_is_refused(identity: RunningApp) -> None:
    owner = await person(identity)
    other = await person(identity)
    _, theirs = await other.call("GET", "/v1/subscriber")
    for extra in ({"state": "accepted"}, {"subscriber_id": theirs["id"]}, {"role": "owner"}):
        status, problem = await owner.call(
            "POST", "/v1/subscriber/invitations", json={"full_name": "Mallory", "email": "m@example.com", **extra}
        )
        assert status == 422 and problem["errors"][0]["type"] == "extra_forbidden", extra
    _, listed = await owner.call("GET", "/v1/subscriber/invitations")
    assert listed["items"] == []
    _, theirs_listed = await other.call("GET", "/v1/subscriber/invitations")
    assert theirs_listed["items"] == []
