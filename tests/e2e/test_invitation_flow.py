"""Subscribers and invitations end to end: HTTP into identity, e-mails through notifications and the real
SMTP sink, links followed from the e-mails (rules SUB-1..7, INV-1..6)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.conftest import link_token, read_mail
from tests.infra import ServiceProcess, wait_for


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # SMTP line endings


async def mail_to(mail_dir: Path, address: str, count: int = 1) -> list[EmailMessage]:
    return list(
        await wait_for(
            lambda: len(read_mail(mail_dir, address)) >= count and read_mail(mail_dir, address),
            timeout=30,
            what=f"{count} e-mail(s) to {address}",
        )
    )


class Client:
    def __init__(self, http: aiohttp.ClientSession, identity: str) -> None:
        self.http, self.identity, self.token = http, identity, ""

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.request(method, f"{self.identity}{path}", headers=headers, **kw) as response:
            return response.status, (await response.json() if response.status != 204 else None)

    async def login(self, login: str, password: str, subscriber: str | None = None) -> None:
        form = {"grant_type": "password", "username": login, "password": password}
        if subscriber:
            form["subscriber"] = subscriber
        status, body = await self.call("POST", "/oauth/token", data=form)
        assert status == 200, body
        self.token = body["access_token"]


async def register_and_verify(
    client: Client,
    mail_dir: Path,
    login: str,
    email: str,
    full_name: str,
    *,
    before_verifying: Callable[[], Awaitable[None]] | None = None,
) -> None:
    status, _ = await client.call(
        "POST",
        "/v1/accounts",
        json={"login": login, "password": f"{login}-passphrase", "email": email, "full_name": full_name},
    )
    assert status == 201
    if before_verifying is not None:
        await before_verifying()
    [message] = await mail_to(mail_dir, email)
    token = link_token(body_text(message), "/verify-email")
    async with client.http.get(f"{client.identity}/v1/email-verifications/{token}") as response:
        assert response.status == 200


async def test_owner_invites_a_newcomer_and_an_existing_account(
    services: dict[str, ServiceProcess], mail_dir: Path
) -> None:
    identity = services["identity"].url
    tag = uuid.uuid4().hex[:8]
    owner_login, owner_email = f"olga{tag}", f"olga{tag}@example.com"
    async with aiohttp.ClientSession() as http:
        owner = Client(http, identity)

        async def cannot_invite_yet() -> None:  # INV-1: only after verifying her own e-mail
            await owner.login(owner_login, f"{owner_login}-passphrase")
            status, problem = await owner.call(
                "POST",
                "/v1/subscriber/invitations",
                json={"full_name": "Too Early", "email": f"early{tag}@example.com"},
            )
            assert status == 403 and problem["type"].endswith("/email-not-verified")

        await register_and_verify(
            owner, mail_dir, owner_login, owner_email, "Olga Owner", before_verifying=cannot_invite_yet
        )  # SUB-1
        status, subscriber = await owner.call("PATCH", "/v1/subscriber", json={"name": f"Romashka {tag}"})  # SUB-3
        assert status == 200 and re.fullmatch(r"CL-\d{7}", subscriber["code"])  # SUB-2

        # A newcomer: the invitation e-mail carries the owner's text, the link and the date (INV-2, INV-3).
        newcomer = f"nina{tag}@example.com"
        status, invitation = await owner.call(
            "POST", "/v1/subscriber/invitations", json={"full_name": "Nina New", "email": newcomer, "its_access": True}
        )
        assert status == 201
        [message] = await mail_to(mail_dir, newcomer)
        text = body_text(message)
        assert invitation["text"].strip() in text
        assert "valid until" in text
        # The link opens the portal's page, which calls identity's API with the token: so does this test.
        link = f"{identity}/v1/invitations/{link_token(text, '/invitation')}"
        async with http.get(link) as response:
            preview = await response.json()
        assert preview["subscriber_name"] == f"Romashka {tag}" and preview["full_name"] == "Nina New"
        # INV-5: registers from the link, editing the prefilled name; sees the owner's contact and her right.
        async with http.post(
            f"{link}/register",
            json={
                "login": f"nina{tag}",
                "password": "nina-passphrase-1",
                "full_name": "Nina N. New",
                "email": newcomer,
                "accept_terms": True,
            },
        ) as response:
            assert response.status == 201
            accepted = await response.json()
        assert accepted["its_access"] is True and accepted["account"]["email_verified"] is True
        assert accepted["owner"] == {"name": "Olga Owner", "email": owner_email}
        # The owner is told (notifications).
        [told] = (await mail_to(mail_dir, owner_email, count=2))[1:]
        assert "Nina N. New" in body_text(told)

        # The newcomer acts for the owner's subscriber when she names it (SUB-7).
        nina = Client(http, identity)
        await nina.login(f"nina{tag}", "nina-passphrase-1", subscriber=subscriber["code"])
        status, seen = await nina.call("GET", "/v1/subscriber")
        assert (seen["code"], seen["role"], seen["rights"]) == (subscriber["code"], "user", ["its_access"])

        # An existing account accepts after logging in; a newer invitation voids the older link (INV-4).
        existing = f"ivan{tag}@example.com"
        ivan = Client(http, identity)
        await register_and_verify(ivan, mail_dir, f"ivan{tag}", existing, "Ivan Petrov")
        await ivan.login(f"ivan{tag}", f"ivan{tag}-passphrase")
        # Each invitation's e-mail awaited before the next: e-mails are sent several at once, in no set order.
        for count in (2, 3):
            status, _ = await owner.call(
                "POST",
                "/v1/subscriber/invitations",
                json={"full_name": "Ivan Petrov", "email": existing.upper(), "its_access": False},
            )
            assert status == 201
            await mail_to(mail_dir, existing, count=count)
        first, second = (await mail_to(mail_dir, existing, count=3))[1:]
        old_link, new_link = (
            f"{identity}/v1/invitations/{link_token(body_text(m), '/invitation')}" for m in (first, second)
        )
        status, _ = await ivan.call("POST", f"{old_link.removeprefix(identity)}/accept")
        assert status == 404
        status, accepted = await ivan.call("POST", f"{new_link.removeprefix(identity)}/accept")
        assert status == 200 and accepted["its_access"] is False

        # INV-6: every invitation with its state; SUB-4..6: rights and exclusion.
        status, listed = await owner.call("GET", "/v1/subscriber/invitations")
        assert sorted(i["state"] for i in listed["items"]) == ["accepted", "accepted", "superseded"]
        status, users = await owner.call("GET", "/v1/subscriber/users")
        assert [u["is_owner"] for u in users["items"]] == [True, False, False]
        nina_id = next(u["account_id"] for u in users["items"] if u["login"] == f"nina{tag}")
        ivan_id = next(u["account_id"] for u in users["items"] if u["login"] == f"ivan{tag}")
        status, _ = await owner.call("PUT", f"/v1/subscriber/users/{ivan_id}/rights", json={"its_access": True})
        assert status == 204
        await ivan.login(f"ivan{tag}", f"ivan{tag}-passphrase", subscriber=subscriber["code"])
        status, seen = await ivan.call("GET", "/v1/subscriber")
        assert seen["rights"] == ["its_access"]  # SUB-5: granted by the owner
        status, _ = await owner.call("DELETE", f"/v1/subscriber/users/{nina_id}")
        assert status == 204
        status, problem = await nina.call("GET", "/v1/subscriber")
        assert status == 403 and problem["type"].endswith("/membership-ended")
