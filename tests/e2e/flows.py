"""What the e2e tests share: the running stack seen from outside (identity and registration over HTTP), the
people and partners it serves, registration's catalogue, and moves of the shared test clock."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from services.identity.app import IdentitySettings
from services.identity.bootstrap import ensure_account
from services.registration import domain
from shared.clock import RELOAD_SECONDS, TestClock
from shared.db import Pool
from tests.e2e.conftest import link_token, read_mail
from tests.infra import ROOT, ServiceProcess, TestStack, wait_for

PROBLEMS = "https://its-portal.dev/problems/"
PASSWORD = "velvet orbit lantern 2026"
MOSCOW = ZoneInfo("Europe/Moscow")
PURCHASED = (datetime.now(MOSCOW) - timedelta(days=3)).date()


# ---- helpers ----------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


async def new_operator(full_name: str) -> str:
    """A new operator (password PASSWORD), made as `itsctl operator create` makes one: its login."""
    login = unique("olga")
    outcome = await ensure_account(
        IdentitySettings(),
        login=login,
        password=PASSWORD,
        email=f"{login}@vendor.example",
        full_name=full_name,
        operator=True,
    )
    assert outcome == "created"
    return login


def ean13(first12: str) -> str:
    """`first12` and its EAN-13 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


def new_article() -> str:
    return ean13("460" + f"{secrets.randbelow(10**9):09d}")


def unknown_number() -> str:
    """Well formed (10 digits and a Luhn check digit), almost surely never issued."""
    body = str(secrets.randbelow(9 * 10**9) + 10**9)
    return body + domain.luhn_digit(body)


def wrong_pin(pin: str) -> str:
    return f"{(int(pin) + 1) % 10**domain.PIN_LENGTH:0{domain.PIN_LENGTH}d}"


def card(email: str, **changes: Any) -> dict[str, Any]:
    """A full registration card (REG-2)."""
    return {
        "company_name": "Romashka LLC",
        "activity_type": "Wholesale trade",
        "postal_code": "420111",
        "address": "Kazan, Kremlyovskaya st. 1, office 5",
        "head_of_organisation": "Anna Romanova",
        "responsible_person": "Boris Ivanov",
        "phone": "+7 843 123-45-67",
        "email": email,
        "purchased_from": "Franchisee One, Kazan",
        "purchase_date": PURCHASED.isoformat(),
        "workplaces": 5,
        **changes,
    }


def problem_type(body: Any) -> str:
    value = body.get("type", "") if isinstance(body, dict) else ""
    return str(value)


def months_ahead(today: date, months: int) -> str:
    index = today.year * 12 + today.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@contextlib.asynccontextmanager
async def clock_moved(stack: TestStack, by: timedelta) -> AsyncIterator[None]:
    """Move the shared test clock, and put it back afterwards; every process sees a move within
    `RELOAD_SECONDS`, so each move waits a little longer than that (a token issued by identity on the old
    clock would be expired on registration's new one)."""
    clock = TestClock(stack.var_dir)
    saved = clock.offset()
    clock.advance(by)
    await asyncio.sleep(RELOAD_SECONDS * 2)
    try:
        yield
    finally:
        clock.set_offset(saved)
        await asyncio.sleep(RELOAD_SECONDS * 2)


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str]


@dataclass
class Customer:
    login: str
    email: str
    full_name: str
    token: str
    code: str


@dataclass
class Partner:
    id: str
    name: str
    token: str
    email: str = ""  # its contact address: where notifications writes to it
    client_id: str = ""  # its back-office system's credentials, for a new token after a clock move
    client_secret: str = ""


@dataclass(frozen=True)
class Issued:
    number: str
    pin: str | None


class Portal:
    """The running stack, seen from outside: identity and registration over HTTP."""

    def __init__(self, http: aiohttp.ClientSession, services: dict[str, ServiceProcess], db: Pool) -> None:
        self.http, self.db = http, db
        self.identity = services["identity"].url
        self.registration = services["registration"].url

    async def call(
        self, method: str, url: str, token: str | None = None, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> Reply:
        headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        async with self.http.request(method, url, headers=headers, **kw) as response:
            body = await response.json(content_type=None) if response.status != 204 else None
            return Reply(response.status, body, dict(response.headers))

    async def reg(self, method: str, path: str, token: str | None = None, **kw: Any) -> Reply:
        return await self.call(method, f"{self.registration}{path}", token, **kw)

    async def login(self, login: str, password: str = PASSWORD) -> str:
        form = {"grant_type": "password", "username": login, "password": password}
        reply = await self.call("POST", f"{self.identity}/oauth/token", data=form)
        assert reply.status == 200, reply.body
        return str(reply.body["access_token"])

    async def relogin(self, customer: Customer) -> None:
        customer.token = await self.login(customer.login)

    # ---- identity: people and partners --------------------------------------------------------

    async def operator(self) -> str:
        """A new operator's access token."""
        return (await self.operator_account())[1]

    async def operator_account(self) -> tuple[str, str]:
        """A new operator (password PASSWORD): its login and an access token."""
        login = await new_operator("Olga Operator")
        return login, await self.login(login)

    async def customer(self, full_name: str = "Ivan Petrov", *, verified_through: Path | None = None) -> Customer:
        """A new account with its own subscriber (SUB-1), logged in, known to registration (its read model).

        With `verified_through` (the mail directory), its e-mail address is verified from the e-mail's link."""
        login = unique("ivan")
        email = f"{login}@example.com"
        reply = await self.call(
            "POST",
            f"{self.identity}/v1/accounts",
            json={"login": login, "password": PASSWORD, "email": email, "full_name": full_name},
        )
        assert reply.status == 201, reply.body
        if verified_through is not None:
            mail_dir = verified_through
            [message] = await wait_for(lambda: read_mail(mail_dir, email), timeout=30, what="the verification e-mail")
            token = link_token(body_text(message), "/verify-email")  # the portal's page calls identity with it
            verified = await self.call("GET", f"{self.identity}/v1/email-verifications/{token}")
            assert verified.status == 200, verified.body
        token = await self.login(login)
        subscriber = await self.call("GET", f"{self.identity}/v1/subscriber", token)
        assert subscriber.status == 200, subscriber.body
        code = str(subscriber.body["code"])
        await self.wait_known_subscriber(code)
        return Customer(login, email, full_name, token, code)

    async def invited_user(self, owner: Customer, mail_dir: Path, *, its_access: bool = False) -> Customer:
        """A newcomer invited by `owner` (INV-2..5), with the ITS right or not (SUB-5), logged in for the owner's
        subscriber as a user (SUB-7)."""
        login = unique("nina")
        email = f"{login}@example.com"
        invitation = await self.call(
            "POST",
            f"{self.identity}/v1/subscriber/invitations",
            owner.token,
            json={"full_name": "Nina New", "email": email, "its_access": its_access},
        )
        assert invitation.status == 201, invitation.body
        [message] = await wait_for(lambda: read_mail(mail_dir, email), timeout=30, what="the invitation e-mail")
        link = link_token(body_text(message), "/invitation")
        joined = await self.call(
            "POST",
            f"{self.identity}/v1/invitations/{link}/register",
            json={"login": login, "password": PASSWORD, "full_name": "Nina New", "email": email, "accept_terms": True},
        )
        assert joined.status == 201, joined.body
        form = {"grant_type": "password", "username": login, "password": PASSWORD, "subscriber": owner.code}
        token = await self.call("POST", f"{self.identity}/oauth/token", data=form)
        assert token.status == 200, token.body
        return Customer(login, email, "Nina New", str(token.body["access_token"]), owner.code)

    async def partner(self, operator: str) -> Partner:
        """A new partner (its own contact address) with a back-office client, logged in by client_credentials."""
        name = unique("Franchisee ")
        email = f"{unique('office')}@franchisee.example"
        tin = f"{secrets.randbelow(9 * 10**9) + 10**9}"
        reply = await self.call(
            "POST",
            f"{self.identity}/v1/partners",
            operator,
            json={"name": name, "tin": tin, "city": "Kazan", "contact_email": email},
        )
        assert reply.status == 201, reply.body
        partner_id = str(reply.body["id"])
        client = await self.call(
            "POST", f"{self.identity}/v1/partners/{partner_id}/clients", operator, json={"name": "back office"}
        )
        assert client.status == 201, client.body
        partner = Partner(partner_id, name, "", email, str(client.body["client_id"]), str(client.body["client_secret"]))
        await self.relogin_partner(partner)
        await wait_for(
            lambda: self.db.fetchval("SELECT name FROM partners WHERE id = $1", uuid.UUID(partner_id)),
            timeout=15,
            what="registration to learn the partner from identity's event",
        )
        return partner

    async def relogin_partner(self, partner: Partner) -> None:
        """A new access token for the partner's system (client_credentials)."""
        basic = base64.b64encode(f"{partner.client_id}:{partner.client_secret}".encode()).decode()
        token = await self.call(
            "POST",
            f"{self.identity}/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert token.status == 200, token.body
        assert token.body["scope"] == "partner"
        partner.token = str(token.body["access_token"])

    async def wait_known_subscriber(self, code: str) -> None:
        """registration learns subscribers and their owners' e-mails from identity's events."""
        await wait_for(
            lambda: self.db.fetchval(
                "SELECT a.email FROM subscribers s JOIN accounts a ON a.id = s.owner_account_id WHERE s.code = $1",
                code,
            ),
            timeout=15,
            what=f"registration to learn subscriber {code} and its owner from identity's events",
        )

    # ---- registration: the catalogue ----------------------------------------------------------

    async def configuration(self, operator: str, name: str = "Accounting", category: int = 1) -> str:
        code = unique("Cfg")
        reply = await self.reg(
            "PUT",
            f"/v1/configurations/{code}",
            operator,
            json={"name": f"{name} {code}", "maintenance_category": category, "vendor": "1C"},
        )
        assert reply.status == 201, reply.body
        await wait_for(  # updates refuses releases of configurations it has not heard of (422)
            lambda: self.db.fetchval("SELECT 1 FROM updates.configurations WHERE code = $1", code),
            timeout=15,
            what="updates to learn the configuration from registration's event",
        )
        return code

    async def product(
        self,
        operator: str,
        configurations: list[str],
        *,
        edition: str,
        pin_envelope: bool,
        article: str | None = None,
    ) -> str:
        article = article or new_article()
        reply = await self.reg(
            "PUT",
            f"/v1/products/{article}",
            operator,
            json={
                "name": f"{edition} product {article}",
                "edition": edition,
                "configurations": configurations,
                "pin_envelope": pin_envelope,
            },
        )
        assert reply.status in (200, 201), reply.body
        return article

    async def issue(self, operator: str, article: str, count: int, with_pin: bool | None = None) -> list[Issued]:
        body: dict[str, Any] = {"count": count}
        if with_pin is not None:
            body["with_pin"] = with_pin
        reply = await self.reg("POST", f"/v1/products/{article}/registration-numbers", operator, json=body)
        assert reply.status == 201, reply.body
        assert reply.body["article"] == article and len(reply.body["items"]) == count
        return [Issued(item["registration_number"], item["pin"]) for item in reply.body["items"]]

    # ---- registration: registering and looking ------------------------------------------------

    async def register_with_pin(self, customer: Customer, number: str, pin: str) -> Reply:
        return await self.reg(
            "POST",
            "/v1/registrations/pin",
            customer.token,
            json={"registration_number": number, "pin": pin, "card": card(customer.email)},
        )

    async def authorise(self, partner: Partner, number: str, subscriber_code: str) -> Reply:
        return await self.reg(
            "POST",
            "/v1/registrations/partner",
            partner.token,
            json={
                "registration_number": number,
                "subscriber_code": subscriber_code,
                "purchase_date": PURCHASED.isoformat(),
            },
        )

    async def registrations(self, customer: Customer) -> dict[str, dict[str, Any]]:
        reply = await self.reg("GET", "/v1/registrations", customer.token)
        assert reply.status == 200, reply.body
        return {item["registration_number"]: item for item in reply.body["items"]}

    async def access(self, customer: Customer) -> dict[str, dict[str, Any]]:
        reply = await self.reg("GET", "/v1/configurations/access", customer.token)
        assert reply.status == 200, reply.body
        return {item["code"]: item for item in reply.body["items"]}


# ---- signed update metadata (TUF) -----------------------------------------------------------------------------------


def itsctl(stack: TestStack, *args: str, token: str | None = None, updates_url: str | None = None) -> str:
    """`itsctl` as an operator runs it: a process, its output (asserting it succeeded)."""
    env = {**os.environ, **stack.env()}
    if token:
        env["ITS_TOKEN"] = token
    if updates_url:
        env["ITS_UPDATES_URL"] = updates_url
    done = subprocess.run(
        [sys.executable, "-m", "itsctl", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@dataclass(frozen=True)
class SignedMetadata:
    """The e2e stack's signed update metadata: updates serves it once its roots are installed."""

    keys: Path  # the key directory (tests/e2e/conftest.py `tuf_keys`)
    root_file: Path  # 1.root.json: the root a client program ships with

    @property
    def shipped_root(self) -> bytes:
        return self.root_file.read_bytes()


@pytest.fixture(scope="session")
async def signed_metadata(migrated: TestStack, tuf_keys: Path, services: dict[str, ServiceProcess]) -> SignedMetadata:
    """Every root of the key directory installed into updates (`itsctl tuf install-root`, as an operator does; the same
    root again is answered as installed), so that updates signs what is published."""
    from itsctl import tuf_root  # tuf and cryptography: only for the tests that need them

    keys = tuf_root.KeyDirectory(tuf_keys)
    operator = await new_operator("Tuf Operator")
    form = {"grant_type": "password", "username": operator, "password": PASSWORD}
    identity = services["identity"].url
    async with aiohttp.ClientSession() as http, http.post(f"{identity}/oauth/token", data=form) as answer:
        assert answer.status == 200, await answer.text()
        token = str((await answer.json())["access_token"])
    roots = [str(path) for path in keys.roots()]
    await asyncio.to_thread(
        itsctl, migrated, "tuf", "install-root", *roots, token=token, updates_url=services["updates"].url
    )
    return SignedMetadata(tuf_keys, keys.root_file(1))
