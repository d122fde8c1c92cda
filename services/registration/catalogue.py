"""The catalogue's changes (operators): configurations and products (CMS-2, ITS-7), and issuing registration
numbers for a product (REG-1, REG-2), at once or as a deferred batch (batches.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from rules.refusal import Refusal, Refused
from services.registration import batches, catalogue_store, domain, events, issuing, store
from services.registration.pins import Pins
from shared.db import Pool
from shared.events.registration import Edition
from shared.outbox import Outbox

PRODUCT_UNKNOWN = Refusal("not-found", "no product with this article", kind="not-found")
WITHOUT_PIN_ENVELOPES = Refusal(
    "without-pin-envelopes", "this product is delivered without PIN envelopes", field="with_pin"
)


async def configurations(
    pool: Pool, listing: domain.CatalogueListing, limit: int
) -> tuple[list[store.Configuration], bool]:
    """A page of the configurations `listing` asks for, and whether another page follows."""
    async with pool.acquire() as conn:
        found = await catalogue_store.configurations_page(conn, listing, limit + 1)  # one more: a next page?
    return found[:limit], len(found) > limit


async def products(pool: Pool, listing: domain.CatalogueListing, limit: int) -> tuple[list[store.Product], bool]:
    """A page of the products `listing` asks for, and whether another page follows."""
    async with pool.acquire() as conn:
        found = await catalogue_store.products_page(conn, listing, limit + 1)
    return found[:limit], len(found) > limit


async def product(pool: Pool, article: str) -> store.Product:
    async with pool.acquire() as conn:
        found = await store.product(conn, article)
    if found is None:
        raise Refused(PRODUCT_UNKNOWN)
    return found


async def save_configuration(pool: Pool, outbox: Outbox, configuration: store.Configuration, now: datetime) -> bool:
    """Added or changed (True: added), and announced."""
    async with pool.acquire() as conn, conn.transaction():
        created = await store.upsert_configuration(conn, configuration, now)
        await outbox.add(conn, events.configuration_changed(configuration))
    return created


async def save_product(
    pool: Pool,
    outbox: Outbox,
    *,
    now: datetime,
    article: str,
    name: str,
    edition: Edition,
    configurations: list[str],
    pin_envelope: bool,
    its_required: bool | None,
) -> tuple[store.Product, bool]:
    """Added or changed (True: added), and announced; its configurations must be in the catalogue."""
    codes = sorted(set(configurations))
    # ITS-7: by default every edition but BASIC needs a contract for updates after the free period.
    required = domain.default_its_required(edition) if its_required is None else its_required
    product = store.Product(article, name, edition, pin_envelope, required, codes)
    async with pool.acquire() as conn, conn.transaction():
        missing = await store.missing_configurations(conn, codes)
        if missing:
            raise Refused(
                Refusal("configurations-unknown", f"not in the catalogue: {', '.join(missing)}", field="configurations")
            )
        created = await store.upsert_product(conn, product, now)
        await outbox.add(conn, events.product_changed(product))
    return product, created


@dataclass(frozen=True)
class IssuedNow:
    """Numbers issued in the request that asked for them, with their PINs (None: without), shown once."""

    batch_id: uuid.UUID
    product: store.Product
    numbers: dict[str, str | None]


async def issue_numbers(
    pool: Pool,
    outbox: Outbox,
    pins: Pins,
    *,
    now: datetime,
    article: str,
    count: int,
    with_pin: bool | None,
    at_once: int,
    requested_by: uuid.UUID,
) -> IssuedNow | batches.Started:
    """REG-1, REG-2: unique random numbers, with PINs as the product is delivered unless `with_pin` says. Up to
    `at_once` numbers: issued now, every one committed before they are shown. More: a deferred batch."""
    found = await product(pool, article)
    pin = found.pin_envelope if with_pin is None else with_pin
    if pin and not found.pin_envelope:
        raise Refused(WITHOUT_PIN_ENVELOPES)

    if count > at_once:
        async with pool.acquire() as conn, conn.transaction():
            return await batches.start(conn, found, with_pin=pin, count=count, requested_by=requested_by, now=now)

    batch_id = uuid.uuid4()
    drawn = await issuing.draw(pins, count, pin)  # seconds of hashing need no lock: before the transaction
    async with pool.acquire() as conn, conn.transaction():
        issued = await issuing.issue(
            conn,
            outbox,
            pins,
            drawn,
            article=article,
            edition=found.edition,
            batch_id=batch_id,
            with_pin=pin,
            now=now,
        )
    return IssuedNow(batch_id, found, issued)
