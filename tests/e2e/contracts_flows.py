"""The contracts side of the e2e stack (partners' systems posting contracts, the shared clock moved to chosen
Moscow times), shared by the contracts and updates flows."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from services.contracts.app import SCHEMA as CONTRACTS_SCHEMA
from services.registration.app import SCHEMA as REGISTRATION_SCHEMA
from shared.clock import RELOAD_SECONDS, TestClock
from shared.db import Pool, close_pool, create_pool
from tests.e2e.conftest import read_mail
from tests.e2e.flows import Customer, Issued, Partner, Portal, Reply, card, unique
from tests.infra import ServiceProcess, TestStack, wait_for

MOSCOW = ZoneInfo("Europe/Moscow")
VALID_TIN, VALID_KPP = "7707083893", "773601001"  # check digits right (ITS-1)
CORRECTED = {"name": "Romashka JSC", "tin": "7736050003", "kpp": "773601001"}
UNKNOWN_NUMBER = "not a registration number of the catalogue"
# A purchase date before every moment the tests set the clock to (a purchase date after "today" is refused).
BOUGHT = date(2026, 11, 2)


def moscow(text: str) -> datetime:
    """`2026-11-27 23:59` in Moscow, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=MOSCOW)


def contract_body(
    main: str, period: tuple[str, str], additional: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "number": unique("ITS-"),
        "organisation": {"name": "Romashka LLC", "tin": VALID_TIN, "kpp": VALID_KPP},
        "main_registration_number": main,
        "additional_registration_numbers": additional or [],
        "period": {"from": period[0], "to": period[1]},
        "kind": "ITS PROF",
        **extra,
    }


def error_fields(reply: Reply) -> set[str]:
    return {str(e["field"]) for e in reply.body.get("errors", [])}


@dataclass
class Contracts:
    """The stack as contracts' users see it: partners' systems, subscribers, operators, client programs."""

    portal: Portal
    url: str
    db: Pool  # contracts' read models, only to wait for what no API answer tells (a partner it has learnt)
    stack: TestStack
    mail_dir: Path
    customers: list[Customer] = field(default_factory=list)
    partners: list[Partner] = field(default_factory=list)

    async def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Reply:
        return await self.portal.call(method, f"{self.url}{path}", token, **kw)

    # ---- time ---------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def clock_at(self, when: datetime) -> AsyncIterator[None]:
        """The shared clock at `when` (running on from there), put back afterwards."""
        clock = TestClock(self.stack.var_dir)
        saved = clock.offset()
        try:
            await self.move_to(when)
            yield
        finally:
            clock.set_offset(saved)
            await asyncio.sleep(2 * RELOAD_SECONDS)

    async def move_to(self, when: datetime) -> None:
        """Every process sees the move within RELOAD_SECONDS; tokens are issued anew on the new clock
        (identity's 15-minute tokens would have expired on a clock moved forward)."""
        TestClock(self.stack.var_dir).set(when)
        await asyncio.sleep(2 * RELOAD_SECONDS)
        await self.relogin()

    async def relogin(self) -> None:
        for customer in self.customers:
            await self.portal.relogin(customer)
        for partner in self.partners:
            await self.portal.relogin_partner(partner)

    # ---- people, partners, products -------------------------------------------------------------

    async def customer(self, full_name: str = "Ivan Petrov") -> Customer:
        customer = await self.portal.customer(full_name)
        self.customers.append(customer)
        return customer

    async def partner(self, operator: str) -> Partner:
        partner = await self.portal.partner(operator)
        self.partners.append(partner)
        await wait_for(
            lambda: self.db.fetchval("SELECT contact_email FROM partners WHERE id = $1", uuid.UUID(partner.id)),
            timeout=15,
            what="contracts to learn the partner from identity's event",
        )
        return partner

    async def product(
        self, operator: str, *, edition: str, category: int = 1, pin: bool = False, count: int = 1
    ) -> tuple[str, list[Issued]]:
        """A new configuration of `category`, a product of `edition` with it, and `count` numbers of it."""
        configuration = await self.portal.configuration(operator, "Trade Management", category)
        article = await self.portal.product(operator, [configuration], edition=edition, pin_envelope=pin)
        return configuration, await self.portal.issue(operator, article, count)

    async def authorise(self, partner: Partner, number: str, customer: Customer, purchase_date: date = BOUGHT) -> None:
        """The partner authorises the product for the customer (REG-5): active at once; awaited until contracts
        has it as the customer's registered product (the support status answers REGISTERED)."""
        reply = await self.portal.reg(
            "POST",
            "/v1/registrations/partner",
            partner.token,
            json={
                "registration_number": number,
                "subscriber_code": customer.code,
                "purchase_date": purchase_date.isoformat(),
            },
        )
        assert reply.status == 200 and reply.body["state"] == "active", reply.body

        async def registered() -> bool:
            status = await self.support_status(customer, number, "Any")
            return bool(status["registration"] == "REGISTERED")

        await wait_for(registered, timeout=15, interval=0.2, what=f"contracts to learn that {number} is registered")

    async def register_with_pin(self, customer: Customer, number: str, pin: str) -> Reply:
        """Self-registration (REG-2) with a full card."""
        return await self.portal.reg(
            "POST",
            "/v1/registrations/pin",
            customer.token,
            json={"registration_number": number, "pin": pin, "card": card(customer.email, purchase_date=str(BOUGHT))},
        )

    # ---- contracts ------------------------------------------------------------------------------

    async def post(self, partner: Partner, body: dict[str, Any], key: str | None = None) -> Reply:
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        return await self.call("POST", "/v1/contracts", partner.token, headers=headers, json=body)

    async def post_contract(self, partner: Partner, body: dict[str, Any], key: str | None = None) -> Reply:
        """Posted, once contracts has learnt the numbers from registration's events (until then the only
        refusal is "not a registration number of the catalogue", and nothing is stored)."""
        key = key or uuid.uuid4().hex

        async def accepted() -> Reply | None:
            reply = await self.post(partner, body, key)
            if reply.status == 422 and all(UNKNOWN_NUMBER in e["message"] for e in reply.body.get("errors", [])):
                return None
            return reply

        reply: Reply = await wait_for(accepted, timeout=15, interval=0.2, what="contracts to learn the numbers")
        assert reply.status == 202, reply.body
        return reply

    async def partner_contracts(self, partner: Partner) -> dict[str, dict[str, Any]]:
        reply = await self.call("GET", "/v1/partner/contracts", partner.token)
        assert reply.status == 200, reply.body
        return {item["id"]: item for item in reply.body["items"]}

    async def wait_state(self, partner: Partner, contract_id: str, state: str) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            contract = (await self.partner_contracts(partner))[contract_id]
            return contract if contract["state"] == state else None

        found: dict[str, Any] = await wait_for(
            reached, timeout=15, interval=0.2, what=f"contract {contract_id} to be {state}"
        )
        return found

    async def listed(self, customer: Customer) -> dict[str, dict[str, Any]]:
        reply = await self.call("GET", "/v1/contracts", customer.token)
        assert reply.status == 200, reply.body
        return {item["id"]: item for item in reply.body["items"]}

    async def why(self, customer: Customer, number: str, **query: str) -> dict[str, Any]:
        reply = await self.call(
            "GET", "/v1/contracts/why-not-listed", customer.token, params={"number": number, **query}
        )
        assert reply.status == 200, reply.body
        answer: dict[str, Any] = reply.body
        return answer

    async def coverage(self, customer: Customer, number: str, month: str | None = None) -> Reply:
        params = {"registration_number": number, **({"month": month} if month else {})}
        return await self.call("GET", "/v1/coverage", customer.token, params=params)

    async def support_status(self, customer: Customer, number: str, configuration: str) -> dict[str, Any]:
        reply = await self.call(
            "GET",
            "/v1/support-status",
            customer.token,
            params={"registration_number": number, "configuration": configuration},
        )
        assert reply.status == 200, reply.body
        answer: dict[str, Any] = reply.body
        return answer

    # ---- maintenance services ------------------------------------------------------------------

    async def codes(self, category: int, months: int, count: int = 1) -> list[str]:
        operator = await self.portal.operator()  # a fresh token on the current clock
        reply = await self.call(
            "POST",
            "/v1/maintenance-services/codes",
            operator,
            json={"category": category, "months": months, "count": count},
        )
        assert reply.status == 201, reply.body
        assert (reply.body["category"], reply.body["months"]) == (category, months)
        assert len(set(reply.body["codes"])) == count
        return [str(code) for code in reply.body["codes"]]

    async def activate(self, customer: Customer, code: str, number: str, period_from: str, **extra: Any) -> Reply:
        return await self.call(
            "POST",
            "/v1/maintenance-services/activate",
            customer.token,
            json={"code": code, "registration_number": number, "period_from": period_from, **extra},
        )

    # ---- e-mail ----------------------------------------------------------------------------------

    async def mail(self, to: str, subject: str, count: int = 1) -> list[EmailMessage]:
        """The e-mails to `to` whose subject contains `subject`, once there are `count` of them."""

        def letters() -> list[EmailMessage]:
            found = [m for m in read_mail(self.mail_dir, to) if subject in str(m["Subject"])]
            return found if len(found) >= count else []

        found: list[EmailMessage] = await wait_for(letters, timeout=30, interval=0.2, what=f"e-mail {subject!r}")
        return found


@pytest.fixture(scope="module")
async def registration_db(migrated: TestStack) -> AsyncIterator[Pool]:
    """registration's read models, only to wait until identity's events have reached them."""
    pool = await create_pool(migrated.database_url, REGISTRATION_SCHEMA, min_size=1, max_size=2)
    yield pool
    await close_pool(pool)


@pytest.fixture(scope="module")
async def contracts_db(migrated: TestStack) -> AsyncIterator[Pool]:
    pool = await create_pool(migrated.database_url, CONTRACTS_SCHEMA, min_size=1, max_size=2)
    yield pool
    await close_pool(pool)


@pytest.fixture
async def flow(
    services: dict[str, ServiceProcess],
    registration_db: Pool,
    contracts_db: Pool,
    migrated: TestStack,
    mail_dir: Path,
) -> AsyncIterator[Contracts]:
    async with aiohttp.ClientSession() as http:
        portal = Portal(http, services, registration_db)
        yield Contracts(portal, services["contracts"].url, contracts_db, migrated, mail_dir)
