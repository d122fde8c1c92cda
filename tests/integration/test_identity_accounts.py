"""Accounts (ACC-1), e-mail verification (ACC-2), password changes and resets, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.clock import TestClock
from tests.infra import RunningApp, TestStack
from tests.integration.identity_fixtures import (
    api_path,
    count_accounts,
    identity,
    link_token,
    new_account,
    outbox_events,
    unique,
)

__all__ = ["identity"]

PROBLEM = "application/problem+json"


async def register(identity: RunningApp, **overrides: object) -> dict[str, object]:
    body = new_account(**overrides)
    async with identity.http.post("/v1/accounts", json=body) as response:
        assert response.status == 201, await response.text()
        return {**body, **(await response.json())}


async def login(identity: RunningApp, username: str, password: str) -> dict[str, str]:
    async with identity.http.post(
        "/oauth/token", data={"grant_type": "password", "username": username, "password": password}
    ) as response:
        assert response.status == 200, await response.text()
        tokens: dict[str, str] = await response.json()
        return tokens


async def test_register_answers_the_account_unverified(identity: RunningApp) -> None:
    account = await register(identity, full_name=None)
    assert account["email_verified"] is False
    assert account["full_name"] is None
    events = await outbox_events(identity, "identity.account.registered", str(account["id"]))
    assert len(events) == 1 and events[0]["data"]["login"] == account["login"]


@pytest.mark.parametrize("field", ["login", "email"])
async def test_login_and_email_are_unique_in_any_case(identity: RunningApp, field: str) -> None:
    """Rule ACC-1."""
    first = await register(identity)
    taken = str(first[field]).upper()
    before = await count_accounts(identity)
    async with identity.http.post("/v1/accounts", json=new_account(**{field: taken})) as response:
        assert response.status == 409
        assert response.content_type == PROBLEM
        assert (await response.json())["field"] == field
    assert await count_accounts(identity) == before


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short", "at least 8"), ("password1", "common"), ("x" * 129, "at most 128")],
)
async def test_password_policy(identity: RunningApp, password: str, reason: str) -> None:
    async with identity.http.post("/v1/accounts", json=new_account(password=password)) as response:
        assert response.status == 422
        errors = (await response.json())["errors"]
        assert errors[0]["field"] == "password" and reason in errors[0]["message"]


async def test_long_passwords_are_not_truncated(identity: RunningApp) -> None:
    password = "p" * 60 + "-distinct-tail-1" + "q" * 40
    account = await register(identity, password=password)
    await login(identity, str(account["login"]), password)
    async with identity.http.post(
        "/oauth/token", data={"grant_type": "password", "username": account["login"], "password": password[:-1]}
    ) as response:
        assert response.status == 400


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'{"login": 12, "password": [], "email": "x@example.com"}', "application/json", 422),
        (b'{"login": "someone"}', "application/json", 422),
        (
            b'{"login": "someone", "password": "a-good-passphrase", "email": "s@example.com", "admin": true}',
            "application/json",
            422,
        ),
        (b'["a", "list"]', "application/json", 422),
        (b"login=someone", "application/x-www-form-urlencoded", 415),
        (b'{"login": "someone", "password": "a-good-passphrase", "email": "not-an-email"}', "application/json", 422),
        (b'{"login": "' + b"a" * 100_000 + b'"}', "application/json", 413),
        (
            b'{"login": "bad login!", "password": "a-good-passphrase", "email": "s@example.com"}',
            "application/json",
            422,
        ),
    ],
    ids=[
        "malformed",
        "wrong-types",
        "missing",
        "unknown-field",
        "not-object",
        "content-type",
        "bad-email",
        "oversized",
        "bad-login",
    ],
)
async def test_bad_input_is_a_problem_and_stores_nothing(
    identity: RunningApp, body: bytes, content_type: str, status: int
) -> None:
    before = await count_accounts(identity)
    async with identity.http.post("/v1/accounts", data=body, headers={"Content-Type": content_type}) as response:
        assert response.status == status
        assert response.content_type == PROBLEM
        problem = await response.json()
        assert problem["status"] == status and problem["type"].startswith("https://")
        if status == 422:
            assert problem["errors"] and all("field" in e for e in problem["errors"])
    assert await count_accounts(identity) == before


async def test_email_verification_link_works_once(identity: RunningApp) -> None:
    """Rule ACC-2: verified once, by following the link sent to the address."""
    account = await register(identity)
    [event] = await outbox_events(identity, "identity.email.verification_requested", str(account["id"]))
    token = link_token(event["data"]["verification_url"], "/verify-email")
    assert len(token) >= 22  # ≥ 128 bits, URL-safe
    path = api_path(event["data"]["verification_url"])
    async with identity.http.get(path) as response:
        assert response.status == 200
        assert (await response.json())["email_verified"] is True
    async with identity.http.get(path) as response:
        assert response.status == 404 and response.content_type == PROBLEM
    tokens = await login(identity, str(account["login"]), str(account["password"]))
    async with identity.http.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}) as r:
        assert (await r.json())["email_verified"] is True
    assert len(await outbox_events(identity, "identity.email.verified", str(account["id"]))) == 1


async def test_verification_link_expires_after_five_days(identity: RunningApp, stack: TestStack) -> None:
    account = await register(identity)
    [event] = await outbox_events(identity, "identity.email.verification_requested", str(account["id"]))
    path = api_path(event["data"]["verification_url"])
    clock = TestClock(stack.var_dir)
    clock.advance(timedelta(days=5, minutes=1))
    try:
        await _wait_clock_seen()
        async with identity.http.get(path, headers={"Accept": "text/html"}) as response:
            assert response.status == 404
            assert "expired" in await response.text()
    finally:
        clock.advance(-timedelta(days=5, minutes=1))
        await _wait_clock_seen()


async def test_resend_voids_the_earlier_link(identity: RunningApp) -> None:
    account = await register(identity)
    tokens = await login(identity, str(account["login"]), str(account["password"]))
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with identity.http.post("/v1/me/email-verification", headers=auth) as response:
        assert response.status == 202
        assert (await response.json())["sent_to"] == account["email"]
    first, second = await outbox_events(identity, "identity.email.verification_requested", str(account["id"]))
    async with identity.http.get(api_path(first["data"]["verification_url"])) as response:
        assert response.status == 404
    async with identity.http.get(api_path(second["data"]["verification_url"])) as response:
        assert response.status == 200
    async with identity.http.post("/v1/me/email-verification", headers=auth) as response:
        assert response.status == 409


async def test_password_reset_gives_the_same_answer_for_unknown_addresses(identity: RunningApp) -> None:
    account = await register(identity)
    answers = []
    for email in (account["email"], f"{unique()}@example.com"):
        async with identity.http.post("/v1/password-resets", json={"email": email}) as response:
            answers.append((response.status, await response.json()))
    assert answers[0] == answers[1]
    [event] = await outbox_events(identity, "identity.password.reset_requested", str(account["id"]))
    token = link_token(event["data"]["reset_url"], "/reset-password")
    old = await login(identity, str(account["login"]), str(account["password"]))
    async with identity.http.post(
        "/v1/password-resets/confirm", json={"token": token, "new_password": "brand-new-passphrase-9"}
    ) as response:
        assert response.status == 204
    async with identity.http.post(
        "/v1/password-resets/confirm", json={"token": token, "new_password": "another-passphrase-9"}
    ) as response:
        assert response.status == 404
    await login(identity, str(account["login"]), "brand-new-passphrase-9")
    async with identity.http.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": old["refresh_token"]}
    ) as response:
        assert response.status == 400  # a reset signs out every session


async def test_change_password_revokes_refresh_tokens(identity: RunningApp) -> None:
    account = await register(identity)
    tokens = await login(identity, str(account["login"]), str(account["password"]))
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with identity.http.post(
        "/v1/me/password", headers=auth, json={"current_password": "wrong-one-here", "new_password": "x-new-passphrase"}
    ) as r:
        assert r.status == 422
    async with identity.http.post(
        "/v1/me/password",
        headers=auth,
        json={"current_password": account["password"], "new_password": "x-new-passphrase"},
    ) as response:
        assert response.status == 204
    async with identity.http.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_grant"
    # The old password verified here before the change (known_logins): it is refused all the same.
    async with identity.http.post(
        "/oauth/token",
        data={"grant_type": "password", "username": account["login"], "password": account["password"]},
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_grant"
    await login(identity, str(account["login"]), "x-new-passphrase")  # verified against the hash read
    await login(identity, str(account["login"]), "x-new-passphrase")  # and now against the one kept


async def _wait_clock_seen() -> None:
    import asyncio

    from shared.clock import RELOAD_SECONDS

    await asyncio.sleep(RELOAD_SECONDS * 2)
