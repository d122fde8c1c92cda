"""The read models' SQL: registration's registered products, contracts' accompanied numbers, identity's partners
(SUP-1: who may ask, who answers). Written by the consumers, read by the use cases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from rules.months import Month, Period
from shared.db import Connection, lock_until_commit


@dataclass(frozen=True)
class Product:
    """One of the subscriber's registered products, with the months its contracts cover."""

    registration_number: str
    subscriber_id: uuid.UUID
    product_name: str
    edition: str
    configurations: list[str]
    its_required: bool
    purchase_date: date
    active_from: datetime
    contracts: tuple[Period, ...]


@dataclass(frozen=True)
class Accompanying:
    """A partner accompanying a contract on the number."""

    partner_id: uuid.UUID
    name: str
    period: Period


async def save_product(
    conn: Connection,
    *,
    registration_number: str,
    subscriber_id: uuid.UUID,
    subscriber_code: str,
    product_name: str,
    edition: str,
    configurations: list[str],
    its_required: bool,
    purchase_date: date,
    active_from: datetime,
    occurred_at: datetime,
) -> None:
    """Upsert by number (a transfer moves it); an event older than what is stored changes nothing."""
    await conn.execute(
        "INSERT INTO registered_products (registration_number, subscriber_id, subscriber_code, product_name, "
        "edition, configurations, its_required, purchase_date, active_from, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
        "ON CONFLICT (registration_number) DO UPDATE SET subscriber_id = $2, subscriber_code = $3, "
        "product_name = $4, edition = $5, configurations = $6, its_required = $7, purchase_date = $8, "
        "active_from = $9, updated_at = $10 WHERE registered_products.updated_at <= $10",
        registration_number,
        subscriber_id,
        subscriber_code,
        product_name,
        edition,
        configurations,
        its_required,
        purchase_date,
        active_from,
        occurred_at,
    )


async def cover(
    conn: Connection, contract_id: uuid.UUID, numbers: list[str], partner_id: uuid.UUID, name: str, period: Period
) -> None:
    """A contract's numbers, accompanied by its partner for its months, unless it expired already."""
    await lock_until_commit(conn, f"contract:{contract_id}")
    if await conn.fetchval("SELECT 1 FROM expired_contracts WHERE contract_id = $1", contract_id):
        return
    await conn.executemany(
        "INSERT INTO contract_numbers (contract_id, registration_number, partner_id, partner_name, period_from, "
        "period_to) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (contract_id, registration_number) "
        "DO UPDATE SET partner_id = $3, partner_name = $4, period_from = $5, period_to = $6",
        [(contract_id, n, partner_id, name, str(period.start), str(period.end)) for n in numbers],
    )


async def uncover(conn: Connection, contract_id: uuid.UUID, at: datetime) -> None:
    await lock_until_commit(conn, f"contract:{contract_id}")
    await conn.execute(
        "INSERT INTO expired_contracts (contract_id, expired_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        contract_id,
        at,
    )
    await conn.execute("DELETE FROM contract_numbers WHERE contract_id = $1", contract_id)


async def save_partner(conn: Connection, partner_id: uuid.UUID, name: str) -> None:
    await conn.execute(
        "INSERT INTO partners (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = $2", partner_id, name
    )


async def subscriber_product(conn: Connection, subscriber_id: uuid.UUID, number: str) -> Product | None:
    """The subscriber's registered product of that number (None: unknown, or another subscriber's)."""
    row = await conn.fetchrow(
        "SELECT p.*, coalesce(array_agg(c.period_from || ':' || c.period_to) "
        "FILTER (WHERE c.contract_id IS NOT NULL), '{}') AS periods "
        "FROM registered_products p LEFT JOIN contract_numbers c USING (registration_number) "
        "WHERE p.registration_number = $1 AND p.subscriber_id = $2 GROUP BY p.registration_number",
        number,
        subscriber_id,
    )
    if row is None:
        return None
    return Product(
        registration_number=row["registration_number"],
        subscriber_id=row["subscriber_id"],
        product_name=row["product_name"],
        edition=row["edition"],
        configurations=list(row["configurations"]),
        its_required=row["its_required"],
        purchase_date=row["purchase_date"],
        active_from=row["active_from"],
        contracts=tuple(Period.parse(*span.split(":")) for span in row["periods"]),
    )


async def accompanying(conn: Connection, number: str, month: Month) -> list[Accompanying]:
    """The partners of the contracts on the number valid in `month` (ITS-1), with the partner's current name."""
    rows = await conn.fetch(
        "SELECT c.partner_id, coalesce(p.name, nullif(c.partner_name, ''), 'Partner') AS name, c.period_from, "
        "c.period_to FROM contract_numbers c LEFT JOIN partners p ON p.id = c.partner_id "
        "WHERE c.registration_number = $1 AND c.period_from <= $2 AND c.period_to >= $2 "
        "ORDER BY name, c.partner_id",
        number,
        str(month),
    )
    return [Accompanying(r["partner_id"], r["name"], Period.parse(r["period_from"], r["period_to"])) for r in rows]
