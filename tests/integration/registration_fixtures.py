"""A registration app served in this test process, and what its tests share: tokens, a catalogue,
subscribers made known to it through identity's events, events published as other services would."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.registration import domain
from services.registration.app import SCHEMA, RegistrationSettings, create_app
from shared.bus import Bus
from shared.clock import RELOAD_SECONDS, TestClock
from shared.db import Pool
from shared.events import Envelope, Event, wrap
from shared.events.identity import AccountRegistered, PartnerCreated, SubscriberCreated
from tests.drawn import unused_subscriber_code
from tests.infra import RunningApp, TestStack, wait_for
from tests.integration.service_fixtures import pool_fixture, publisher_fixture
from tests.tokens import TestKeys

ARTICLES = iter(range(100_000))


@pytest.fixture(scope="module")
def keys() -> TestKeys:
    return TestKeys()


@pytest.fixture(scope="module")
async def registration(migrated: TestStack, keys: TestKeys) -> AsyncIterator[RunningApp]:
    async with RunningApp(create_app(RegistrationSettings(), keys=keys)) as running:
        yield running


publisher = publisher_fixture("registration")
pool = pool_fixture(SCHEMA)


async def publish(bus: Bus, event: Event, producer: str = "identity") -> Envelope:
    envelope = wrap(event, producer=producer, occurred_at=datetime.now(UTC))
    await bus.publish(
        envelope.type, envelope.model_dump_json().encode(), message_id=str(envelope.id), message_type=envelope.type
    )
    return envelope


@contextlib.asynccontextmanager
async def clock_moved(stack: TestStack, by: timedelta) -> AsyncIterator[TestClock]:
    """Move the shared test clock, and put it back afterwards; each time, until every process saw it."""
    clock = TestClock(stack.var_dir)
    saved = clock.offset()
    clock.advance(by)
    await asyncio.sleep(2 * RELOAD_SECONDS)
    try:
        yield clock
    finally:
        clock.set_offset(saved)
        await asyncio.sleep(2 * RELOAD_SECONDS)


@dataclass(frozen=True)
class Customer:
    """A subscriber known to registration (through identity's events) and its owner's token."""

    subscriber_id: uuid.UUID
    code: str
    owner_id: uuid.UUID
    email: str
    name: str

    def claims(self, role: str = "owner") -> dict[str, Any]:
        rights = ["its_access"]
        return {"subscriber": {"id": str(self.subscriber_id), "code": self.code, "role": role, "rights": rights}}


class World:
    """Tokens on the shared clock, and the subscribers, partners and catalogue of one test module."""

    def __init__(self, stack: TestStack, keys: TestKeys, app: RunningApp, bus: Bus, pool: Pool) -> None:
        self.stack, self.keys, self.app, self.bus, self.pool = stack, keys, app, bus, pool

    def now(self) -> float:
        return TestClock(self.stack.var_dir).now().timestamp()

    def token(self, **claims: Any) -> str:
        # Long-lived, so a token outlives the tests' moves of the shared clock (an hour at most).
        return self.keys.token(now=self.now(), ttl=3 * 3600, **claims)

    def operator(self) -> dict[str, str]:
        return self.auth(self.token(scope="operator", role="operator"))

    def owner(self, customer: Customer, role: str = "owner") -> dict[str, str]:
        return self.auth(self.token(account_id=customer.owner_id, role="customer", **customer.claims(role)))

    def partner(self, partner_id: uuid.UUID) -> dict[str, str]:
        return self.auth(self.token(role="partner", partner={"id": str(partner_id), "admin": False}))

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def customer(self, *, language: str = "en") -> Customer:
        """A new subscriber, announced as identity announces it, once registration has learnt it."""
        tag = uuid.uuid4().hex[:10]
        customer = Customer(
            subscriber_id=uuid.uuid4(),
            code=await unused_subscriber_code(self.pool),
            owner_id=uuid.uuid4(),
            email=f"owner.{tag}@example.com",
            name=f"Romashka {tag}",
        )
        await publish(
            self.bus,
            AccountRegistered(
                account_id=customer.owner_id,
                login=f"owner{tag}",
                email=customer.email,
                full_name="Olga Owner",
                language=language,
            ),
        )
        await publish(
            self.bus,
            SubscriberCreated(
                subscriber_id=customer.subscriber_id,
                code=customer.code,
                name=customer.name,
                owner_account_id=customer.owner_id,
            ),
        )
        await self.wait_for_row("SELECT 1 FROM accounts WHERE id = $1", customer.owner_id)
        await self.wait_for_row("SELECT 1 FROM subscribers WHERE id = $1", customer.subscriber_id)
        return customer

    async def partner_named(self, name: str) -> uuid.UUID:
        partner_id = uuid.uuid4()
        await publish(
            self.bus,
            PartnerCreated(
                partner_id=partner_id, name=name, tin="7707083893", city="Kazan", contact_email="p@example.com"
            ),
        )
        await self.wait_for_row("SELECT 1 FROM partners WHERE id = $1", partner_id)
        return partner_id

    async def wait_for_row(self, sql: str, *args: Any) -> None:
        async def found() -> bool:
            async with self.pool.acquire() as conn:
                return bool(await conn.fetchval(sql, *args))

        await wait_for(found, timeout=15, what=sql)

    async def call(self, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> tuple[int, Any]:
        async with self.app.http.request(method, path, headers=headers, **kw) as response:
            body = await response.json() if response.content_type.endswith("json") else await response.text()
            return response.status, body

    async def product(self, edition: str = "BASIC", *, pin_envelope: bool = True, configurations: int = 1) -> str:
        """A new product (with new configurations) in the catalogue; returns its article."""
        codes = []
        for _ in range(configurations):
            code = f"Conf{uuid.uuid4().hex[:8]}"
            status, _ = await self.call(
                "PUT",
                f"/v1/configurations/{code}",
                self.operator(),
                json={"name": f"Configuration {code}", "maintenance_category": 1, "vendor": "1C"},
            )
            assert status == 201
            codes.append(code)
        article = ean13(f"460{next(ARTICLES):09d}")
        body = {"name": f"Product {article}", "edition": edition, "configurations": codes, "pin_envelope": pin_envelope}
        status, _ = await self.call("PUT", f"/v1/products/{article}", self.operator(), json=body)
        assert status == 201
        return article

    async def issue(self, article: str, count: int = 1, with_pin: bool | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"count": count} if with_pin is None else {"count": count, "with_pin": with_pin}
        status, answer = await self.call(
            "POST", f"/v1/products/{article}/registration-numbers", self.operator(), json=body
        )
        assert status == 201, answer
        items: list[dict[str, Any]] = answer["items"]
        return items

    async def register_with_pin(self, customer: Customer, number: str, pin: str, **card: Any) -> tuple[int, Any]:
        return await self.call(
            "POST",
            "/v1/registrations/pin",
            self.owner(customer),
            json={"registration_number": number, "pin": pin, "card": card_of(**card)},
        )

    async def outbox(self, event_type: str, number: str) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT envelope FROM outbox WHERE routing_key = $1 AND envelope::text LIKE $2 ORDER BY created_at",
                event_type,
                f"%{number}%",
            )
        return [row["envelope"] for row in rows]


@pytest.fixture(scope="module")
def world(migrated: TestStack, keys: TestKeys, registration: RunningApp, publisher: Bus, pool: Pool) -> World:
    return World(migrated, keys, registration, publisher, pool)


def ean13(first_twelve: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first_twelve))
    return first_twelve + str((10 - total % 10) % 10)


def unknown_number() -> str:
    body = f"{uuid.uuid4().int % 9 * 10**9 + 10**9 + uuid.uuid4().int % 10**9}"[:10]
    return body + domain.luhn_digit(body)


def card_of(**overrides: Any) -> dict[str, Any]:
    card: dict[str, Any] = {
        "company_name": "Romashka LLC",
        "activity_type": "retail",
        "postal_code": "101000",
        "address": "Moscow, Tverskaya 1",
        "head_of_organisation": "Ivan Ivanov",
        "responsible_person": "Petr Petrov",
        "phone": "+7 495 123-45-67",
        "email": "office@romashka.example",
        "purchased_from": "Franchisee One",
        "purchase_date": (date.today() - timedelta(days=10)).isoformat(),
        "workplaces": 3,
    }
    card.update(overrides)
    return card


__all__ = [
    "Customer",
    "World",
    "card_of",
    "clock_moved",
    "ean13",
    "keys",
    "pool",
    "publish",
    "publisher",
    "registration",
    "unknown_number",
    "world",
]
