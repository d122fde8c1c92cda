"""The holder's own profile (ACC-4): the full name, and the e-mail address changed through a link mailed to the new
address, which replaces the old one only when it is followed; the old address is told."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.clock import TestClock
from tests.infra import RunningApp, TestStack
from tests.integration.identity_fixtures import (
    address,
    api_path,
    identity,
    link_token,
    new_account,
    outbox_events,
    unique,
)
from tests.integration.test_identity_accounts import _wait_clock_seen, login, register

__all__ = ["identity"]

PROBLEM = "application/problem+json"


async def verified_account(identity: RunningApp) -> dict[str, Any]:
    """A registered account whose address is verified, logged in: `auth` holds its bearer header."""
    account = await register(identity)
    [event] = await outbox_events(identity, "identity.email.verification_requested", str(account["id"]))
    async with identity.http.get(api_path(event["data"]["verification_url"])) as response:
        assert response.status == 200
    tokens = await login(identity, str(account["login"]), str(account["password"]))
    return {**account, "auth": {"Authorization": f"Bearer {tokens['access_token']}", "X-Forwarded-For": address()}}


async def me(identity: RunningApp, account: dict[str, Any]) -> dict[str, Any]:
    async with identity.http.get("/v1/me", headers=account["auth"]) as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


async def ask_change(identity: RunningApp, account: dict[str, Any], new_email: str, password: str | None = None) -> Any:
    body = {"new_email": new_email, "password": account["password"] if password is None else password}
    async with identity.http.post("/v1/me/email-change", headers=account["auth"], json=body) as response:
        return response.status, await response.json()


async def confirm(identity: RunningApp, token: str) -> Any:
    async with identity.http.post("/v1/email-changes", json={"token": token}) as response:
        return response.status, await response.json()


async def change_token(identity: RunningApp, account: dict[str, Any], index: int = -1) -> str:
    events = await outbox_events(identity, "identity.email.change_requested", str(account["id"]))
    return link_token(events[index]["data"]["confirmation_url"], "/confirm-email")


async def test_the_holder_changes_the_full_name(identity: RunningApp) -> None:
    """ACC-4: validated as at sign-up, announced for the read models."""
    account = await verified_account(identity)
    async with identity.http.patch("/v1/me", headers=account["auth"], json={"full_name": "  Ivan Sidorov "}) as r:
        assert r.status == 200
        assert (await r.json())["full_name"] == "Ivan Sidorov"
    assert (await me(identity, account))["full_name"] == "Ivan Sidorov"
    [event] = await outbox_events(identity, "identity.account.name_changed", str(account["id"]))
    assert event["data"] == {
        "account_id": account["id"],
        "login": account["login"],
        "full_name": "Ivan Sidorov",
        "language": "en",
    }

    for bad in ({"full_name": "   "}, {"full_name": "x" * 201}, {"full_name": 7}, {}, {"full_name": "A", "login": "b"}):
        async with identity.http.patch("/v1/me", headers=account["auth"], json=bad) as r:
            assert r.status == 422 and r.content_type == PROBLEM, bad
            assert all(e["field"] for e in (await r.json())["errors"])
    async with identity.http.patch("/v1/me", json={"full_name": "Nobody"}) as r:
        assert r.status == 401
    async with identity.http.patch("/v1/me", headers=account["auth"], json={"full_name": None}) as r:
        assert r.status == 200 and (await r.json())["full_name"] is None
    assert (await me(identity, account))["login"] == account["login"]


async def test_an_email_change_takes_effect_when_the_link_sent_to_the_new_address_is_followed(
    identity: RunningApp,
) -> None:
    """ACC-4: the link goes to the new address; the old one stays until it is followed, then is told."""
    account = await verified_account(identity)
    new_email = f"{unique('new')}@example.org"
    status, body = await ask_change(identity, account, new_email)
    assert status == 202 and body["sent_to"] == new_email
    [requested] = await outbox_events(identity, "identity.email.change_requested", str(account["id"]))
    assert requested["data"]["new_email"] == new_email
    assert requested["data"]["login"] == account["login"]
    token = link_token(requested["data"]["confirmation_url"], "/confirm-email")  # the portal's page
    assert (await me(identity, account))["email"] == account["email"]  # not before the link is followed

    status, body = await confirm(identity, token)
    assert (status, body) == (200, {"login": account["login"], "email": new_email})
    now = await me(identity, account)
    assert (now["email"], now["email_verified"]) == (new_email, True)
    [changed] = await outbox_events(identity, "identity.email.changed", str(account["id"]))
    assert {k: changed["data"][k] for k in ("old_email", "old_email_verified", "new_email", "login")} == {
        "old_email": account["email"],
        "old_email_verified": True,
        "new_email": new_email,
        "login": account["login"],
    }

    # The login is unchanged; the password reset follows the new address, and the old one gets nothing.
    await login(identity, str(account["login"]), str(account["password"]))
    for email in (account["email"], new_email):
        async with identity.http.post("/v1/password-resets", json={"email": email}) as response:
            assert response.status == 202
    [reset] = await outbox_events(identity, "identity.password.reset_requested", str(account["id"]))
    assert reset["data"]["email"] == new_email
    # Signing up with the old address is possible again, with the new one not.
    async with identity.http.post("/v1/accounts", json=new_account(email=new_email.upper())) as response:
        assert response.status == 409 and (await response.json())["field"] == "email"
    await register(identity, email=account["email"])


async def test_the_current_password_is_asked(identity: RunningApp) -> None:
    """A stolen session alone cannot move the account to another address."""
    account = await verified_account(identity)
    status, body = await ask_change(identity, account, f"{unique()}@example.org", password="not-the-password")
    assert status == 422
    assert [(e["field"], e["type"]) for e in body["errors"]] == [("password", "wrong_password")]
    assert await outbox_events(identity, "identity.email.change_requested", str(account["id"])) == []
    async with identity.http.post(
        "/v1/me/email-change", json={"new_email": "a@example.org", "password": "whatever-it-is"}
    ) as response:
        assert response.status == 401


async def test_an_address_of_another_account_or_ones_own_is_refused(identity: RunningApp) -> None:
    account = await verified_account(identity)
    other = await register(identity)
    status, body = await ask_change(identity, account, str(other["email"]).upper())
    assert status == 409 and body["field"] == "new_email"
    assert body["detail"] == "an account with this e-mail already exists"  # what signing up says, no more
    status, body = await ask_change(identity, account, str(account["email"]).upper())
    assert status == 422 and body["errors"][0]["type"] == "same_email"
    malformed: list[object] = [{"new_email": "not-an-address", "password": "x"}, {"new_email": "a@example.org"}, []]
    for bad in malformed:
        async with identity.http.post("/v1/me/email-change", headers=account["auth"], json=bad) as response:
            assert response.status == 422 and response.content_type == PROBLEM
    assert await outbox_events(identity, "identity.email.change_requested", str(account["id"])) == []


async def test_an_address_taken_before_the_link_is_followed_is_refused_then(identity: RunningApp) -> None:
    account = await verified_account(identity)
    new_email = f"{unique()}@example.org"
    assert (await ask_change(identity, account, new_email))[0] == 202
    await register(identity, email=new_email)
    status, body = await confirm(identity, await change_token(identity, account))
    assert status == 409 and body["field"] == "email"
    assert (await me(identity, account))["email"] == account["email"]
    assert await outbox_events(identity, "identity.email.changed", str(account["id"])) == []


async def test_a_link_works_once_and_a_new_request_voids_the_earlier_one(identity: RunningApp) -> None:
    account = await verified_account(identity)
    assert (await ask_change(identity, account, f"{unique('first')}@example.org"))[0] == 202
    second = f"{unique('second')}@example.org"
    assert (await ask_change(identity, account, second))[0] == 202
    first_token, second_token = await change_token(identity, account, 0), await change_token(identity, account, 1)
    status, body = await confirm(identity, first_token)
    assert status == 404 and body["detail"] == "the confirmation link is unknown, already used or expired"
    assert (await confirm(identity, second_token))[0] == 200
    assert (await confirm(identity, second_token))[0] == 404  # spent
    assert (await me(identity, account))["email"] == second
    for bad in ("short", "x" * 200, "not a token!" * 2):
        assert (await confirm(identity, bad))[0] == 422


async def test_a_link_expires_after_24_hours(identity: RunningApp, stack: TestStack) -> None:
    account = await verified_account(identity)
    assert (await ask_change(identity, account, f"{unique()}@example.org"))[0] == 202
    token = await change_token(identity, account)
    clock = TestClock(stack.var_dir)
    clock.advance(timedelta(hours=24, minutes=1))
    try:
        await _wait_clock_seen()
        assert (await confirm(identity, token))[0] == 404
    finally:
        clock.advance(-timedelta(hours=24, minutes=1))
        await _wait_clock_seen()
    assert (await me(identity, account))["email"] == account["email"]


async def test_links_sent_to_the_old_address_stop_working(identity: RunningApp) -> None:
    """An unverified address replaced: its verification link verifies nothing, and the event says it was never
    verified (notifications does not write to it)."""
    account = await register(identity)
    tokens = await login(identity, str(account["login"]), str(account["password"]))
    account["auth"] = {"Authorization": f"Bearer {tokens['access_token']}", "X-Forwarded-For": address()}
    [verification] = await outbox_events(identity, "identity.email.verification_requested", str(account["id"]))
    assert (await ask_change(identity, account, f"{unique()}@example.org"))[0] == 202
    assert (await confirm(identity, await change_token(identity, account)))[0] == 200
    async with identity.http.get(api_path(verification["data"]["verification_url"])) as response:
        assert response.status == 404
    [changed] = await outbox_events(identity, "identity.email.changed", str(account["id"]))
    assert changed["data"]["old_email_verified"] is False


async def test_asking_too_often_is_throttled(identity: RunningApp) -> None:
    account = await verified_account(identity)
    for _ in range(5):
        assert (await ask_change(identity, account, f"{unique()}@example.org"))[0] == 202
    status, body = await ask_change(identity, account, f"{unique()}@example.org")
    assert status == 429 and body["status"] == 429


async def test_wrong_passwords_are_throttled_like_logins(identity: RunningApp) -> None:
    """Counted with the login's failures (5 per login and address in 15 minutes), the good password too then."""
    account = await verified_account(identity)
    statuses = [
        (await ask_change(identity, account, f"{unique()}@example.org", password="wrong-password-1"))[0]
        for _ in range(6)
    ]
    assert statuses == [422] * 5 + [429]
    assert (await ask_change(identity, account, f"{unique()}@example.org"))[0] == 429
