"""A support app served in this test process (SUP-1), with the events registration, contracts and identity would
publish sent to the real broker, so that support's own consumers build its read models; tokens of customers,
partners' staff and operators signed with a test key."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.support.app import SCHEMA, SupportSettings, create_app
from shared.bus import Bus
from shared.clock import TestClock
from shared.db import Pool
from shared.events import Envelope, Event, wrap
from shared.events.contracts import ContractActivated, Organisation
from shared.events.identity import PartnerCreated
from shared.events.registration import ProductActivated
from tests.infra import RunningApp, TestStack, wait_for
from tests.integration.service_fixtures import pool_fixture, publisher_fixture
from tests.tokens import TestKeys

PROBLEM = "https://its-portal.dev/problems/"
MAX_ATTACHMENT_BYTES = 6 * 1024 * 1024  # room for the 5 MiB of the memory test, little to send past it


@pytest.fixture(scope="module")
def keys() -> TestKeys:
    return TestKeys()


@pytest.fixture(scope="module")
def attachments_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("attachments")


@pytest.fixture(scope="module")
async def support(migrated: TestStack, keys: TestKeys, attachments_dir: Path) -> AsyncIterator[RunningApp]:
    settings = SupportSettings(attachments_dir=attachments_dir, max_attachment_bytes=MAX_ATTACHMENT_BYTES)
    async with RunningApp(create_app(settings, keys=keys)) as running:
        yield running


publisher = publisher_fixture("support")
pool = pool_fixture(SCHEMA)


def new_number() -> str:
    body = str(10**9 + uuid.uuid4().int % (9 * 10**9))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


@dataclass(frozen=True)
class Customer:
    subscriber_id: uuid.UUID
    code: str
    owner_id: uuid.UUID


@dataclass(frozen=True)
class Partner:
    id: uuid.UUID
    name: str


class World:
    def __init__(self, stack: TestStack, keys: TestKeys, app: RunningApp, bus: Bus, pool: Pool) -> None:
        self.stack, self.keys, self.app, self.bus, self.pool = stack, keys, app, bus, pool
        self.clock = TestClock(stack.var_dir)

    # ---- callers --------------------------------------------------------------------------

    def token(self, **claims: Any) -> dict[str, str]:
        token = self.keys.token(now=self.clock.now().timestamp(), ttl=400 * 86400, **claims)
        return {"Authorization": f"Bearer {token}"}

    def operator(self) -> dict[str, str]:
        return self.token(scope="operator", role="operator", login="olga")

    def staff(self, partner: Partner, account_id: uuid.UUID | None = None) -> dict[str, str]:
        return self.token(
            account_id=account_id or uuid.uuid4(),
            scope="partner",
            role="partner",
            login="pavel",
            partner={"id": str(partner.id), "admin": True},
        )

    def owner(self, customer: Customer) -> dict[str, str]:
        return self.member(customer, customer.owner_id, role="owner")

    def member(
        self,
        customer: Customer,
        account_id: uuid.UUID,
        role: str = "user",
        rights: tuple[str, ...] = ("its_access",),
    ) -> dict[str, str]:
        sub = {"id": str(customer.subscriber_id), "code": customer.code, "role": role, "rights": list(rights)}
        return self.token(account_id=account_id, role="customer", login=f"u{account_id.hex[:6]}", subscriber=sub)

    async def call(self, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> tuple[int, Any]:
        async with self.app.http.request(method, path, headers=headers, **kw) as response:
            body = await response.json() if response.content_type.endswith("json") else await response.read()
            if response.status >= 400:
                assert response.content_type == "application/problem+json", (response.status, body)
            return response.status, body

    # ---- other services' events -------------------------------------------------------------

    async def publish(self, event: Event, producer: str) -> Envelope:
        envelope = wrap(event, producer=producer, occurred_at=datetime.now(UTC))
        await self.bus.publish(
            envelope.type, envelope.model_dump_json().encode(), message_id=str(envelope.id), message_type=envelope.type
        )
        return envelope

    def customer(self) -> Customer:
        return Customer(uuid.uuid4(), f"CL-{uuid.uuid4().int % 10**7:07d}", uuid.uuid4())

    async def partner(self, name: str | None = None) -> Partner:
        partner = Partner(uuid.uuid4(), name or f"Partner {uuid.uuid4().hex[:6]}")
        await self.publish(
            PartnerCreated(
                partner_id=partner.id, name=partner.name, tin="7707083893", city="Moscow", contact_email="p@example.com"
            ),
            "identity",
        )
        await self.wait_for_row("SELECT 1 FROM partners WHERE id = $1", partner.id)
        return partner

    async def register(
        self,
        customer: Customer,
        *,
        configuration: str = "Accounting",
        edition: str = "PROF",
        purchase_date: date | None = None,
        active_from: datetime | None = None,
    ) -> str:
        number = new_number()
        await self.publish(
            ProductActivated(
                registration_number=number,
                subscriber_id=customer.subscriber_id,
                subscriber_code=customer.code,
                article="4601546041807",
                product_name=f"{configuration} {edition}",
                edition=edition,
                configurations=[configuration],
                its_required=edition != "BASIC",
                purchase_date=purchase_date or self.clock.now().date(),
                registered_by="self",
                active_from=active_from or self.clock.now() - timedelta(minutes=1),
            ),
            "registration",
        )
        await self.wait_for_row("SELECT 1 FROM registered_products WHERE registration_number = $1", number)
        return number

    async def contract(self, numbers: list[str], partner: Partner, period: tuple[str, str] | None = None) -> uuid.UUID:
        contract_id = uuid.uuid4()
        month = self.clock.now().strftime("%Y-%m")
        period = period or (month, month)
        await self.publish(
            ContractActivated(
                contract_id=contract_id,
                number=f"ITS-{contract_id.hex[:6]}",
                partner_id=partner.id,
                partner_name=partner.name,
                organisation=Organisation(name="Romashka", tin="7707083893", kpp="773601001"),
                main_registration_number=numbers[0],
                additional_registration_numbers=numbers[1:],
                period_from=period[0],
                period_to=period[1],
                kind="ITS PROF",
                activated_at=datetime.now(UTC),
            ),
            "contracts",
        )
        await self.wait_for_row("SELECT 1 FROM contract_numbers WHERE contract_id = $1", contract_id)
        return contract_id

    async def wait_for_row(self, sql: str, *args: Any, timeout: float = 15) -> None:
        async def found() -> bool:
            async with self.pool.acquire() as conn:
                return bool(await conn.fetchval(sql, *args))

        await wait_for(found, timeout=timeout, what=sql)

    # ---- questions ------------------------------------------------------------------------------

    async def ask(self, headers: dict[str, str], number: str | None, **fields: Any) -> tuple[int, Any]:
        body: dict[str, Any] = {
            "kind": "consulting",
            "subject": "VAT return does not post",
            "body": "The **VAT return** for Q3 stops with an error.",
            **fields,
        }
        if number is not None:
            body["registration_number"] = number
        return await self.call("POST", "/v1/questions", headers, json=body)

    async def count(self, table: str) -> int:
        async with self.pool.acquire() as conn:
            n: int = await conn.fetchval(f"SELECT count(*) FROM {table}")
            return n


@pytest.fixture(scope="module")
def world(migrated: TestStack, keys: TestKeys, support: RunningApp, publisher: Bus, pool: Pool) -> World:
    return World(migrated, keys, support, publisher, pool)


__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "PROBLEM",
    "Customer",
    "Partner",
    "World",
    "attachments_dir",
    "keys",
    "new_number",
    "pool",
    "publisher",
    "support",
    "world",
]
