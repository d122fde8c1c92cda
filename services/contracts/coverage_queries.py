"""Is a subscriber's product covered, and supported? Coverage of a month (ITS-7) and the support status for
client programs (MON-1), from contracts' read models."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from rules.coverage import Coverage, free_period, its_required
from rules.months import Month, Period
from rules.refusal import Refusal, Refused
from services.contracts import read_models, store
from services.contracts.domain import ContractSpan, ItsProduct
from services.contracts.its_products import NOT_REGISTERED_TO_YOU, its_product
from services.contracts.support_status import MaintenanceSpan, SupportStatus, support_status
from shared.db import Pool


@dataclass(frozen=True)
class ProductCoverage:
    registration_number: str
    month: Month
    coverage: Coverage
    free_period: Period | None  # ITS-7, for products that need a contract


async def product_coverage(
    pool: Pool, subscriber_id: uuid.UUID, registration_number: str, month: Month
) -> ProductCoverage:
    """ITS-7 for a product registered to the subscriber; any other number is refused as unknown."""
    async with pool.acquire() as conn:
        number = await read_models.number(conn, registration_number)
        if number is None or number.subscriber_id != subscriber_id:
            raise Refused(Refusal("not-registered", NOT_REGISTERED_TO_YOU, "not-found"))
        contracts = await store.contracts_listing(conn, number.number)
    product = its_product(number, contracts)
    free = free_period(number.purchase_date) if product.its_required and number.purchase_date else None
    return ProductCoverage(number.number, month, product.coverage(month), free)


@dataclass(frozen=True)
class StatusContract:
    """A contract listing the number, as the support status shows it."""

    span: ContractSpan
    number: str
    period_from: str
    period_to: str
    partner: str | None  # the accompanying partner's name


@dataclass(frozen=True)
class StatusActivation:
    span: MaintenanceSpan
    period_from: str
    period_to: str


@dataclass(frozen=True)
class Support:
    """The support status (MON-1) with what it was decided from, for the client program to show."""

    status: SupportStatus
    contracts: list[StatusContract] = field(default_factory=list)
    activations: list[StatusActivation] = field(default_factory=list)
    partner: read_models.Partner | None = None  # whom to contact: `status.partner_id`'s name and address


# The number registered (and active) to the subscriber, with the asked configuration's category, the active
# contracts listing it (store.contracts_listing) and the subscriber's activations of the configuration where the
# product includes it (maintenance_store.activations), each with its partner: one round trip, read by keys.
_SUPPORT = """
SELECT n.edition, n.its_required, n.purchase_date, coalesce($3 = ANY(n.configurations), false) AS included,
    (SELECT category FROM configurations WHERE code = $3) AS category,
    (SELECT array_agg((c.id, c.partner_id, c.number, c.period_from, c.period_to, c.main_number,
                       c.additional_numbers, p.name, p.contact_email) ORDER BY c.period_from)
     FROM contracts c LEFT JOIN partners p ON p.id = c.partner_id
     WHERE c.state = 'active' AND c.id IN (SELECT contract_id FROM contract_numbers WHERE registration_number = $2)
    ) AS contracts,
    (SELECT array_agg((a.id, a.configuration, a.period_from, a.period_to, a.partner_id, p.name, p.contact_email)
                      ORDER BY a.activated_at)
     FROM activations a LEFT JOIN partners p ON p.id = a.partner_id
     WHERE a.subscriber_id = $1 AND a.configuration = $3 AND $3 = ANY(n.configurations)
    ) AS activations
FROM numbers n
WHERE n.number = $2 AND n.subscriber_id = $1 AND n.registration = 'active'
"""


async def product_support(
    pool: Pool, subscriber_id: uuid.UUID, registration_number: str, configuration: str, today: date
) -> Support:
    """A number not registered (and active) to the subscriber is NOT_REGISTERED, and nothing else is told."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_SUPPORT, subscriber_id, registration_number, configuration)
    if row is None:
        return Support(SupportStatus(registration="NOT_REGISTERED", overall="NOT_COMPLIED"))
    partners: dict[uuid.UUID, read_models.Partner] = {}
    contracts: list[StatusContract] = []
    for c_id, partner_id, number, start, end, main, additional, name, email in row["contracts"] or ():
        if name is not None:
            partners[partner_id] = read_models.Partner(partner_id, name, email)
        covers = ContractSpan(c_id, partner_id, Period.parse(start, end), frozenset((main, *additional)))
        contracts.append(StatusContract(covers, number, start, end, name))
    activations: list[StatusActivation] = []
    for a_id, a_configuration, start, end, partner_id, name, email in row["activations"] or ():
        if name is not None:
            partners[partner_id] = read_models.Partner(partner_id, name, email)
        maintains = MaintenanceSpan(a_id, a_configuration, Period.parse(start, end), partner_id)
        activations.append(StatusActivation(maintains, start, end))
    product = ItsProduct.of(
        registration_number,
        its_required=its_required(row["edition"], row["its_required"]),
        purchase_date=row["purchase_date"],
        contracts=[c.span for c in contracts],
    )
    status = support_status(
        product=product,
        configuration_included=row["included"],
        configuration_category=row["category"],
        activations=[a.span for a in activations],  # none where the product does not include the configuration
        today=today,
    )
    partner = partners.get(status.partner_id) if status.partner_id else None
    return Support(status, contracts, activations, partner)
