"""SQL of the read models contracts keeps of other services' events (consumers.py): the catalogue, registered
numbers, subscribers and partners."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from shared.db import Connection


@dataclass(frozen=True)
class Number:
    """A registration number as registration announced it."""

    number: str
    article: str
    edition: str
    subscriber_id: uuid.UUID | None
    subscriber_code: str | None
    purchase_date: date | None
    its_required: bool | None
    configurations: list[str] | None
    registration: str | None


async def number(conn: Connection, registration_number: str) -> Number | None:
    row = await conn.fetchrow("SELECT * FROM numbers WHERE number = $1", registration_number)
    return Number(**dict(row)) if row is not None else None


async def subscriber_numbers(conn: Connection, subscriber_id: uuid.UUID) -> list[Number]:
    rows = await conn.fetch("SELECT * FROM numbers WHERE subscriber_id = $1 ORDER BY number", subscriber_id)
    return [Number(**dict(row)) for row in rows]


async def configuration_categories(conn: Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT code, category FROM configurations")
    return {row["code"]: row["category"] for row in rows}


async def save_configuration(conn: Connection, code: str, name: str, category: int) -> None:
    await conn.execute(
        "INSERT INTO configurations (code, name, category) VALUES ($1, $2, $3) "
        "ON CONFLICT (code) DO UPDATE SET name = $2, category = $3",
        code,
        name,
        category,
    )


async def save_product(
    conn: Connection, article: str, name: str, edition: str, configurations: list[str], its_required: bool
) -> None:
    await conn.execute(
        "INSERT INTO products (article, name, edition, configurations, its_required) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (article) DO UPDATE SET name = $2, edition = $3, configurations = $4, its_required = $5",
        article,
        name,
        edition,
        configurations,
        its_required,
    )


async def save_issued_numbers(conn: Connection, numbers: list[str], article: str, edition: str) -> None:
    await conn.execute(
        "INSERT INTO numbers (number, article, edition) SELECT n, $2, $3 FROM unnest($1::text[]) AS n "
        "ON CONFLICT (number) DO NOTHING",
        numbers,
        article,
        edition,
    )


async def save_registered_number(conn: Connection, n: Number) -> None:
    """Registered, activated or transferred: the latest announcement wins, except that an activation
    is never undone by a late `registered` (registration announces them in that order)."""
    await conn.execute(
        "INSERT INTO numbers (number, article, edition, subscriber_id, subscriber_code, purchase_date, its_required, "
        "configurations, registration) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (number) DO UPDATE SET article = $2, edition = $3, subscriber_id = $4, subscriber_code = $5, "
        "purchase_date = $6, its_required = $7, configurations = $8, "
        "registration = CASE WHEN numbers.registration = 'active' AND numbers.subscriber_id = $4 THEN 'active' "
        "ELSE $9 END",
        n.number,
        n.article,
        n.edition,
        n.subscriber_id,
        n.subscriber_code,
        n.purchase_date,
        n.its_required,
        n.configurations,
        n.registration,
    )


async def save_subscriber(conn: Connection, subscriber_id: uuid.UUID, code: str, name: str) -> None:
    await conn.execute(
        "INSERT INTO subscribers (id, code, name) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET name = $3",
        subscriber_id,
        code,
        name,
    )


async def subscriber_name(conn: Connection, subscriber_id: uuid.UUID) -> str | None:
    name: str | None = await conn.fetchval("SELECT name FROM subscribers WHERE id = $1", subscriber_id)
    return name


@dataclass(frozen=True)
class Partner:
    id: uuid.UUID
    name: str
    contact_email: str


async def save_partner(conn: Connection, partner_id: uuid.UUID, name: str, contact_email: str) -> None:
    await conn.execute(
        "INSERT INTO partners (id, name, contact_email) VALUES ($1, $2, $3) "
        "ON CONFLICT (id) DO UPDATE SET name = $2, contact_email = $3",
        partner_id,
        name,
        contact_email,
    )


async def partners(conn: Connection, partner_ids: list[uuid.UUID]) -> dict[uuid.UUID, Partner]:
    rows = await conn.fetch("SELECT id, name, contact_email FROM partners WHERE id = ANY($1::uuid[])", partner_ids)
    return {row["id"]: Partner(**dict(row)) for row in rows}
