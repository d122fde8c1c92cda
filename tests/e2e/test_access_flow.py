"""Access ends when it is taken away, end to end (shared.revocations): identity, registration, contracts, updates
and notifications as real processes, the events through the real broker. A user's download works, the owner
withdraws the ITS right (SUB-5) and the same token is refused by updates at once; a revoked API client's token, a
removed staff member's and a deactivated partner's tokens are refused by contracts at once; new tokens after the
right is granted again, or the partner reactivated, work.

Each refusal's delay is measured from the moment the owner's (or operator's) request is sent until the service
refuses the old token, and printed (`pytest -s`); it is asserted under 2 seconds (locally it is tens of ms).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.e2e.conftest import read_mail
from tests.e2e.contracts_flows import contracts_db, flow, registration_db
from tests.e2e.flows import PASSWORD, PROBLEMS, Customer, Partner, Portal, Reply, body_text, problem_type
from tests.e2e.test_updates_flow import Updates, owner_with, updates
from tests.infra import wait_for

__all__ = ["contracts_db", "flow", "registration_db", "updates"]  # fixtures

MAX_DELAY = 2.0


async def delay_until(
    change: Callable[[], Awaitable[Reply]], refused: Callable[[], Awaitable[bool]], what: str
) -> tuple[Reply, float]:
    """Send `change`, then ask until `refused`: the change's answer and the seconds from sending it to the refusal."""
    started = time.monotonic()
    answer = await change()
    await wait_for(refused, timeout=10, interval=0.005, what=what)
    delay = time.monotonic() - started
    print(f"\n  delay until refusal, {what}: {delay * 1000:.0f} ms")
    assert delay < MAX_DELAY, (what, delay)
    return answer, delay


async def tokens_for(portal: Portal, login: str, **form: str) -> dict[str, Any]:
    reply = await portal.call(
        "POST",
        f"{portal.identity}/oauth/token",
        data={"grant_type": "password", "username": login, "password": PASSWORD, **form},
    )
    assert reply.status == 200, reply.body
    tokens: dict[str, Any] = reply.body
    return tokens


async def refreshed(portal: Portal, tokens: dict[str, Any]) -> dict[str, Any]:
    reply = await portal.call(
        "POST",
        f"{portal.identity}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert reply.status == 200, reply.body
    new: dict[str, Any] = reply.body
    return new


async def test_a_withdrawn_its_right_refuses_the_users_token_at_once_and_a_refresh_carries_the_new_right(
    updates: Updates, mail_dir: Path
) -> None:
    portal = updates.flow.portal
    operator = await portal.operator()
    owner, configuration, _ = await owner_with(updates, operator, edition="BASIC", verified_through=mail_dir)
    await updates.release(operator, configuration, "3.0.40.10", [])
    user = await portal.invited_user(owner, mail_dir, its_access=True)
    tokens = await tokens_for(portal, user.login, subscriber=owner.code)
    user.token = tokens["access_token"]
    await updates.visible(user, configuration)
    page = await updates.call("GET", f"/v1/configurations/{configuration}/releases/3.0.40.10", user.token)
    kit = page.body["kits"][0]["id"]

    async def download(token: str) -> Reply:
        return await updates.call("GET", f"/v1/kits/{kit}/download", token, allow_redirects=False)

    assert (await download(user.token)).status == 303
    users = await portal.call("GET", f"{portal.identity}/v1/subscriber/users", owner.token)
    [user_id] = [u["account_id"] for u in users.body["items"] if u["login"] == user.login]
    rights = f"{portal.identity}/v1/subscriber/users/{user_id}/rights"

    async def stale(token: str) -> bool:
        reply = await download(token)
        return reply.status == 401 and problem_type(reply.body) == PROBLEMS + "rights-changed"

    withdrawn, _ = await delay_until(
        lambda: portal.call("PUT", rights, owner.token, json={"its_access": False}),
        lambda: stale(user.token),
        "ITS right withdrawn (identity.member.rights_changed) at updates",
    )
    assert withdrawn.status == 204
    entitlements = await updates.call("GET", "/v1/entitlements", user.token)
    assert entitlements.status == 401  # every endpoint: the token's rights are stale
    # The client refreshes, as the 401 says: the new token has no right, and the download is refused for that.
    tokens = await refreshed(portal, tokens)
    refused = await download(tokens["access_token"])
    assert refused.status == 403 and problem_type(refused.body) == PROBLEMS + "its-access-right-missing"
    entitlements = await updates.call("GET", "/v1/entitlements", tokens["access_token"])
    assert entitlements.status == 200 and entitlements.body["items"][0]["download"]["allowed"] is False

    # The right granted again: the token without it is stale in turn; a refresh downloads again.
    without_right = tokens["access_token"]
    granted, _ = await delay_until(
        lambda: portal.call("PUT", rights, owner.token, json={"its_access": True}),
        lambda: stale(without_right),
        "ITS right granted again at updates",
    )
    assert granted.status == 204
    tokens = await refreshed(portal, tokens)
    assert (await download(tokens["access_token"])).status == 303

    # Excluded (SUB-6): 403 membership-ended at once, as before, by the same mechanism.
    async def excluded() -> bool:
        reply = await download(tokens["access_token"])
        return reply.status == 403 and problem_type(reply.body) == PROBLEMS + "membership-ended"

    await delay_until(
        lambda: portal.call("DELETE", f"{portal.identity}/v1/subscriber/users/{user_id}", owner.token),
        excluded,
        "member excluded (identity.member.excluded) at updates",
    )


async def staff_member(portal: Portal, operator: str, partner: Partner, mail_dir: Path) -> Customer:
    """A person on the partner's staff, invited by an operator and accepted from the e-mail's link, with a partner
    token (`token`) from the password grant for the partner."""
    person = await portal.customer("Sveta Staff")
    invited = await portal.call(
        "POST",
        f"{portal.identity}/v1/partners/{partner.id}/invitations",
        operator,
        json={"full_name": "Sveta Staff", "email": person.email},
    )
    assert invited.status == 201, invited.body
    # The e-mail links to the portal's invitation page, which calls identity's API with the token: so does this test.
    pattern = re.compile(r"https?://\S+/invitation\?token=([A-Za-z0-9_-]+)")

    def links() -> list[str]:
        return [token for m in read_mail(mail_dir, person.email) for token in pattern.findall(body_text(m))]

    [token] = await wait_for(links, timeout=30, what="the staff invitation")
    link = f"{portal.identity}/v1/invitations/{token}"
    assert (await portal.call("POST", f"{link}/accept", person.token)).status == 200
    person.token = (await tokens_for(portal, person.login, partner=partner.id))["access_token"]
    return person


async def test_partners_clients_and_staff_lose_their_tokens_at_once_at_contracts(
    updates: Updates, mail_dir: Path
) -> None:
    flow, portal = updates.flow, updates.flow.portal
    operator = await portal.operator()
    partner, other = await flow.partner(operator), await flow.partner(operator)
    staff = await staff_member(portal, operator, partner, mail_dir)
    contracts = "/v1/partner/contracts"

    async def contracts_refuse(token: str) -> bool:
        reply = await flow.call("GET", contracts, token)
        return reply.status == 401 and problem_type(reply.body) == PROBLEMS + "access-revoked"

    for token in (partner.token, staff.token, other.token):
        assert (await flow.call("GET", contracts, token)).status == 200
    partner_path = f"{portal.identity}/v1/partners/{partner.id}"

    # A revoked API client.
    revoked, _ = await delay_until(
        lambda: portal.call("POST", f"{partner_path}/clients/{partner.client_id}/revoke", operator),
        lambda: contracts_refuse(partner.token),
        "API client revoked (identity.partner_client.revoked) at contracts",
    )
    assert revoked.status == 200

    # A person removed from the staff.
    listed = await portal.call("GET", f"{partner_path}/users", operator)
    [staff_id] = [u["account_id"] for u in listed.body["items"] if u["login"] == staff.login]
    removed, _ = await delay_until(
        lambda: portal.call("DELETE", f"{partner_path}/users/{staff_id}", operator),
        lambda: contracts_refuse(staff.token),
        "staff member removed (identity.partner_staff.removed) at contracts",
    )
    assert removed.status == 204

    # A deactivated partner: every client and staff member, and no new tokens until it is reactivated.
    client = await portal.call("POST", f"{partner_path}/clients", operator, json={"name": "ERP"})
    assert client.status == 201
    partner.client_id, partner.client_secret = client.body["client_id"], client.body["client_secret"]
    await portal.relogin_partner(partner)
    colleague = await staff_member(portal, operator, partner, mail_dir)
    for token in (partner.token, colleague.token):
        assert (await flow.call("GET", contracts, token)).status == 200

    async def both_refused() -> bool:
        return await contracts_refuse(partner.token) and await contracts_refuse(colleague.token)

    deactivated, _ = await delay_until(
        lambda: portal.call("POST", f"{partner_path}/deactivate", operator),
        both_refused,
        "partner deactivated (identity.partner.deactivated) at contracts",
    )
    assert deactivated.status == 200 and deactivated.body["deactivated_at"]
    basic = {"grant_type": "client_credentials", "client_id": partner.client_id, "client_secret": partner.client_secret}
    assert (await portal.call("POST", f"{portal.identity}/oauth/token", data=basic)).status == 401
    refused = await portal.call(
        "POST",
        f"{portal.identity}/oauth/token",
        data={"grant_type": "password", "username": colleague.login, "password": PASSWORD, "partner": partner.id},
    )
    assert refused.status == 400 and "deactivated" in refused.body["error_description"]
    assert (await flow.call("GET", contracts, other.token)).status == 200  # other partners are untouched

    reactivated = await portal.call("POST", f"{partner_path}/reactivate", operator)
    assert reactivated.status == 200 and reactivated.body["deactivated_at"] is None
    old = partner.token
    await portal.relogin_partner(partner)
    assert (await flow.call("GET", contracts, partner.token)).status == 200
    assert (await flow.call("GET", contracts, old)).status == 401  # tokens from before stay refused
