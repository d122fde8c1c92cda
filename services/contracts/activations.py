"""A subscriber's maintenance services (CMS-1..7): activating one with a code for a registered product,
choosing its accompanying partner later, and the list of them. The rules are in maintenance.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from rules.coverage import its_required
from rules.months import Month
from rules.refusal import Refusal, Refused
from services.contracts import domain, events, maintenance, maintenance_store, read_models, store
from services.contracts.activation_codes import code_hash
from services.contracts.its_products import NOT_REGISTERED_TO_YOU, contract_span
from shared.db import Connection, Pool
from shared.outbox import Outbox

INVALID_CODE = "the activation code is unknown: check it as printed on the activation sheet"


@dataclass(frozen=True)
class Served:
    """What an activation stands for when it is read: the products it serves (CMS-3) and the CMS-6 warning."""

    registration_numbers: list[str]
    warning: str | None


@dataclass(frozen=True)
class ActivationView:
    activation: maintenance_store.Activation
    served: Served
    partner: read_models.Partner | None  # the accompanying partner (CMS-7), if chosen
    partner_choice: maintenance.PartnerChoice


async def activate(
    pool: Pool,
    outbox: Outbox,
    *,
    now: datetime,
    current: Month,
    subscriber_id: uuid.UUID,
    subscriber_code: str,
    account_id: uuid.UUID,
    code: str,
    registration_number: str,
    start: Month,
    configuration: str | None,
    partner_id: uuid.UUID | None,
) -> ActivationView:
    """Activate `code` for the subscriber's product from `start` (CMS-1..7); `current` is this month in the
    vendor's zone. A refusal stores nothing and leaves the code unused."""
    hashed = code_hash(code)
    async with pool.acquire() as conn, conn.transaction():
        found = await maintenance_store.lock_code(conn, hashed)
        if found is None:
            raise Refused(Refusal("unknown-code", INVALID_CODE, field="code"))
        products, contracts = await _subscriber_products(conn, subscriber_id)
        product = next((p for p in products if p.registration_number == registration_number), None)
        if product is None:
            raise Refused(Refusal("not-registered", NOT_REGISTERED_TO_YOU, "not-found"))
        plan = maintenance.plan_activation(
            code=maintenance.ActivationCode(found.category, found.months, found.used),
            product=product,
            configuration=configuration,
            start=start,
            partner_id=partner_id,
            current=current,
            subscriber_products=products,
            contracts=contracts,
        )
        if isinstance(plan, Refusal):
            raise Refused(plan)
        activation = maintenance_store.Activation(
            id=uuid.uuid4(),
            subscriber_id=subscriber_id,
            configuration=plan.configuration,
            category=plan.category,
            period_from=str(plan.period.start),
            period_to=str(plan.period.end),
            registration_number=product.registration_number,
            partner_id=plan.partner_id,
            activated_by=account_id,
            activated_at=now,
        )
        await maintenance_store.insert_activation(conn, activation)
        await maintenance_store.use_code(conn, hashed, activation.id, now)
        partner = await _partner(conn, plan.partner_id)
        view = ActivationView(activation, Served(plan.registration_numbers, plan.warning), partner, plan.partner_choice)
        await _announce(conn, outbox, view, subscriber_code)
    return view


async def choose_partner(
    pool: Pool,
    outbox: Outbox,
    *,
    subscriber_id: uuid.UUID,
    subscriber_code: str,
    activation_id: uuid.UUID,
    partner_id: uuid.UUID,
) -> ActivationView:
    """The same rule as at activation (CMS-7, `maintenance.accompanying_partner`): the partner of one of the
    subscriber's ITS contracts valid during the activation's period; without such a contract, nobody yet."""
    async with pool.acquire() as conn, conn.transaction():
        activation = await maintenance_store.lock_activation(conn, activation_id, subscriber_id)
        if activation is None:
            raise Refused(Refusal("no-such-activation", "no such activation", "not-found"))
        if activation.partner_id is not None:
            raise Refused(
                Refusal("partner-chosen", "the accompanying partner of this activation is chosen already", "conflict")
            )
        products, contracts = await _subscriber_products(conn, subscriber_id)
        decided = maintenance.accompanying_partner(activation.period, contracts, partner_id)
        if isinstance(decided, Refusal):
            raise Refused(decided)
        chosen = await maintenance_store.choose_partner(conn, activation.id, partner_id)
        view = ActivationView(chosen, served(chosen, products, contracts), await _partner(conn, partner_id), "chosen")
        await _announce(conn, outbox, view, subscriber_code)
    return view


async def subscriber_activations(pool: Pool, subscriber_id: uuid.UUID) -> list[ActivationView]:
    async with pool.acquire() as conn:
        found = await maintenance_store.activations(conn, subscriber_id)
        products, contracts = await _subscriber_products(conn, subscriber_id)
        partners = await read_models.partners(conn, [a.partner_id for a in found if a.partner_id])
    return [
        ActivationView(
            a,
            served(a, products, contracts),
            partners.get(a.partner_id) if a.partner_id else None,
            "chosen" if a.partner_id else "choose-later",
        )
        for a in found
    ]


def served(
    a: maintenance_store.Activation, products: list[maintenance.Product], contracts: list[domain.ContractSpan]
) -> Served:
    """Computed when read from contracts' read models, never stored: true whenever it is read (a contract that
    arrives later takes the warning away)."""
    serving = maintenance.products_with(a.configuration, products)
    return Served([p.registration_number for p in serving], maintenance.contract_warning(a.period, serving, contracts))


async def _subscriber_products(
    conn: Connection, subscriber_id: uuid.UUID
) -> tuple[list[maintenance.Product], list[domain.ContractSpan]]:
    """The subscriber's registered products and the processed contracts on any of them (CMS-3, CMS-6, CMS-7)."""
    categories = await read_models.configuration_categories(conn)
    products = [
        maintenance.Product(
            registration_number=n.number,
            edition=n.edition,
            configurations={c: categories[c] for c in (n.configurations or []) if c in categories},
            its_required=its_required(n.edition, n.its_required),
            purchase_date=n.purchase_date,
        )
        for n in await read_models.subscriber_numbers(conn, subscriber_id)
    ]
    contracts = [contract_span(c) for c in await store.subscriber_processed_contracts(conn, subscriber_id)]
    return products, contracts


async def _partner(conn: Connection, partner_id: uuid.UUID | None) -> read_models.Partner | None:
    if partner_id is None:
        return None
    return (await read_models.partners(conn, [partner_id])).get(partner_id)


async def _announce(conn: Connection, outbox: Outbox, view: ActivationView, subscriber_code: str) -> None:
    """CMS-7: the chosen partner is notified (notifications e-mails it) — every time one is set."""
    a = view.activation
    await outbox.add(
        conn,
        events.maintenance_activated(
            a,
            registration_numbers=view.served.registration_numbers,
            warning=view.served.warning,
            subscriber_code=subscriber_code,
            subscriber_name=await read_models.subscriber_name(conn, a.subscriber_id) or subscriber_code,
            partner=view.partner,
        ),
    )
