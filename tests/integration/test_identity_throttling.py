"""Login throttling by the client's address behind trusted proxies only (shared.forwarded), and no single address
or login can lock other people out (ASVS 2.2.1)."""

from __future__ import annotations

import collections
from typing import Any

from services.identity.app import IdentitySettings, create_app
from services.portal.app import PortalSettings
from services.portal.app import create_app as create_portal
from shared.keys import POOL
from tests.infra import RunningApp, TestStack
from tests.integration.identity_fixtures import address, identity, new_account, unique
from tests.integration.test_identity_partners import operator_account
from tests.integration.test_portal_pages import Browser, portal_schema

__all__ = ["identity", "portal_schema"]

PROBLEMS = "https://its-portal.dev/problems/"


async def login(app: RunningApp, username: str, password: str, client: str | None) -> tuple[int, dict[str, str], Any]:
    headers = {"X-Forwarded-For": client} if client else {}
    form = {"grant_type": "password", "username": username, "password": password}
    async with app.http.post("/oauth/token", data=form, headers=headers) as response:
        return response.status, dict(response.headers), await response.json()


async def registered(app: RunningApp) -> dict[str, str]:
    account = new_account()
    async with app.http.post("/v1/accounts", json=account) as response:
        assert response.status == 201
    return account


async def recorded_address(app: RunningApp, login: str) -> str:
    async with app.app[POOL].acquire() as conn:
        found: str = await conn.fetchval("SELECT client_addr FROM login_attempts WHERE login = $1", login.lower())
    return found


async def test_150_failures_from_one_address_lock_out_only_strangers_at_that_address(
    identity: RunningApp, stack: TestStack
) -> None:
    crowded = address()  # e.g. an office behind one NAT address, or a spraying attacker
    operator, operator_password = await operator_account(stack)
    assert (await login(identity, operator, operator_password, crowded))[0] == 200  # known at this address
    newcomer = await registered(identity)

    answers: collections.Counter[int] = collections.Counter()
    for _ in range(150):
        status, headers, body = await login(identity, unique("nobody"), "wrong-password-1", crowded)
        answers[status] += 1
        if status == 429:
            assert body["error"] == "invalid_grant" and int(headers["Retry-After"]) > 0  # the OAuth error body
    assert answers == {400: 100, 429: 50}  # at most 100 failures per address in 15 minutes (spraying)

    # The operator, who logged in from this address before, still logs in from it...
    assert (await login(identity, operator, operator_password, crowded))[0] == 200
    # ...a login never seen at this address waits there...
    assert (await login(identity, newcomer["login"], newcomer["password"], crowded))[0] == 429
    # ...and every other address is untouched.
    assert (await login(identity, newcomer["login"], newcomer["password"], address()))[0] == 200


async def test_a_logins_own_failures_are_bounded_and_do_not_lock_the_owner_out_elsewhere(identity: RunningApp) -> None:
    """Strangers spread over many addresses stop at 50 failures an hour for a login; the owner, at an address it
    logged in from, still logs in."""
    owner = await registered(identity)
    home = address()
    assert (await login(identity, owner["login"], owner["password"], home))[0] == 200
    statuses = [(await login(identity, owner["login"], "wrong-password-1", address()))[0] for _ in range(55)]
    assert statuses.count(400) == 50 and statuses[50:] == [429] * 5
    assert (await login(identity, owner["login"], owner["password"], address()))[0] == 429  # a new address
    assert (await login(identity, owner["login"], owner["password"], home))[0] == 200


async def test_a_forwarded_address_counts_only_from_a_trusted_proxy(migrated: TestStack) -> None:
    # This identity trusts a proxy at 10.255.255.1 only; the test's requests come from 127.0.0.1.
    settings = IdentitySettings(trusted_proxies=["10.255.255.1"], public_url="http://identity.test")
    async with RunningApp(create_app(settings)) as untrusting:
        spoofer = unique("spoofer")
        await login(untrusting, spoofer, "wrong-password-1", "203.0.113.9")
        assert await recorded_address(untrusting, spoofer) == "127.0.0.1"  # the header was ignored
    # The module's identity trusts 127.0.0.1 (its tests stand in for the gateway): the header names the client.
    settings = IdentitySettings(trusted_proxies=["127.0.0.1"], public_url="http://identity.test")
    async with RunningApp(create_app(settings)) as trusting:
        forwarded = unique("forwarded")
        await login(trusting, forwarded, "wrong-password-1", "192.0.2.10, 203.0.113.9")
        assert await recorded_address(trusting, forwarded) == "203.0.113.9"  # the hop the proxy vouches for


async def test_the_portal_passes_on_the_address_its_trusted_gateway_names_and_no_other(
    portal_schema: TestStack, identity: RunningApp
) -> None:
    """The portal logs browsers in server-side: identity sees the portal, which names the browser's address as
    the gateway named it to the portal, only if the portal trusts its peer (here the test stands in for it)."""
    for trusted in ((), ("127.0.0.1",)):
        settings = PortalSettings(identity_url=identity.url, trusted_proxies=list(trusted))
        async with RunningApp(create_portal(settings)) as portal:
            browser = Browser(portal.url)  # sends X-Forwarded-For: <an address of its own>
            try:
                nobody = unique("nobody")
                page = await browser.log_in(nobody, "wrong-password-1")
                assert page.status == 401, page.text
            finally:
                await browser.close()
        assert await recorded_address(identity, nobody) == (browser.addr if trusted else "127.0.0.1")


async def test_a_throttled_password_change_is_a_problem_with_retry_after(identity: RunningApp) -> None:
    """Everywhere but /oauth/*, a 429 is problem+json (RFC 9457) with Retry-After."""
    account = await registered(identity)
    client = address()
    status, _, tokens = await login(identity, account["login"], account["password"], client)
    assert status == 200
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "X-Forwarded-For": client}
    body = {"current_password": "not-my-password", "new_password": "a brand new passphrase 1"}
    for _ in range(5):
        async with identity.http.post("/v1/me/password", json=body, headers=headers) as response:
            assert response.status == 422
    async with identity.http.post("/v1/me/password", json=body, headers=headers) as response:
        assert response.status == 429 and response.content_type == "application/problem+json"
        assert int(response.headers["Retry-After"]) > 0
        problem = await response.json()
    assert problem["type"] == PROBLEMS + "too-many-requests" and problem["retry_after"] > 0 and "error" not in problem
