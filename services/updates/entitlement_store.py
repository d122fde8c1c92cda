"""The entitlement read model's SQL (UPD-3, UPD-4): registration's and contracts' events written by the
consumers, read per subscriber by requests (through entitlement_cache.py).

Every change announces itself with `pg_notify(CHANNEL, subscriber_id)` in the transaction that makes it, so
that every replica's cache drops that subscriber on commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from rules.months import Period
from services.updates.entitlement import Holding
from services.updates.offers import OfferedProduct
from shared.db import Connection, lock_until_commit

CHANNEL = "updates_entitlement"


async def save_configuration(conn: Connection, code: str, name: str, occurred_at: datetime) -> None:
    """A configuration's name as registration's catalogue announced it (an older event changes nothing)."""
    await conn.execute(
        "INSERT INTO configurations (code, name, updated_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (code) DO UPDATE SET name = $2, updated_at = $3 WHERE configurations.updated_at <= $3",
        code,
        name,
        occurred_at,
    )


async def save_product(
    conn: Connection, article: str, name: str, edition: str, configurations: list[str], its_required: bool
) -> None:
    """A product of registration's catalogue: what offers name for a configuration (REG-6)."""
    await conn.execute(
        "INSERT INTO products (article, name, edition, configurations, its_required) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (article) DO UPDATE SET name = $2, edition = $3, configurations = $4, its_required = $5",
        article,
        name,
        edition,
        configurations,
        its_required,
    )


async def holdings_of(conn: Connection, subscriber_id: uuid.UUID) -> dict[str, list[Holding]]:
    """The subscriber's registered products per configuration, with their contracts' periods."""
    rows = await conn.fetch(
        "SELECT p.registration_number, p.product_name, p.edition, p.its_required, p.purchase_date, "
        "p.active_from, p.configurations, "
        "coalesce(array_agg(c.period_from || ':' || c.period_to) FILTER (WHERE c.contract_id IS NOT NULL), "
        "'{}') AS periods "
        "FROM registered_products p LEFT JOIN contract_coverage c USING (registration_number) "
        "WHERE p.subscriber_id = $1 GROUP BY p.registration_number",
        subscriber_id,
    )
    result: dict[str, list[Holding]] = {}
    for row in rows:
        periods = tuple(Period.parse(*span.split(":")) for span in row["periods"])
        holding = Holding(
            registration_number=row["registration_number"],
            product_name=row["product_name"],
            edition=row["edition"],
            its_required=row["its_required"],
            purchase_date=row["purchase_date"],
            active_from=row["active_from"],
            contracts=periods,
        )
        for configuration in row["configurations"]:
            result.setdefault(configuration, []).append(holding)
    return result


@dataclass(frozen=True)
class RegisteredProduct:
    registration_number: str
    subscriber_id: uuid.UUID
    subscriber_code: str
    article: str
    product_name: str
    edition: str
    configurations: list[str]
    its_required: bool
    purchase_date: date
    active_from: datetime


async def save_registered_product(conn: Connection, p: RegisteredProduct, occurred_at: datetime) -> None:
    """Upsert by number; a transfer moves it (both subscribers' caches are dropped). An event older than
    what is stored (a redelivery overtaken by a transfer) changes nothing."""
    previous = await conn.fetchval(
        "SELECT subscriber_id FROM registered_products WHERE registration_number = $1 FOR UPDATE",
        p.registration_number,
    )
    await conn.execute(
        "INSERT INTO registered_products (registration_number, subscriber_id, subscriber_code, article, "
        "product_name, edition, configurations, its_required, purchase_date, active_from, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
        "ON CONFLICT (registration_number) DO UPDATE SET subscriber_id = $2, subscriber_code = $3, article = $4, "
        "product_name = $5, edition = $6, configurations = $7, its_required = $8, purchase_date = $9, "
        "active_from = $10, updated_at = $11 WHERE registered_products.updated_at <= $11",
        p.registration_number,
        p.subscriber_id,
        p.subscriber_code,
        p.article,
        p.product_name,
        p.edition,
        p.configurations,
        p.its_required,
        p.purchase_date,
        p.active_from,
        occurred_at,
    )
    await announce(conn, p.subscriber_id, previous)


async def cover(conn: Connection, contract_id: uuid.UUID, numbers: list[str], period: Period) -> None:
    """A contract's numbers are covered for its months, unless it expired already (events may overtake). One
    contract's activation and expiry are applied one after the other: the consumer runs several messages at once,
    and an activation that read "not expired" before an expiry committed would cover the numbers again."""
    await lock_until_commit(conn, f"contract:{contract_id}")
    if await conn.fetchval("SELECT 1 FROM expired_contracts WHERE contract_id = $1", contract_id):
        return
    await conn.executemany(
        "INSERT INTO contract_coverage (contract_id, registration_number, period_from, period_to) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (contract_id, registration_number) "
        "DO UPDATE SET period_from = $3, period_to = $4",
        [(contract_id, number, str(period.start), str(period.end)) for number in numbers],
    )
    await announce_numbers(conn, numbers)


async def uncover(conn: Connection, contract_id: uuid.UUID, at: datetime) -> None:
    await lock_until_commit(conn, f"contract:{contract_id}")
    await conn.execute(
        "INSERT INTO expired_contracts (contract_id, expired_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        contract_id,
        at,
    )
    numbers = await conn.fetch(
        "DELETE FROM contract_coverage WHERE contract_id = $1 RETURNING registration_number", contract_id
    )
    await announce_numbers(conn, [row["registration_number"] for row in numbers])


async def announce(conn: Connection, *subscriber_ids: uuid.UUID | None) -> None:
    """Tell every replica (on commit) that these subscribers' entitlements changed."""
    for subscriber_id in {s for s in subscriber_ids if s is not None}:
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(subscriber_id))


async def announce_numbers(conn: Connection, numbers: Sequence[str]) -> None:
    if not numbers:
        return
    ids = await conn.fetch(
        "SELECT DISTINCT subscriber_id FROM registered_products WHERE registration_number = ANY($1::text[])",
        list(numbers),
    )
    await announce(conn, *(row["subscriber_id"] for row in ids))


async def offered_products(conn: Connection, configuration: str) -> list[OfferedProduct]:
    rows = await conn.fetch(
        "SELECT article, name, edition FROM products WHERE $1 = ANY(configurations) ORDER BY name", configuration
    )
    return [OfferedProduct(article=r["article"], name=r["name"], edition=r["edition"]) for r in rows]
