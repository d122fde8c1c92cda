"""What a subscriber holds (REG-6, SUB-4): its registered products, and every configuration with whether it
has it, from when, and how to get it where not."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from services.registration import store
from shared.db import Pool


async def subscriber_registrations(
    pool: Pool, subscriber_id: uuid.UUID
) -> tuple[list[store.Registration], dict[uuid.UUID, str]]:
    """The subscriber's registrations and the names of the partners who authorised them."""
    async with pool.acquire() as conn:
        registrations = await store.subscriber_registrations(conn, subscriber_id)
        partners = await store.partner_names(conn, [r.partner_id for r in registrations if r.partner_id])
    return registrations, partners


@dataclass(frozen=True)
class Access:
    configuration: store.Configuration
    registered: bool  # through an active product
    pending_from: datetime | None  # not yet: registered, access starting then (REG-3)
    offered: list[store.Product]  # not registered: the products that include it (REG-6)


async def configuration_access(pool: Pool, subscriber_id: uuid.UUID) -> list[Access]:
    async with pool.acquire() as conn:
        configurations = await store.configurations(conn)
        products = await store.products(conn)
        registrations = await store.subscriber_registrations(conn, subscriber_id)
    return access(configurations, products, registrations)


def access(
    configurations: list[store.Configuration], products: list[store.Product], registrations: list[store.Registration]
) -> list[Access]:
    """REG-6, pure: a configuration is the subscriber's through an active product; a pending one says from when;
    one it has not is offered with the products that include it."""
    active = {c for r in registrations if r.state == "active" for c in r.configurations}
    pending: dict[str, datetime] = {}
    for r in registrations:
        if r.state == "pending" and r.active_from is not None:
            for code in r.configurations:
                pending[code] = min(pending.get(code, r.active_from), r.active_from)
    return [
        Access(c, True, None, [])
        if c.code in active
        else Access(c, False, pending.get(c.code), [p for p in products if c.code in p.configurations])
        for c in configurations
    ]
