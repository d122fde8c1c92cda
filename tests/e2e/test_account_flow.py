"""The foundation's flow through two real service processes, the broker, the database and the SMTP sink:
register → verification e-mail → follow its link → verified → password grant → /v1/me → refresh (ACC-1..3).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import aiohttp

from devtools.demo.identity import load_demo_accounts
from services.identity.app import IdentitySettings
from tests.e2e.conftest import link_token, read_mail
from tests.infra import ServiceProcess, TestStack, wait_for


async def test_register_verify_login_refresh(services: dict[str, ServiceProcess], mail_dir: Path) -> None:
    identity = services["identity"].url
    login = f"ivan{uuid.uuid4().hex[:8]}"
    address = f"{login}@example.com"
    password = "correct horse battery staple"
    flow_id = f"flow-{uuid.uuid4().hex}"
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{identity}/v1/accounts",
            headers={"X-Correlation-ID": flow_id},
            json={"login": login, "password": password, "email": address, "full_name": "Ivan Petrov"},
        ) as response:
            assert response.status == 201, await response.text()
            assert response.headers["X-Correlation-ID"] == flow_id
            assert (await response.json())["email_verified"] is False

        [message] = await wait_for(lambda: read_mail(mail_dir, address), timeout=30, what="verification e-mail")
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        assert "Ivan Petrov" in text
        # The link opens the portal's page, which calls identity's API with the token: so does this test.
        link = f"{identity}/v1/email-verifications/{link_token(text, '/verify-email')}"

        async with http.get(link, headers={"Accept": "text/html"}) as response:
            assert response.status == 200
            assert "verified" in await response.text()

        async with http.post(
            f"{identity}/oauth/token", data={"grant_type": "password", "username": login, "password": password}
        ) as response:
            assert response.status == 200
            tokens = await response.json()
        async with http.get(f"{identity}/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}) as r:
            me = await r.json()
        assert (me["login"], me["full_name"], me["email_verified"]) == (login, "Ivan Petrov", True)

        async with http.post(
            f"{identity}/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        ) as response:
            assert response.status == 200
            assert (await response.json())["refresh_token"] != tokens["refresh_token"]
        async with http.post(
            f"{identity}/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        ) as response:
            assert response.status == 400
            assert (await response.json())["error"] == "invalid_grant"

    # One id follows the flow from the HTTP request in identity to the e-mail sent by notifications.
    notifications_log = services["notifications"].log_path
    await wait_for(lambda: flow_id in notifications_log.read_text(), timeout=10, what="correlation id in log")


async def test_operator_sees_the_delivery_with_a_token_verified_through_jwks(
    services: dict[str, ServiceProcess], mail_dir: Path, migrated: TestStack
) -> None:
    await load_demo_accounts(IdentitySettings(database_url=migrated.database_url))
    identity, notifications = services["identity"].url, services["notifications"].url
    address = f"someone{uuid.uuid4().hex[:8]}@example.com"
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{identity}/v1/accounts",
            json={"login": address.split("@")[0], "password": "another fine passphrase", "email": address},
        ) as response:
            assert response.status == 201
        await wait_for(lambda: read_mail(mail_dir, address), timeout=30, what="verification e-mail")
        async with http.post(
            f"{identity}/oauth/token",
            data={"grant_type": "password", "username": "operator", "password": "operator-password-2026"},
        ) as response:
            operator = await response.json()
        async with http.get(
            f"{notifications}/v1/deliveries",
            params={"recipient": address},
            headers={"Authorization": f"Bearer {operator['access_token']}"},
        ) as response:
            assert response.status == 200, await response.text()
            [delivery] = (await response.json())["items"]
        assert delivery["status"] == "sent" and delivery["template"] == "email_verification"

        async with http.post(
            f"{identity}/oauth/token",
            data={"grant_type": "password", "username": "demo", "password": "demo-password-2026"},
        ) as response:
            customer = await response.json()
        async with http.get(
            f"{notifications}/v1/deliveries", headers={"Authorization": f"Bearer {customer['access_token']}"}
        ) as response:
            assert response.status == 403
