"""A contracts app served in this test process, and what its tests share: tokens on the shared test
clock, the clock set to chosen moments, registration's and identity's events published as they would be."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.contracts.app import SCHEMA, ContractsSettings, create_app
from services.registration.domain import luhn_digit
from shared.bus import Bus
from shared.clock import RELOAD_SECONDS, TestClock
from shared.db import Pool
from shared.events import Envelope, Event, wrap
from shared.events.identity import PartnerCreated, SubscriberCreated
from shared.events.registration import ConfigurationChanged, NumbersIssued, ProductActivated, ProductChanged
from tests.drawn import unused_subscriber_code
from tests.infra import RunningApp, TestStack, wait_for
from tests.integration.service_fixtures import pool_fixture, publisher_fixture
from tests.tokens import TestKeys

MOSCOW = ZoneInfo("Europe/Moscow")
VALID_TIN, VALID_KPP = "7707083893", "773601001"


@pytest.fixture(scope="module")
def keys() -> TestKeys:
    return TestKeys()


@pytest.fixture(scope="module")
async def contracts(migrated: TestStack, keys: TestKeys) -> AsyncIterator[RunningApp]:
    async with RunningApp(create_app(ContractsSettings(jobs_poll_seconds=0.1), keys=keys)) as running:
        yield running


publisher = publisher_fixture("contracts")
pool = pool_fixture(SCHEMA)


def moscow(text: str) -> datetime:
    """`2026-11-27 23:59` in Moscow, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=MOSCOW)


def new_number() -> str:
    body = str(10**9 + uuid.uuid4().int % (9 * 10**9))
    return body + luhn_digit(body)


@dataclass(frozen=True)
class Customer:
    subscriber_id: uuid.UUID
    code: str
    account_id: uuid.UUID


@dataclass(frozen=True)
class Partner:
    id: uuid.UUID
    name: str
    email: str


class World:
    def __init__(self, stack: TestStack, keys: TestKeys, app: RunningApp, bus: Bus, pool: Pool) -> None:
        self.stack, self.keys, self.app, self.bus, self.pool = stack, keys, app, bus, pool
        self.clock = TestClock(stack.var_dir)

    # ---- time -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def clock_at(self, when: datetime) -> AsyncIterator[None]:
        """The shared clock at `when` (it runs on from there); put back afterwards."""
        saved = self.clock.offset()
        await self.set_clock(when)
        try:
            yield
        finally:
            self.clock.set_offset(saved)
            await asyncio.sleep(2 * RELOAD_SECONDS)

    async def set_clock(self, when: datetime) -> None:
        self.clock.set(when)
        await asyncio.sleep(2 * RELOAD_SECONDS)  # every process reloads the clock file

    # ---- callers --------------------------------------------------------------------------

    def token(self, **claims: Any) -> dict[str, str]:
        token = self.keys.token(now=self.clock.now().timestamp(), ttl=400 * 86400, **claims)
        return {"Authorization": f"Bearer {token}"}

    def operator(self) -> dict[str, str]:
        return self.token(scope="operator", role="operator")

    def owner(self, customer: Customer, role: str = "owner") -> dict[str, str]:
        sub = {"id": str(customer.subscriber_id), "code": customer.code, "role": role, "rights": ["its_access"]}
        return self.token(account_id=customer.account_id, role="customer", subscriber=sub)

    def partner_token(self, partner: Partner) -> dict[str, str]:
        return self.token(role="partner", scope="partner", partner={"id": str(partner.id), "admin": False})

    async def call(self, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> tuple[int, Any]:
        async with self.app.http.request(method, path, headers=headers, **kw) as response:
            body = await response.json() if response.content_type.endswith("json") else await response.text()
            return response.status, body

    # ---- other services' events ----------------------------------------------------------------

    async def publish(self, event: Event, producer: str) -> Envelope:
        envelope = wrap(event, producer=producer, occurred_at=datetime.now(UTC))
        await self.bus.publish(
            envelope.type, envelope.model_dump_json().encode(), message_id=str(envelope.id), message_type=envelope.type
        )
        return envelope

    async def customer(self) -> Customer:
        customer = Customer(uuid.uuid4(), await unused_subscriber_code(self.pool), uuid.uuid4())
        await self.publish(
            SubscriberCreated(
                subscriber_id=customer.subscriber_id,
                code=customer.code,
                name=f"Romashka {customer.code}",
                owner_account_id=customer.account_id,
            ),
            "identity",
        )
        await self.wait_for_row("SELECT 1 FROM subscribers WHERE id = $1", customer.subscriber_id)
        return customer

    async def partner(self, name: str = "Franchisee One") -> Partner:
        partner = Partner(uuid.uuid4(), name, f"office.{uuid.uuid4().hex[:8]}@franchisee.example")
        await self.publish(
            PartnerCreated(partner_id=partner.id, name=name, tin=VALID_TIN, city="Kazan", contact_email=partner.email),
            "identity",
        )
        await self.wait_for_row("SELECT 1 FROM partners WHERE id = $1", partner.id)
        return partner

    async def configuration(self, category: int = 1) -> str:
        code = f"Conf{uuid.uuid4().hex[:8]}"
        await self.publish(
            ConfigurationChanged(code=code, name=f"Configuration {code}", maintenance_category=category, vendor="1C"),
            "registration",
        )
        await self.wait_for_row("SELECT 1 FROM configurations WHERE code = $1", code)
        return code

    async def issued(self, edition: str = "PROF", count: int = 1, configurations: list[str] | None = None) -> list[str]:
        """Numbers of a new product, in the catalogue (as registration announces them)."""
        article = f"460{uuid.uuid4().int % 10**10:010d}"
        configurations = configurations or [await self.configuration()]
        await self.publish(
            ProductChanged(
                article=article,
                name=f"Product {article}",
                edition=edition,
                configurations=configurations,
                pin_envelope=True,
                its_required=edition != "BASIC",
            ),
            "registration",
        )
        numbers = [new_number() for _ in range(count)]
        await self.publish(
            NumbersIssued(
                batch_id=uuid.uuid4(),
                article=article,
                edition=edition,
                registration_numbers=numbers,
                with_pin=True,
            ),
            "registration",
        )
        await self.wait_for_row("SELECT 1 FROM numbers WHERE number = $1", numbers[-1])
        return numbers

    async def register(
        self,
        customer: Customer,
        number: str,
        *,
        purchase_date: date = date(2025, 1, 15),
        edition: str | None = None,
        configurations: list[str] | None = None,
    ) -> None:
        """The number registered to the customer and active, as registration announces it."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT article, edition FROM numbers WHERE number = $1", number)
            assert row is not None, f"{number} was not issued"
            product = await conn.fetchrow("SELECT configurations FROM products WHERE article = $1", row["article"])
            assert product is not None
        await self.publish(
            ProductActivated(
                registration_number=number,
                subscriber_id=customer.subscriber_id,
                subscriber_code=customer.code,
                article=row["article"],
                product_name="Product",
                edition=edition or row["edition"],
                configurations=configurations or list(product["configurations"]),
                its_required=(edition or row["edition"]) != "BASIC",
                purchase_date=purchase_date,
                registered_by="self",
                active_from=datetime.now(UTC),
            ),
            "registration",
        )
        await self.wait_for_row(
            "SELECT 1 FROM numbers WHERE number = $1 AND subscriber_id = $2 AND registration = 'active'",
            number,
            customer.subscriber_id,
        )

    async def wait_for_row(self, sql: str, *args: Any, timeout: float = 15) -> None:
        async def found() -> bool:
            async with self.pool.acquire() as conn:
                return bool(await conn.fetchval(sql, *args))

        await wait_for(found, timeout=timeout, what=sql)

    # ---- contracts --------------------------------------------------------------------------

    def contract_body(
        self, main: str, *, period: tuple[str, str], additional: list[str] | None = None, **extra: Any
    ) -> dict[str, Any]:
        return {
            "number": f"ITS-{uuid.uuid4().hex[:10]}",
            "organisation": {"name": "Romashka LLC", "tin": VALID_TIN, "kpp": VALID_KPP},
            "main_registration_number": main,
            "additional_registration_numbers": additional or [],
            "period": {"from": period[0], "to": period[1]},
            "kind": "ITS PROF",
            **extra,
        }

    async def post_contract(self, partner: Partner, body: dict[str, Any], key: str | None = None) -> tuple[int, Any]:
        headers = {**self.partner_token(partner), "Idempotency-Key": key or uuid.uuid4().hex}
        return await self.call("POST", "/v1/contracts", headers, json=body)

    async def state(self, contract_id: str) -> str:
        async with self.pool.acquire() as conn:
            state: str = await conn.fetchval("SELECT state FROM contracts WHERE id = $1", uuid.UUID(contract_id))
            return state

    async def wait_state(self, contract_id: str, state: str) -> None:
        await self.wait_for_row("SELECT 1 FROM contracts WHERE id = $1 AND state = $2", uuid.UUID(contract_id), state)

    async def outbox(self, event_type: str, contract_id: str) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT envelope FROM outbox WHERE routing_key = $1 AND envelope->'data'->>'contract_id' = $2 "
                "ORDER BY created_at",
                event_type,
                contract_id,
            )
        return [row["envelope"] for row in rows]


@pytest.fixture(scope="module")
def world(migrated: TestStack, keys: TestKeys, contracts: RunningApp, publisher: Bus, pool: Pool) -> World:
    return World(migrated, keys, contracts, publisher, pool)


__all__ = [
    "MOSCOW",
    "Customer",
    "Partner",
    "World",
    "contracts",
    "keys",
    "moscow",
    "new_number",
    "pool",
    "publisher",
    "world",
]
