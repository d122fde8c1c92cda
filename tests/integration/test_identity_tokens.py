"""Tokens (ACC-3: a client program logs in with login and password, no browser), throttling, enumeration."""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from services.identity.keys import KNOWN_LOGINS
from shared.clock import RELOAD_SECONDS, TestClock
from shared.keys import POOL
from tests.infra import RunningApp, TestStack
from tests.integration.identity_fixtures import address, identity, new_account, unique
from tests.metric_names import scrape

__all__ = ["identity"]


async def register(identity: RunningApp) -> dict[str, str]:
    body = new_account()
    async with identity.http.post("/v1/accounts", json=body) as response:
        assert response.status == 201
        return {**body, **(await response.json())}


async def grant(identity: RunningApp, client: str, **form: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    async with identity.http.post("/oauth/token", data=form, headers={"X-Forwarded-For": client}) as response:
        return response.status, dict(response.headers), await response.json()


async def test_password_grant_then_me_then_refresh_rotation(identity: RunningApp) -> None:
    account = await register(identity)
    status, headers, tokens = await grant(
        identity, address(), grant_type="password", username=account["login"], password=account["password"]
    )
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    async with identity.http.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}) as r:
        me = await r.json()
    assert me["login"] == account["login"] and me["full_name"] == "Ivan Petrov"

    status, _, rotated = await grant(
        identity, address(), grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert status == 200 and rotated["refresh_token"] != tokens["refresh_token"]
    # The rotated-out token is refused, and its reuse revokes the whole family (theft signal).
    status, _, error = await grant(
        identity, address(), grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert (status, error["error"]) == (400, "invalid_grant")
    status, _, error = await grant(
        identity, address(), grant_type="refresh_token", refresh_token=rotated["refresh_token"]
    )
    assert (status, error["error"]) == (400, "invalid_grant")


async def revoke(identity: RunningApp, **form: str) -> tuple[int, dict[str, str], Any]:
    async with identity.http.post("/oauth/revoke", data=form) as response:
        body = await response.json() if response.content_type.endswith("json") else await response.text()
        return response.status, dict(response.headers), body


async def test_revoking_a_refresh_token_ends_it_and_every_token_rotated_from_it(identity: RunningApp) -> None:
    """RFC 7009, as the portal's logout uses it."""
    account = await register(identity)
    login = {"grant_type": "password", "username": account["login"], "password": account["password"]}
    _, _, first = await grant(identity, address(), **login)
    _, _, other_session = await grant(identity, address(), **login)
    _, _, rotated = await grant(identity, address(), grant_type="refresh_token", refresh_token=first["refresh_token"])

    # The token a logout holds may be an older one of its family: the family ends all the same.
    status, headers, body = await revoke(identity, token=first["refresh_token"], token_type_hint="refresh_token")
    assert (status, body) == (200, "") and headers["Cache-Control"] == "no-store"
    status, _, error = await grant(
        identity, address(), grant_type="refresh_token", refresh_token=rotated["refresh_token"]
    )
    assert (status, error["error"]) == (400, "invalid_grant")
    # The account's other sessions go on.
    status, _, _ = await grant(
        identity, address(), grant_type="refresh_token", refresh_token=other_session["refresh_token"]
    )
    assert status == 200

    # Unknown and already revoked tokens get the same answer: it tells nothing about a token (RFC 7009 §2.2).
    for token in (first["refresh_token"], "no-such-token", "x" * 200):
        assert (await revoke(identity, token=token))[0] == 200
    status, _, error = await revoke(identity, token=first["access_token"])
    assert (status, error["error"]) == (400, "unsupported_token_type")
    status, _, error = await revoke(identity)
    assert (status, error["error"]) == (400, "invalid_request")
    async with identity.http.post("/oauth/revoke", json={"token": "x"}) as response:
        assert response.status == 415


async def test_login_is_case_insensitive(identity: RunningApp) -> None:
    account = await register(identity)
    status, _, _ = await grant(
        identity, address(), grant_type="password", username=account["login"].upper(), password=account["password"]
    )
    assert status == 200


async def test_token_endpoint_errors_follow_rfc6749(identity: RunningApp) -> None:
    client = address()
    assert (await grant(identity, client, grant_type="authorization_code"))[2]["error"] == "unsupported_grant_type"
    assert (await grant(identity, client, username="x"))[2]["error"] == "invalid_request"
    assert (await grant(identity, client, grant_type="password", username="x"))[2]["error"] == "invalid_request"
    assert (await grant(identity, client, grant_type="refresh_token", refresh_token="nope"))[2][
        "error"
    ] == "invalid_grant"


async def test_access_token_is_verified(identity: RunningApp, stack: TestStack) -> None:
    account = await register(identity)
    _, _, tokens = await grant(
        identity, address(), grant_type="password", username=account["login"], password=account["password"]
    )
    access = tokens["access_token"]
    async with identity.http.get("/.well-known/jwks.json") as response:
        keys = (await response.json())["keys"]
    assert keys and keys[0]["kty"] == "OKP" and keys[0]["alg"] == "EdDSA" and "d" not in keys[0]
    header = jwt.get_unverified_header(access)
    assert header["alg"] == "EdDSA" and header["kid"] == keys[0]["kid"]

    head, payload, signature = access.split(".")
    tampered = f"{head}.{payload}.{signature[:-4]}AAAA"
    symmetric = jwt.encode({"sub": "x"}, "a-shared-secret-of-32-bytes-or-more!", algorithm="HS256")
    for bad in (tampered, "not-a-jwt", symmetric):
        async with identity.http.get("/v1/me", headers={"Authorization": f"Bearer {bad}"}) as response:
            assert response.status == 401
            assert response.content_type == "application/problem+json"
            assert "Bearer" in response.headers["WWW-Authenticate"]

    clock = TestClock(stack.var_dir)
    clock.advance(timedelta(minutes=16))  # access tokens live 15 minutes, on the shared clock
    try:
        await asyncio.sleep(RELOAD_SECONDS * 2)
        async with identity.http.get("/v1/me", headers={"Authorization": f"Bearer {access}"}) as response:
            assert response.status == 401
            assert "expired" in (await response.json())["detail"]
    finally:
        clock.advance(-timedelta(minutes=16))
        await asyncio.sleep(RELOAD_SECONDS * 2)


async def test_failed_logins_are_throttled_then_released(identity: RunningApp, stack: TestStack) -> None:
    account = await register(identity)
    # Right once first, so that this process knows the login (known_logins) when it goes wrong.
    status, _, _ = await grant(
        identity, address(), grant_type="password", username=account["login"], password=account["password"]
    )
    assert status == 200
    before = await scrape(identity.http)
    client = address()
    for _ in range(5):
        status, _, error = await grant(
            identity, client, grant_type="password", username=account["login"], password="wrong-password"
        )
        assert (status, error["error"]) == (400, "invalid_grant")
    # Blocked now, even with the right password, from this address...
    status, headers, error = await grant(
        identity, client, grant_type="password", username=account["login"], password=account["password"]
    )
    assert status == 429 and int(headers["Retry-After"]) > 0
    counted = await scrape(identity.http)
    for outcome, more in (("refused", 5), ("throttled", 1)):
        sample = f'identity_token_grants_total{{grant_type="password",outcome="{outcome}"}}'
        assert counted[sample] - before.get(sample, 0) == more
    # ...but not from another address: a stranger cannot lock the owner out.
    status, _, _ = await grant(
        identity, address(), grant_type="password", username=account["login"], password=account["password"]
    )
    assert status == 200
    # The block ends by itself when the window passes.
    clock = TestClock(stack.var_dir)
    clock.advance(timedelta(minutes=16))
    try:
        await asyncio.sleep(RELOAD_SECONDS * 2)
        status, _, _ = await grant(
            identity, client, grant_type="password", username=account["login"], password=account["password"]
        )
        assert status == 200
    finally:
        clock.advance(-timedelta(minutes=16))
        await asyncio.sleep(RELOAD_SECONDS * 2)


async def test_a_known_login_found_throttled_is_taken_back_before_it_is_refused(identity: RunningApp) -> None:
    """A member who logged in lately is recorded in the statement that reads the throttling counts: found throttled
    after it (failures counted elsewhere, say by another replica), the login leaves no attempt and no refresh token
    behind, as if refused before it was recorded, and the next one is read first again."""
    account = await register(identity)
    client, login_key = address(), account["login"].lower()
    status, _, _ = await grant(
        identity, address(), grant_type="password", username=account["login"], password=account["password"]
    )
    assert status == 200 and identity.app[KNOWN_LOGINS].get(login_key) is not None

    async def recorded() -> tuple[int, int]:
        async with identity.app[POOL].acquire() as conn:
            attempts = await conn.fetchval("SELECT count(*) FROM login_attempts WHERE login = $1", login_key)
            tokens = await conn.fetchval("SELECT count(*) FROM refresh_tokens WHERE account_id = $1", account["id"])
        return attempts, tokens

    async with identity.app[POOL].acquire() as conn:
        await conn.executemany(
            "INSERT INTO login_attempts (login, client_addr, at, success) VALUES ($1, $2, $3, false)",
            [(login_key, client, datetime.now(UTC))] * 5,
        )
    before = await recorded()
    status, headers, error = await grant(
        identity, client, grant_type="password", username=account["login"], password=account["password"]
    )
    assert status == 429 and int(headers["Retry-After"]) > 0 and error["error"] == "invalid_grant"
    assert await recorded() == before
    assert identity.app[KNOWN_LOGINS].get(login_key) is None
    status, _, _ = await grant(
        identity, address(), grant_type="password", username=account["login"], password=account["password"]
    )
    assert status == 200 and await recorded() == (before[0] + 1, before[1] + 1)


async def test_unknown_login_and_wrong_password_look_the_same(identity: RunningApp) -> None:
    account = await register(identity)
    unknown = unique("nobody")
    timings: dict[str, list[float]] = {"wrong": [], "unknown": []}
    answers = {}
    for _ in range(4):
        for kind, username in (("wrong", account["login"]), ("unknown", unknown)):
            started = time.perf_counter()
            status, _, body = await grant(
                identity, address(), grant_type="password", username=username, password="wrong-password"
            )
            timings[kind].append(time.perf_counter() - started)
            answers[kind] = (status, body)
    assert answers["wrong"] == answers["unknown"]
    ratio = statistics.median(timings["unknown"]) / statistics.median(timings["wrong"])
    assert 0.5 < ratio < 2.0, f"unknown/wrong login time ratio {ratio:.2f}"

    # Throttling counts failures per login name, existing or not: it reveals nothing either.
    client = address()
    for username in (account["login"], unknown):
        for _ in range(5):
            await grant(identity, client, grant_type="password", username=username, password="wrong-password")
    blocked = [
        await grant(identity, client, grant_type="password", username=u, password="wrong-password")
        for u in (account["login"], unknown)
    ]
    assert blocked[0][0] == blocked[1][0] == 429
