"""identity takes access away and refuses the tokens at once, itself included (shared.revocations): a member's
rights (SUB-5), a partner's API client, a person on a partner's staff, a whole partner (deactivated, then
reactivated). Each change is an event written through the outbox; identity follows them on the real broker."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, cast

import jwt
import pytest

from services.identity import subscribers_store, tokens_store
from services.identity.keys import KNOWN_LOGINS
from shared.keys import POOL
from shared.revocations import micros
from tests.infra import RunningApp, TestStack, wait_for
from tests.integration.identity_fixtures import address, identity, new_account
from tests.integration.test_identity_partners import (
    client_token,
    create_client,
    create_partner,
    operator_token,
    partner_invitation_link,
    password_token,
    staff_token,
)
from tests.integration.test_identity_subscribers import Person, invite, person

__all__ = ["identity"]

PROBLEMS = "https://its-portal.dev/problems/"


async def answer(app: RunningApp, method: str, path: str, token: str) -> tuple[int, Any]:
    async with app.http.request(method, path, headers={"Authorization": f"Bearer {token}"}) as response:
        body = await response.json() if response.content_type.endswith("json") else None
        return response.status, body


async def refused(app: RunningApp, path: str, token: str, slug: str, status: int = 401) -> float:
    """Wait until identity refuses `token` on `path` with `slug`; the seconds it took."""
    started = time.monotonic()

    async def seen() -> bool:
        got, body = await answer(app, "GET", path, token)
        return got == status and isinstance(body, dict) and body.get("type") == PROBLEMS + slug

    await wait_for(seen, timeout=10, interval=0.02, what=f"{path} refusing the token with {slug}")
    return time.monotonic() - started


async def outbox(app: RunningApp, event_type: str, key: str, value: str) -> list[dict[str, Any]]:
    async with app.app[POOL].acquire() as conn:
        rows = await conn.fetch(
            "SELECT envelope FROM outbox WHERE routing_key = $1 AND envelope->'data'->>$2 = $3 ORDER BY created_at",
            event_type,
            key,
            value,
        )
    return [row["envelope"] for row in rows]


async def staff_member(app: RunningApp, inviter: str, partner_id: str, *, admin: bool = False) -> dict[str, Any]:
    """A new account on the partner's staff (invited by `inviter`'s token, accepted): its account, with `token`."""
    account = new_account()
    async with app.http.post("/v1/accounts", json=account) as r:
        assert r.status == 201
        account["id"] = (await r.json())["id"]
    async with app.http.post(
        f"/v1/partners/{partner_id}/invitations",
        headers={"Authorization": f"Bearer {inviter}"},
        json={"full_name": "Sveta Staff", "email": account["email"], "admin": admin},
    ) as r:
        assert r.status == 201, await r.text()
        link = await partner_invitation_link(app, (await r.json())["id"])
    own = await password_token(app, account["login"], account["password"])
    async with app.http.post(f"{link}/accept", headers={"Authorization": f"Bearer {own}"}) as r:
        assert r.status == 200, await r.text()
    status, token = await staff_token(app, account["login"], account["password"], partner_id)
    assert status == 200, token
    account["own"], account["token"] = own, token["access_token"]
    return account


async def owner_and_member(app: RunningApp) -> tuple[Person, dict[str, Any], Person]:
    """An owner, its subscriber, and Bob: invited with ITS access, joined, logged in for that subscriber."""
    owner = await person(app)
    _, subscriber = await owner.call("GET", "/v1/subscriber")
    bob = await person(app)
    invitation = await invite(owner, bob.account["email"], its_access=True)
    assert (await bob.call("POST", f"{invitation['link']}/accept"))[0] == 200
    assert (await bob.login(subscriber=subscriber["code"]))[0] == 200
    return owner, subscriber, bob


async def test_a_change_of_rights_refuses_the_users_token_and_a_refresh_gets_the_new_rights(
    identity: RunningApp,
) -> None:
    """Rule SUB-5: the token's `rights` are stale at once (401 rights-changed); the refresh that follows is issued
    within the same second or so as the change, and works: it is not refused for ever."""
    owner, _, bob = await owner_and_member(identity)
    assert bob.claims["subscriber"]["rights"] == ["its_access"] and isinstance(bob.claims["iat_us"], int)
    stale = bob.tokens["access_token"]

    for its_access, rights in ((False, []), (True, ["its_access"])):
        status, _ = await owner.call(
            "PUT", f"/v1/subscriber/users/{bob.account['id']}/rights", json={"its_access": its_access}
        )
        assert status == 204
        [*_, event] = await outbox(identity, "identity.member.rights_changed", "account_id", bob.account["id"])
        assert event["data"]["its_access"] is its_access and event["data"]["changed_at"]
        await refused(identity, "/v1/subscriber", bob.tokens["access_token"], "rights-changed")
        status, _ = await bob.refresh()
        assert status == 200 and bob.claims["subscriber"]["rights"] == rights
        status, seen = await bob.call("GET", "/v1/subscriber")
        assert status == 200 and seen["rights"] == rights
    assert (await answer(identity, "GET", "/v1/me", stale))[0] == 401
    assert (await owner.call("GET", "/v1/subscriber"))[0] == 200  # nobody else's token is touched


async def test_a_token_issued_while_a_change_is_under_way_carries_the_change(identity: RunningApp) -> None:
    """A change stamps its time after locking the member's row; a token reads the grant under a share lock and is
    stamped after it. So a login or refresh racing the change waits for it and carries the new rights: it never
    carries the old ones with an issue time after the change (which no service would refuse)."""
    _, subscriber, bob = await owner_and_member(identity)
    issuers: list[Callable[[], Awaitable[tuple[int, dict[str, Any]]]]] = [
        bob.refresh,
        functools.partial(bob.login, subscriber=subscriber["code"]),
    ]
    for issue in issuers:
        async with identity.app[POOL].acquire() as conn, conn.transaction():
            # A change of Bob's rights under way (as set_rights does it), not committed yet.
            await conn.execute(
                "UPDATE members SET its_access = NOT its_access WHERE subscriber_id = $1 AND account_id = $2",
                uuid.UUID(subscriber["id"]),
                uuid.UUID(bob.account["id"]),
            )
            expected = [] if bob.claims["subscriber"]["rights"] else ["its_access"]
            racing = asyncio.ensure_future(issue())
            await asyncio.sleep(0.5)
            assert not racing.done()  # the token waits for the change
        status, _ = await asyncio.wait_for(racing, 10)
        assert status == 200 and bob.claims["subscriber"]["rights"] == expected


Change = tuple[str, str, dict[str, Any] | None]


def change_around_bobs_login(
    monkeypatch: pytest.MonkeyPatch, identity: RunningApp, owner: Person, bob: Person, *, before: bool, known: bool
) -> list[Change]:
    """The owner's next change (appended to the list answered) made just before or just after the statement of Bob's
    login that reads his membership under a share lock, while his password is checked: grants._member_login's at
    a first login (Bob's login is forgotten before each), grants._known_member_login's when `known` (Bob logs in
    once more before each, so that his login is known, as read just before)."""
    changes: list[Change] = []
    recorded, recorded_known = tokens_store.record_member_login, subscribers_store.record_known_login
    known_logins, login_key = identity.app[KNOWN_LOGINS], bob.account["login"].lower()

    async def around_the_change(statement: Awaitable[Any]) -> Any:
        if before:
            await change()
        made = await statement
        if not before:
            await change()
        return made

    async def change() -> None:
        method, path, body = changes.pop()
        assert (await owner.call(method, path, json=body))[0] == 204

    async def record_around_the_change(
        conn: Any, login: str, address: str, token: tokens_store.NewRefreshToken, version: str
    ) -> tokens_store.MemberLogin:
        if str(token.account_id) != bob.account["id"] or not changes:
            return await recorded(conn, login, address, token, version)
        assert not known, "a login known was read first"
        return cast(tokens_store.MemberLogin, await around_the_change(recorded(conn, login, address, token, version)))

    async def record_known_around_the_change(conn: Any, *args: Any, **kwargs: Any) -> Any:
        if str(kwargs["token"].account_id) != bob.account["id"] or not changes:
            return await recorded_known(conn, *args, **kwargs)
        assert known, "a login forgotten was recorded as a known one"
        return await around_the_change(recorded_known(conn, *args, **kwargs))

    log_in = bob.login

    async def bobs_login(**form: Any) -> Any:
        if known:
            pending = changes[:]
            changes.clear()
            assert (await log_in(**form))[0] == 200
            changes.extend(pending)
            assert known_logins.get(login_key) is not None
        else:
            known_logins.forget(login_key)
        return await log_in(**form)

    monkeypatch.setattr(tokens_store, "record_member_login", record_around_the_change)
    monkeypatch.setattr(subscribers_store, "record_known_login", record_known_around_the_change)
    monkeypatch.setattr(bob, "login", bobs_login)
    return changes


async def changed_at(app: RunningApp, bob: Person, event_type: str) -> int:
    [*_, event] = await outbox(app, event_type, "account_id", bob.account["id"])
    return micros(datetime.fromisoformat(event["data"]["changed_at"]))


@pytest.mark.parametrize("known", [False, True], ids=["first login", "known login"])
async def test_a_change_of_the_member_before_the_logins_locked_read_is_in_the_login_and_stamped_before_it(
    identity: RunningApp, monkeypatch: pytest.MonkeyPatch, known: bool
) -> None:
    """A login reads the member, then, while the password is checked, stamps its token and reads the member again
    under a share lock: a change committed in between is seen there, and the token is then made as a refresh makes
    it, so it carries the new rights and is stamped after the change; an exclusion in between refuses the login."""
    owner, subscriber, bob = await owner_and_member(identity)
    stale = bob.tokens["access_token"]
    users = f"/v1/subscriber/users/{bob.account['id']}"
    changes = change_around_bobs_login(monkeypatch, identity, owner, bob, before=True, known=known)

    changes.append(("PUT", f"{users}/rights", {"its_access": False}))
    assert (await bob.login(subscriber=subscriber["code"]))[0] == 200
    assert not changes and bob.claims["subscriber"]["rights"] == []
    assert bob.claims["iat_us"] > await changed_at(identity, bob, "identity.member.rights_changed")
    await refused(identity, "/v1/subscriber", stale, "rights-changed")  # identity has seen the change
    assert (await bob.call("GET", "/v1/subscriber"))[0] == 200  # and the login's token is not refused by it

    changes.append(("DELETE", users, None))
    status, body = await bob.login(subscriber=subscriber["code"])
    assert not changes and status == 400 and body["error"] == "invalid_grant"
    assert "not a member" in body["error_description"]


@pytest.mark.parametrize("known", [False, True], ids=["first login", "known login"])
async def test_a_change_of_the_member_after_the_logins_locked_read_refuses_the_logins_token_as_any_other(
    identity: RunningApp, monkeypatch: pytest.MonkeyPatch, known: bool
) -> None:
    """A change committed after that read, the password still being checked, is later than the token's stamp: the
    token is refused as soon as identity has seen the change, as a token issued a moment before it would be. A refresh
    then carries the new rights; after an exclusion it is refused."""
    owner, subscriber, bob = await owner_and_member(identity)
    users = f"/v1/subscriber/users/{bob.account['id']}"
    changes = change_around_bobs_login(monkeypatch, identity, owner, bob, before=False, known=known)

    changes.append(("PUT", f"{users}/rights", {"its_access": False}))
    assert (await bob.login(subscriber=subscriber["code"]))[0] == 200
    assert not changes and bob.claims["subscriber"]["rights"] == ["its_access"]
    assert bob.claims["iat_us"] < await changed_at(identity, bob, "identity.member.rights_changed")
    await refused(identity, "/v1/subscriber", bob.tokens["access_token"], "rights-changed")
    status, _ = await bob.refresh()
    assert status == 200 and bob.claims["subscriber"]["rights"] == []

    changes.append(("DELETE", users, None))
    assert (await bob.login(subscriber=subscriber["code"]))[0] == 200
    assert not changes
    await refused(identity, "/v1/subscriber", bob.tokens["access_token"], "membership-ended", 403)
    status, body = await bob.refresh()
    assert status == 400 and body["error"] == "invalid_grant"


async def test_a_wrong_password_of_a_member_is_a_failed_attempt_and_keeps_no_refresh_token(
    identity: RunningApp,
) -> None:
    """A member's login is recorded, its refresh token kept, while the password is checked: a wrong password turns
    the attempt into a failure and drops the token (its secret never given out) before the refusal is answered."""
    _, subscriber, bob = await owner_and_member(identity)

    async def kept() -> tuple[int, list[bool]]:
        async with identity.app[POOL].acquire() as conn:
            tokens = await conn.fetchval("SELECT count(*) FROM refresh_tokens WHERE account_id = $1", bob.account["id"])
            attempts = await conn.fetch(
                "SELECT success FROM login_attempts WHERE login = $1 ORDER BY id", bob.account["login"].lower()
            )
        return tokens, [row["success"] for row in attempts]

    tokens, attempts = await kept()
    bob.account["password"], right = "not bob's password", bob.account["password"]
    status, body = await bob.login(subscriber=subscriber["code"])
    assert status == 400 and body["error"] == "invalid_grant"
    assert await kept() == (tokens, [*attempts, False])
    bob.account["password"] = right
    assert (await bob.login(subscriber=subscriber["code"]))[0] == 200
    assert await kept() == (tokens + 1, [*attempts, False, True])


async def test_a_revoked_clients_token_is_refused_at_once(identity: RunningApp, stack: TestStack) -> None:
    operator = await operator_token(identity, stack)
    partner = await create_partner(identity, operator)
    client, other = (
        await create_client(identity, operator, partner["id"]),
        await create_client(identity, operator, partner["id"]),
    )
    _, issued = await client_token(identity, client["client_id"], client["client_secret"])
    _, kept = await client_token(identity, other["client_id"], other["client_secret"])
    path = f"/v1/partners/{partner['id']}"
    assert (await answer(identity, "GET", path, issued["access_token"]))[0] == 200
    status, revoked = await answer(identity, "POST", f"{path}/clients/{client['client_id']}/revoke", operator)
    assert status == 200 and revoked["revoked_at"]
    await refused(identity, path, issued["access_token"], "access-revoked")
    assert (await answer(identity, "GET", path, kept["access_token"]))[0] == 200
    # Revoking again changes nothing and announces nothing new.
    status, again = await answer(identity, "POST", f"{path}/clients/{client['client_id']}/revoke", operator)
    assert status == 200 and again["revoked_at"] == revoked["revoked_at"]
    [event] = await outbox(identity, "identity.partner_client.revoked", "client_id", client["client_id"])
    assert event["data"]["revoked_at"]


async def test_a_person_removed_from_a_partners_staff_loses_its_partner_tokens_at_once(
    identity: RunningApp, stack: TestStack
) -> None:
    operator = await operator_token(identity, stack)
    partner, other = await create_partner(identity, operator), await create_partner(identity, operator)
    admin = await staff_member(identity, operator, partner["id"], admin=True)
    sveta = await staff_member(identity, admin["token"], partner["id"])
    elsewhere = await staff_member(identity, operator, other["id"])
    staff_path = f"/v1/partners/{partner['id']}/users"

    # Who may remove whom: not staff who are not admins, not the admin themselves, not someone not on the staff.
    status, _ = await answer(identity, "DELETE", f"{staff_path}/{admin['id']}", sveta["token"])
    assert status == 403
    status, problem = await answer(identity, "DELETE", f"{staff_path}/{admin['id']}", admin["token"])
    assert status == 409, problem
    status, _ = await answer(identity, "DELETE", f"{staff_path}/{elsewhere['id']}", admin["token"])
    assert status == 404
    status, _ = await answer(identity, "DELETE", f"/v1/partners/{other['id']}/users/{elsewhere['id']}", admin["token"])
    assert status == 404  # another partner's staff is not even visible

    assert (await answer(identity, "GET", staff_path, sveta["token"]))[0] == 200
    status, _ = await answer(identity, "DELETE", f"{staff_path}/{sveta['id']}", admin["token"])
    assert status == 204
    await refused(identity, staff_path, sveta["token"], "access-revoked")
    status, error = await staff_token(identity, sveta["login"], sveta["password"], partner["id"])
    assert (status, error["error"]) == (400, "invalid_grant") and "not on the staff" in error["error_description"]
    assert (await answer(identity, "GET", "/v1/me", sveta["own"]))[0] == 200  # the account itself remains
    _, staff = await answer(identity, "GET", staff_path, admin["token"])
    assert [u["account_id"] for u in staff["items"]] == [admin["id"]]
    [event] = await outbox(identity, "identity.partner_staff.removed", "account_id", sveta["id"])
    assert event["data"]["partner_id"] == partner["id"] and event["data"]["removed_at"]

    # An operator removes the admin; invited again, a person gets tokens again.
    status, _ = await answer(identity, "DELETE", f"{staff_path}/{admin['id']}", operator)
    assert status == 204
    await refused(identity, staff_path, admin["token"], "access-revoked")
    back = await staff_member(identity, operator, partner["id"])
    assert (await answer(identity, "GET", staff_path, back["token"]))[0] == 200
    assert (await answer(identity, "GET", f"/v1/partners/{other['id']}/users", elsewhere["token"]))[0] == 200


async def test_a_deactivated_partners_clients_and_staff_get_and_use_no_tokens_until_it_is_reactivated(
    identity: RunningApp, stack: TestStack
) -> None:
    operator = await operator_token(identity, stack)
    partner, other = await create_partner(identity, operator), await create_partner(identity, operator)
    client = await create_client(identity, operator, partner["id"])
    _, issued = await client_token(identity, client["client_id"], client["client_secret"])
    admin = await staff_member(identity, operator, partner["id"], admin=True)
    elsewhere = await staff_member(identity, operator, other["id"])
    path = f"/v1/partners/{partner['id']}"

    status, _ = await answer(identity, "POST", f"{path}/deactivate", admin["token"])
    assert status == 403  # operators only
    status, deactivated = await answer(identity, "POST", f"{path}/deactivate", operator)
    assert status == 200 and deactivated["deactivated_at"]
    for token in (issued["access_token"], admin["token"]):
        await refused(identity, path, token, "access-revoked")
    status, error = await client_token(identity, client["client_id"], client["client_secret"])
    assert (status, error["error"]) == (401, "invalid_client")
    status, error = await staff_token(identity, admin["login"], admin["password"], partner["id"])
    assert (status, error["error"]) == (400, "invalid_grant") and "deactivated" in error["error_description"]
    assert (await answer(identity, "GET", f"/v1/partners/{other['id']}", elsewhere["token"]))[0] == 200
    _, mine = await answer(identity, "GET", "/v1/me/partners", admin["own"])
    assert [p["deactivated_at"] for p in mine["items"]] == [deactivated["deactivated_at"]]
    # Deactivating again changes nothing and announces nothing new.
    status, again = await answer(identity, "POST", f"{path}/deactivate", operator)
    assert status == 200 and again["deactivated_at"] == deactivated["deactivated_at"]
    assert len(await outbox(identity, "identity.partner.deactivated", "partner_id", partner["id"])) == 1

    status, reactivated = await answer(identity, "POST", f"{path}/reactivate", operator)
    assert status == 200 and reactivated["deactivated_at"] is None
    [event] = await outbox(identity, "identity.partner.reactivated", "partner_id", partner["id"])
    assert event["data"]["reactivated_at"]
    status, fresh = await client_token(identity, client["client_id"], client["client_secret"])
    assert status == 200
    status, staff = await staff_token(identity, admin["login"], admin["password"], partner["id"])
    assert status == 200
    for token in (fresh["access_token"], staff["access_token"]):
        assert (await answer(identity, "GET", path, token))[0] == 200
    assert (await answer(identity, "GET", path, issued["access_token"]))[0] == 401  # the old ones stay refused
    assert (await answer(identity, "POST", f"/v1/partners/{uuid.uuid4()}/deactivate", operator))[0] == 404


async def test_tokens_carry_their_issue_time_to_the_microsecond(identity: RunningApp) -> None:
    account = new_account()
    async with identity.http.post("/v1/accounts", json=account) as r:
        assert r.status == 201
    async with identity.http.post(
        "/oauth/token",
        data={"grant_type": "password", "username": account["login"], "password": account["password"]},
        headers={"X-Forwarded-For": address()},
    ) as r:
        claims = jwt.decode((await r.json())["access_token"], options={"verify_signature": False})
    assert claims["iat_us"] // 1_000_000 == claims["iat"]
