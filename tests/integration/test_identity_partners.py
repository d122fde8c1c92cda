"""Operators, partners and partner systems' API clients (OAuth 2.0 client_credentials)."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import uuid
from typing import Any

import jwt

from services.identity.bootstrap import ensure_account
from services.identity.settings import IdentitySettings
from tests.infra import ROOT, RunningApp, TestStack
from tests.integration.identity_fixtures import address, api_path, identity, new_account, outbox_events, unique

__all__ = ["identity"]


async def password_token(app: RunningApp, login: str, password: str) -> str:
    async with app.http.post(
        "/oauth/token",
        data={"grant_type": "password", "username": login, "password": password},
        headers={"X-Forwarded-For": address()},
    ) as response:
        assert response.status == 200, await response.text()
        token: str = (await response.json())["access_token"]
        return token


async def operator_account(stack: TestStack) -> tuple[str, str]:
    """A new operator account, as `itsctl operator create` makes one: its login and password."""
    login, password = unique("op"), "operator-passphrase-1"
    outcome = await ensure_account(
        IdentitySettings(database_url=stack.database_url),
        login=login,
        password=password,
        email=f"{login}@vendor.example",
        full_name="Olga Operator",
        operator=True,
    )
    assert outcome == "created"
    return login, password


async def operator_token(app: RunningApp, stack: TestStack) -> str:
    return await password_token(app, *await operator_account(stack))


def tin() -> str:
    return str(uuid.uuid4().int)[:10]


async def create_partner(app: RunningApp, operator: str) -> dict[str, Any]:
    async with app.http.post(
        "/v1/partners",
        headers={"Authorization": f"Bearer {operator}"},
        json={"name": "Franchisee One", "tin": tin(), "city": "Kazan", "contact_email": "office@franchisee.example"},
    ) as r:
        assert r.status == 201, await r.text()
        return dict(await r.json())


async def create_client(app: RunningApp, operator: str, partner_id: str) -> dict[str, Any]:
    async with app.http.post(
        f"/v1/partners/{partner_id}/clients",
        headers={"Authorization": f"Bearer {operator}"},
        json={"name": "1C back office"},
    ) as r:
        assert r.status == 201, await r.text()
        return dict(await r.json())


async def client_token(app: RunningApp, client_id: str, secret: str, *, basic: bool = False) -> tuple[int, Any]:
    form = {"grant_type": "client_credentials"}
    headers = {}
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    else:
        form |= {"client_id": client_id, "client_secret": secret}
    async with app.http.post("/oauth/token", data=form, headers=headers) as response:
        return response.status, await response.json()


async def test_operators_create_partners_others_cannot(identity: RunningApp, stack: TestStack) -> None:
    operator = await operator_token(identity, stack)
    operator_claims = jwt.decode(operator, options={"verify_signature": False})
    assert "operator" in operator_claims["scope"].split() and operator_claims["role"] == "operator"
    partner = await create_partner(identity, operator)
    customer = new_account()
    async with identity.http.post("/v1/accounts", json=customer) as r:
        assert r.status == 201
    customer_token = await password_token(identity, customer["login"], customer["password"])
    body = {"name": "Sneaky", "tin": tin(), "city": "Omsk", "contact_email": "x@example.com"}
    async with identity.http.post(
        "/v1/partners", headers={"Authorization": f"Bearer {customer_token}"}, json=body
    ) as r:
        assert r.status == 403
    for bad in ({"tin": "123"}, {"tin": "12345678901"}, {"contact_email": "nope"}, {"extra": 1}):
        async with identity.http.post(
            "/v1/partners", headers={"Authorization": f"Bearer {operator}"}, json={**body, **bad}
        ) as r:
            assert r.status == 422, bad
    async with identity.http.post(
        "/v1/partners", headers={"Authorization": f"Bearer {operator}"}, json={**body, "tin": partner["tin"]}
    ) as r:
        assert r.status == 409
    async with identity.http.get(
        f"/v1/partners/{partner['id']}", headers={"Authorization": f"Bearer {customer_token}"}
    ) as r:
        assert r.status == 404  # a customer does not even learn that it exists


async def test_partner_systems_use_client_credentials(identity: RunningApp, stack: TestStack) -> None:
    operator = await operator_token(identity, stack)
    partner, other = await create_partner(identity, operator), await create_partner(identity, operator)
    client = await create_client(identity, operator, partner["id"])
    assert len(client["client_secret"]) >= 43  # 256 bits, URL-safe
    async with identity.http.get(
        f"/v1/partners/{partner['id']}/clients", headers={"Authorization": f"Bearer {operator}"}
    ) as r:
        listed = await r.json()
    assert [c["client_id"] for c in listed["items"]] == [client["client_id"]]
    assert "client_secret" not in str(listed)

    for basic in (False, True):
        status, token = await client_token(identity, client["client_id"], client["client_secret"], basic=basic)
        assert status == 200, token
        assert "refresh_token" not in token and token["scope"] == "partner"
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["partner"]["id"] == partner["id"] and "subscriber" not in claims and claims["role"] == "partner"
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    async with identity.http.get(f"/v1/partners/{partner['id']}", headers=auth) as r:
        assert r.status == 200 and (await r.json())["name"] == "Franchisee One"
    async with identity.http.get(f"/v1/partners/{other['id']}", headers=auth) as r:
        assert r.status == 404  # partners never see other partners
    async with identity.http.post(
        "/v1/partners", headers=auth, json={"name": "x", "tin": tin(), "city": "x", "contact_email": "x@example.com"}
    ) as r:
        assert r.status == 403

    # Wrong secret, unknown client, a client of another partner used with this one's secret: invalid_client.
    other_client = await create_client(identity, operator, other["id"])
    for client_id, secret in (
        (client["client_id"], "wrong"),
        (str(uuid.uuid4()), client["client_secret"]),
        ("not-a-uuid", "x"),
        (other_client["client_id"], client["client_secret"]),
    ):
        status, error = await client_token(identity, client_id, secret)
        assert (status, error["error"]) == (401, "invalid_client")
    async with identity.http.post(
        f"/v1/partners/{partner['id']}/clients/{client['client_id']}/revoke",
        headers={"Authorization": f"Bearer {operator}"},
    ) as r:
        assert r.status == 200 and (await r.json())["revoked_at"] is not None
    status, error = await client_token(identity, client["client_id"], client["client_secret"])
    assert (status, error["error"]) == (401, "invalid_client")


def itsctl(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "itsctl", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_itsctl_creates_the_first_operator(identity: RunningApp, stack: TestStack) -> None:
    login = unique("boss")
    env = {**stack.env(), "ITS_OPERATOR_PASSWORD": "first-operator-passphrase"}
    args = ("operator", "create", "--login", login, "--email", f"{login}@vendor.example")
    result = await asyncio.to_thread(itsctl, *args, env=env)
    assert result.returncode == 0, result.stderr
    assert "created" in result.stdout
    token = await password_token(identity, login, "first-operator-passphrase")
    assert "operator" in jwt.decode(token, options={"verify_signature": False})["scope"].split()
    weak_args = ("operator", "create", "--login", unique(), "--email", "w@vendor.example")
    weak = await asyncio.to_thread(itsctl, *weak_args, env={**env, "ITS_OPERATOR_PASSWORD": "password"})
    assert weak.returncode == 1 and "not accepted" in weak.stderr


async def staff_token(app: RunningApp, login: str, password: str, partner_id: str) -> tuple[int, Any]:
    async with app.http.post(
        "/oauth/token",
        headers={"X-Forwarded-For": address()},
        data={"grant_type": "password", "username": login, "password": password, "partner": partner_id},
    ) as response:
        return response.status, await response.json()


async def partner_invitation_link(app: RunningApp, invitation_id: str) -> str:

    from shared.keys import POOL

    async with app.app[POOL].acquire() as conn:
        envelope = await conn.fetchval(
            "SELECT envelope FROM outbox WHERE routing_key = 'identity.invitation.sent' "
            "AND envelope->'data'->>'invitation_id' = $1",
            invitation_id,
        )
    assert envelope["data"]["partner_id"] is not None and envelope["data"]["subscriber_id"] is None
    return api_path(envelope["data"]["invitation_url"])


async def test_partner_staff_are_invited_like_subscriber_users(identity: RunningApp, stack: TestStack) -> None:
    operator = await operator_token(identity, stack)
    partner, other = await create_partner(identity, operator), await create_partner(identity, operator)
    admin_account = new_account()
    async with identity.http.post("/v1/accounts", json=admin_account) as r:
        assert r.status == 201
    # An operator invites the partner's first admin (the same invitation mechanism as INV).
    async with identity.http.post(
        f"/v1/partners/{partner['id']}/invitations",
        headers={"Authorization": f"Bearer {operator}"},
        json={"full_name": "Pavel Partner", "email": admin_account["email"], "admin": True},
    ) as r:
        assert r.status == 201, await r.text()
        invitation = await r.json()
    assert invitation["state"] == "pending" and "Franchisee One" in invitation["text"]
    link = await partner_invitation_link(identity, invitation["id"])
    async with identity.http.get(link) as r:
        preview = await r.json()
    assert preview["partner_name"] == "Franchisee One" and preview["subscriber_name"] is None
    own = await password_token(identity, admin_account["login"], admin_account["password"])
    async with identity.http.post(f"{link}/accept", headers={"Authorization": f"Bearer {own}"}) as r:
        assert r.status == 200, await r.text()
        accepted = await r.json()
    assert accepted["partner"] == {"id": partner["id"], "name": "Franchisee One", "admin": True}

    status, token = await staff_token(identity, admin_account["login"], admin_account["password"], partner["id"])
    assert status == 200, token
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["partner"] == {"id": partner["id"], "admin": True} and claims["scope"] == "partner"
    admin = {"Authorization": f"Bearer {token['access_token']}"}
    status, error = await staff_token(identity, admin_account["login"], admin_account["password"], other["id"])
    assert (status, error["error"]) == (400, "invalid_grant")

    # The admin invites a colleague, who registers from the link; the colleague is staff, not admin.
    async with identity.http.post(
        f"/v1/partners/{partner['id']}/invitations",
        headers=admin,
        json={"full_name": "Sveta Staff", "email": "sveta@franchisee.example"},
    ) as r:
        assert r.status == 201
        colleague_invitation = await r.json()
    colleague = new_account(email="sveta@franchisee.example")
    colleague_link = await partner_invitation_link(identity, colleague_invitation["id"])
    async with identity.http.post(
        f"{colleague_link}/register",
        json={
            "login": colleague["login"],
            "password": colleague["password"],
            "full_name": "Sveta Staff",
            "email": colleague["email"],
            "accept_terms": True,
        },
    ) as r:
        assert r.status == 201, await r.text()
    status, token = await staff_token(identity, colleague["login"], colleague["password"], partner["id"])
    assert status == 200
    staff = {"Authorization": f"Bearer {token['access_token']}"}

    async with identity.http.get(f"/v1/partners/{partner['id']}/users", headers=staff) as r:
        users = await r.json()
    assert [(u["full_name"], u["admin"]) for u in users["items"]] == [("Ivan Petrov", True), ("Sveta Staff", False)]
    # Each joining is announced with the admin flag (notifications writes to the staff and admins: SUP-1).
    for user in users["items"]:
        [joined] = await outbox_events(identity, "identity.partner_staff.joined", user["account_id"])
        assert (joined["data"]["partner_id"], joined["data"]["admin"]) == (partner["id"], user["admin"])
    # Staff who are not admins neither invite nor create clients; admins create clients.
    async with identity.http.post(
        f"/v1/partners/{partner['id']}/invitations", headers=staff, json={"full_name": "X", "email": "x@example.com"}
    ) as r:
        assert r.status == 403
    async with identity.http.post(f"/v1/partners/{partner['id']}/clients", headers=staff, json={"name": "x"}) as r:
        assert r.status == 403
    async with identity.http.post(f"/v1/partners/{partner['id']}/clients", headers=admin, json={"name": "ERP"}) as r:
        assert r.status == 201
        erp = await r.json()
    async with identity.http.get(f"/v1/partners/{partner['id']}/clients", headers=staff) as r:
        assert r.status == 403
    async with identity.http.get(f"/v1/partners/{partner['id']}/clients", headers=admin) as r:
        assert [c["name"] for c in (await r.json())["items"]] == ["ERP"]
    async with identity.http.post(
        f"/v1/partners/{partner['id']}/clients/{erp['client_id']}/revoke", headers=admin
    ) as r:
        assert r.status == 200
    # Partners never see other partners.
    for path in (f"/v1/partners/{other['id']}", f"/v1/partners/{other['id']}/users"):
        async with identity.http.get(path, headers=admin) as r:
            assert r.status == 404
    async with identity.http.post(
        f"/v1/partners/{other['id']}/invitations", headers=admin, json={"full_name": "X", "email": "x@example.com"}
    ) as r:
        assert r.status == 404


async def test_operators_list_partners_and_staff_find_their_cabinets(identity: RunningApp, stack: TestStack) -> None:
    operator = await operator_token(identity, stack)
    partner = await create_partner(identity, operator)
    staff_account = new_account()
    async with identity.http.post("/v1/accounts", json=staff_account) as r:
        assert r.status == 201
    own = await password_token(identity, staff_account["login"], staff_account["password"])
    mine = {"Authorization": f"Bearer {own}"}
    async with identity.http.get("/v1/me/partners", headers=mine) as r:
        assert r.status == 200 and (await r.json())["items"] == []
    async with identity.http.post(
        f"/v1/partners/{partner['id']}/invitations",
        headers={"Authorization": f"Bearer {operator}"},
        json={"full_name": "Pavel Partner", "email": staff_account["email"], "admin": True},
    ) as r:
        invitation = await r.json()
    link = await partner_invitation_link(identity, invitation["id"])
    async with identity.http.post(f"{link}/accept", headers=mine) as r:
        assert r.status == 200
    # The portal learns which partner cabinets an account may open, then logs in for one (partner=<id>).
    async with identity.http.get("/v1/me/partners", headers=mine) as r:
        [cabinet] = (await r.json())["items"]
    assert (cabinet["id"], cabinet["name"], cabinet["admin"]) == (partner["id"], "Franchisee One", True)
    status, _ = await staff_token(identity, staff_account["login"], staff_account["password"], cabinet["id"])
    assert status == 200

    async with identity.http.get("/v1/partners", headers={"Authorization": f"Bearer {operator}"}) as r:
        assert r.status == 200
        listed = (await r.json())["items"]
    assert partner["id"] in [p["id"] for p in listed]
    assert [p["name"].lower() for p in listed] == sorted(p["name"].lower() for p in listed)
    async with identity.http.get("/v1/partners", headers=mine) as r:
        assert r.status == 403  # the list of partners is the operators'
    async with identity.http.get("/v1/partners") as r:
        assert r.status == 401
