"""contracts' API for configuration maintenance services: activation codes and activations (CMS-1..7).

Operators issue codes (for partners' envelopes and online sale); a subscriber's owner activates one
for a registered product; the rules themselves are in maintenance.py.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, Field, StringConstraints

from rules.coverage import its_required
from rules.months import Month
from services.contracts import domain, maintenance, maintenance_store, store
from services.contracts.api import PeriodOut, contract_span, id_in_path, vendor_today
from shared.app import CLOCK, OUTBOX, POOL
from shared.auth import Caller
from shared.db import Connection
from shared.events.contracts import MaintenanceActivated
from shared.http import Api, Link
from shared.parsing import StrictModel
from shared.problems import Conflict, NotFound, Problem

routes = Api("ITS Portal contracts: maintenance services")

OPERATOR = "operator"
MAX_CODES = 10_000
# Codes are 16 characters of Crockford's base32 (80 bits), typed from an activation sheet.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def code_hash(code: str) -> bytes:
    """80 random bits need no slow hash (nothing to guess from); the code is compared as typed,
    without separators, upper case, with Crockford's look-alikes (O→0, I/L→1) read as meant."""
    cleaned = code.upper().replace("-", "").replace(" ", "").replace("O", "0").replace("I", "1").replace("L", "1")
    return hashlib.sha256(cleaned.encode()).digest()


class CodesIn(StrictModel):
    category: Literal[1, 2]  # CMS-2
    months: int = Field(ge=1, le=36)  # CMS-5: whole months
    count: int = Field(ge=1, le=MAX_CODES)


class CodesOut(BaseModel):
    batch_id: uuid.UUID
    category: int
    months: int
    codes: list[str]  # shown once; only their hashes are kept


@routes.post(
    "/v1/maintenance-services/codes",
    summary="Issue activation codes for a category and a number of months (operators); shown once",
    scope=OPERATOR,
    body=CodesIn,
    response=CodesOut,
    status=201,
    errors=(422,),
    tags=("maintenance",),
)
async def issue_codes(request: web.Request, caller: Caller, body: CodesIn) -> CodesOut:
    codes = list({new_code() for _ in range(body.count)})  # 80 bits: a repeat is practically impossible
    batch_id = uuid.uuid4()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        inserted = await maintenance_store.insert_codes(
            conn, [code_hash(c) for c in codes], body.category, body.months, batch_id, request.app[CLOCK].now()
        )
    assert inserted == len(codes)
    return CodesOut(batch_id=batch_id, category=body.category, months=body.months, codes=codes)


class ActivateIn(StrictModel):
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=16, max_length=40)]
    registration_number: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6,20}$")]
    period_from: Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
    # Needed only when the product has several configurations of the code's category.
    configuration: str | None = None
    # CMS-7: the accompanying partner, when the subscriber's contracts have several.
    partner_id: uuid.UUID | None = None


class ActivationOut(BaseModel):
    id: uuid.UUID
    configuration: str
    category: int
    period: PeriodOut
    registration_numbers: list[str]  # CMS-3: every product of the subscriber with this configuration
    # CMS-6: the months of the period without a valid ITS contract, as of this answer (computed when read).
    warning: str | None
    partner: str | None  # CMS-7: notified automatically
    partner_id: uuid.UUID | None
    partner_choice: str
    covered_now: bool  # the current month is in the period
    activated_at: datetime


class ActivationList(BaseModel):
    items: list[ActivationOut]


class ActivationRefused(Problem):
    status, slug, title = 422, "activation-refused", "The maintenance service cannot be activated"


INVALID_CODE = "the activation code is unknown: check it as printed on the activation sheet"


@routes.post(
    "/v1/maintenance-services/activate",
    summary="Activate a maintenance service with a code for a registered product (owner; CMS-1..7)",
    auth=True,
    body=ActivateIn,
    response=ActivationOut,
    status=201,
    errors=(403, 404, 409, 422),
    tags=("maintenance",),
    links={"ChoosePartner": Link("choose_partner", {"activation_id": "$response.body#/id"})},
)
async def activate(request: web.Request, caller: Caller, body: ActivateIn) -> ActivationOut:
    subscriber = caller.require_owner()  # SUB-4
    now, current = request.app[CLOCK].now(), Month.of(vendor_today(request))
    try:
        start = Month.parse(body.period_from)
    except ValueError as exc:
        raise ActivationRefused(str(exc), field="period_from") from None
    hashed = code_hash(body.code)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        code = await maintenance_store.lock_code(conn, hashed)
        if code is None:
            raise ActivationRefused(INVALID_CODE, field="code", reason="unknown-code")
        products, contracts = await _subscriber_products(conn, subscriber.id)
        product = next((p for p in products if p.registration_number == body.registration_number), None)
        if product is None:
            raise NotFound("no product with this registration number is registered to your subscriber")
        plan = maintenance.plan_activation(
            code=maintenance.ActivationCode(code.category, code.months, code.used),
            product=product,
            configuration=body.configuration,
            start=start,
            partner_id=body.partner_id,
            current=current,
            subscriber_products=products,
            contracts=contracts,
        )
        if isinstance(plan, maintenance.Refusal):
            problem = Conflict if plan.reason == "code-used" else ActivationRefused
            raise problem(plan.message, field=plan.field, reason=plan.reason, choices=plan.choices)
        activation = maintenance_store.Activation(
            id=uuid.uuid4(),
            subscriber_id=subscriber.id,
            configuration=plan.configuration,
            category=plan.category,
            period_from=str(plan.period.start),
            period_to=str(plan.period.end),
            registration_number=product.registration_number,
            partner_id=plan.partner_id,
            activated_by=caller.account_id,
            activated_at=now,
        )
        await maintenance_store.insert_activation(conn, activation)
        await maintenance_store.use_code(conn, hashed, activation.id, now)
        partners = await store.partners(conn, [plan.partner_id] if plan.partner_id else [])
        served = Served(plan.registration_numbers, plan.warning)
        await _announce(request, conn, activation, served, subscriber.code, partners)
    return _out(activation, served, partners, plan.partner_choice, current)


async def _subscriber_products(
    conn: Connection, subscriber_id: uuid.UUID
) -> tuple[list[maintenance.Product], list[domain.ContractSpan]]:
    """The subscriber's registered products and the processed contracts on any of them (CMS-3, CMS-6, CMS-7)."""
    categories = await store.configuration_categories(conn)
    products = [
        maintenance.Product(
            registration_number=n.number,
            edition=n.edition,
            configurations={c: categories[c] for c in (n.configurations or []) if c in categories},
            its_required=its_required(n.edition, n.its_required),
            purchase_date=n.purchase_date,
        )
        for n in await store.subscriber_numbers(conn, subscriber_id)
    ]
    contracts = [contract_span(c) for c in await store.subscriber_processed_contracts(conn, subscriber_id)]
    return products, contracts


@dataclass(frozen=True)
class Served:
    """What an activation stands for when it is read: the products it serves (CMS-3) and the CMS-6 warning."""

    registration_numbers: list[str]
    warning: str | None


def served(
    a: maintenance_store.Activation, products: list[maintenance.Product], contracts: list[domain.ContractSpan]
) -> Served:
    """Computed when read from contracts' read models, never stored: true whenever it is read (a contract that
    arrives later takes the warning away)."""
    serving = maintenance.products_with(a.configuration, products)
    return Served([p.registration_number for p in serving], maintenance.contract_warning(a.period, serving, contracts))


async def _announce(
    request: web.Request,
    conn: Connection,
    a: maintenance_store.Activation,
    served: Served,
    subscriber_code: str,
    partners: dict[uuid.UUID, store.Partner],
) -> None:
    """CMS-7: the chosen partner is notified (notifications e-mails it) — every time one is set."""
    partner = partners.get(a.partner_id) if a.partner_id else None
    await request.app[OUTBOX].add(
        conn,
        MaintenanceActivated(
            activation_id=a.id,
            subscriber_id=a.subscriber_id,
            subscriber_code=subscriber_code,
            subscriber_name=await store.subscriber_name(conn, a.subscriber_id) or subscriber_code,
            configuration=a.configuration,
            category=1 if a.category == 1 else 2,
            period_from=a.period_from,
            period_to=a.period_to,
            registration_numbers=served.registration_numbers,
            warning=served.warning,
            partner_id=partner.id if partner else None,
            partner_name=partner.name if partner else None,
            partner_email=partner.contact_email if partner else None,
        ),
    )


def _out(
    a: maintenance_store.Activation,
    served: Served,
    partners: dict[uuid.UUID, store.Partner],
    choice: str,
    current: Month,
) -> ActivationOut:
    partner = partners.get(a.partner_id) if a.partner_id else None
    return ActivationOut(
        id=a.id,
        configuration=a.configuration,
        category=a.category,
        period=PeriodOut(from_=a.period_from, to=a.period_to),
        registration_numbers=served.registration_numbers,
        warning=served.warning,
        partner=partner.name if partner else None,
        partner_id=a.partner_id,
        partner_choice=choice,
        covered_now=current in a.period,
        activated_at=a.activated_at,
    )


@routes.get(
    "/v1/maintenance-services",
    summary="The subscriber's maintenance service activations, with coverage and warnings",
    auth=True,
    response=ActivationList,
    errors=(403,),
    tags=("maintenance",),
)
async def list_activations(request: web.Request, caller: Caller) -> ActivationList:
    subscriber = caller.require_subscriber()
    current = Month.of(vendor_today(request))
    async with request.app[POOL].acquire() as conn:
        found = await maintenance_store.activations(conn, subscriber.id)
        products, contracts = await _subscriber_products(conn, subscriber.id)
        partners = await store.partners(conn, [a.partner_id for a in found if a.partner_id])
    items = []
    for a in found:
        choice = "chosen" if a.partner_id else "choose-later"
        items.append(_out(a, served(a, products, contracts), partners, choice, current))
    return ActivationList(items=items)


class PartnerChoiceIn(StrictModel):
    partner_id: uuid.UUID


@routes.route(
    "PUT",
    "/v1/maintenance-services/{activation_id:uuid}/partner",
    summary="Choose the accompanying partner later (CMS-7, owner); the partner is notified",
    auth=True,
    body=PartnerChoiceIn,
    response=ActivationOut,
    errors=(403, 404, 409, 422),
    tags=("maintenance",),
)
async def choose_partner(request: web.Request, caller: Caller, body: PartnerChoiceIn) -> ActivationOut:
    """The same rule as at activation (CMS-7, `maintenance.accompanying_partner`): the partner of one of the
    subscriber's ITS contracts valid during the activation's period; without such a contract, nobody yet."""
    subscriber = caller.require_owner()
    activation_id = id_in_path(request, "activation_id", "no such activation")
    current = Month.of(vendor_today(request))
    async with request.app[POOL].acquire() as conn, conn.transaction():
        activation = await maintenance_store.lock_activation(conn, activation_id, subscriber.id)
        if activation is None:
            raise NotFound("no such activation")
        if activation.partner_id is not None:
            raise Conflict("the accompanying partner of this activation is chosen already")
        products, contracts = await _subscriber_products(conn, subscriber.id)
        decided = maintenance.accompanying_partner(activation.period, contracts, body.partner_id)
        if isinstance(decided, maintenance.Refusal):
            raise ActivationRefused(
                decided.message, field=decided.field, reason=decided.reason, choices=decided.choices
            )
        chosen = await maintenance_store.choose_partner(conn, activation.id, body.partner_id)
        partners = await store.partners(conn, [body.partner_id])
        now_served = served(chosen, products, contracts)
        await _announce(request, conn, chosen, now_served, subscriber.code, partners)
    return _out(chosen, now_served, partners, "chosen", current)
