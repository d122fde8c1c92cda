"""Is a subscriber's product covered, and supported? Coverage of a month (ITS-7) and the support status for
client programs (MON-1), from contracts' read models."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from rules.coverage import Coverage, free_period
from rules.months import Month, Period
from rules.refusal import Refusal, Refused
from services.contracts import maintenance_store, read_models, store
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
class Support:
    """The support status (MON-1) with what it was decided from, for the client program to show."""

    status: SupportStatus
    contracts: list[store.Contract] = field(default_factory=list)
    activations: list[maintenance_store.Activation] = field(default_factory=list)
    partners: dict[uuid.UUID, read_models.Partner] = field(default_factory=dict)


async def product_support(
    pool: Pool, subscriber_id: uuid.UUID, registration_number: str, configuration: str, today: date
) -> Support:
    """A number not registered (and active) to the subscriber is NOT_REGISTERED, and nothing else is told."""
    async with pool.acquire() as conn:
        number = await read_models.number(conn, registration_number)
        registered = number is not None and number.subscriber_id == subscriber_id and number.registration == "active"
        if not registered or number is None:
            return Support(SupportStatus(registration="NOT_REGISTERED", overall="NOT_COMPLIED"))
        contracts = await store.contracts_listing(conn, number.number)
        activations = await maintenance_store.activations(conn, subscriber_id, configuration)
        categories = await read_models.configuration_categories(conn)
        ids = {c.partner_id for c in contracts} | {a.partner_id for a in activations if a.partner_id}
        partners = await read_models.partners(conn, list(ids))
    included = configuration in (number.configurations or [])
    if not included:
        activations = []  # another configuration's service says nothing about this product
    status = support_status(
        product=its_product(number, contracts),
        configuration_included=included,
        configuration_category=categories.get(configuration),
        activations=[MaintenanceSpan(a.id, a.configuration, a.period, a.partner_id) for a in activations],
        today=today,
    )
    return Support(status, contracts, activations, partners)
