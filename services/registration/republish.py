"""Announcing registration's state again: the catalogue, issued numbers and registered products.

Like services.identity.republish: a service that starts keeping a read model of registration after
numbers were issued (contracts, updates) learns them from these events. Consumers handle them
idempotently, so announcing twice is harmless. `make run` does it (registration's demo step).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.registration import events, store
from services.registration.app import SCHEMA
from services.registration.settings import RegistrationSettings
from shared.events import Event
from shared.events.registration import ProductActivated, ProductRegistered
from shared.outbox import offline_transaction

NUMBERS_PER_EVENT = 1_000


@dataclass(frozen=True)
class Republished:
    configurations: int
    products: int
    numbers: int
    registrations: int


async def republish_registration(settings: RegistrationSettings) -> Republished:
    async with offline_transaction(settings, producer="registration", schema=SCHEMA) as (conn, outbox, _):
        configurations = await store.configurations(conn)
        products = await store.products(conn)
        announced: list[Event] = [events.configuration_changed(c) for c in configurations]
        announced += [events.product_changed(p) for p in products]
        editions = {p.article: p.edition for p in products}
        issued = await store.issued_numbers(conn)
        for (article, with_pin), numbers in issued.items():
            for i in range(0, len(numbers), NUMBERS_PER_EVENT):
                chunk = numbers[i : i + NUMBERS_PER_EVENT]
                announced.append(
                    events.numbers_issued(uuid.uuid4(), article, editions[article], chunk, with_pin=with_pin)
                )
        registered = await store.registered(conn)
        for r in registered:
            announced.append(events.product_event(ProductRegistered, r))
            if r.state == "active":
                announced.append(events.product_event(ProductActivated, r))
        await outbox.add_many(conn, announced)
    count = sum(len(numbers) for numbers in issued.values())
    return Republished(len(configurations), len(products), count, len(registered))
