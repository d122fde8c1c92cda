"""Registration's SQL. Every function takes the connection (and so the transaction) of its caller."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from services.registration import domain
from shared.db import Connection, lock_until_commit

# ---- catalogue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Configuration:
    code: str
    name: str
    maintenance_category: int
    vendor: str


async def upsert_configuration(conn: Connection, c: Configuration, now: datetime) -> bool:
    """Insert or update; True if it was new."""
    inserted: bool = await conn.fetchval(
        "INSERT INTO configurations (code, name, maintenance_category, vendor, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $5) "
        "ON CONFLICT (code) DO UPDATE SET name = $2, maintenance_category = $3, vendor = $4, updated_at = $5 "
        "RETURNING xmax = 0",
        c.code,
        c.name,
        c.maintenance_category,
        c.vendor,
        now,
    )
    return inserted


async def configurations(conn: Connection) -> list[Configuration]:
    rows = await conn.fetch("SELECT code, name, maintenance_category, vendor FROM configurations ORDER BY code")
    return [Configuration(**dict(row)) for row in rows]


async def missing_configurations(conn: Connection, codes: list[str]) -> list[str]:
    rows = await conn.fetch(
        "SELECT c FROM unnest($1::text[]) AS c WHERE c NOT IN (SELECT code FROM configurations) ORDER BY c", codes
    )
    return [row["c"] for row in rows]


@dataclass(frozen=True)
class Product:
    article: str
    name: str
    edition: Any  # shared.events.registration.Edition, as stored
    pin_envelope: bool
    its_required: bool
    configurations: list[str]


PRODUCT_SELECT = (
    "SELECT p.article, p.name, p.edition, p.pin_envelope, p.its_required, "
    "COALESCE(array_agg(pc.configuration_code ORDER BY pc.configuration_code) "
    "FILTER (WHERE pc.configuration_code IS NOT NULL), '{}') AS configurations "
    "FROM products p LEFT JOIN product_configurations pc ON pc.article = p.article "
)


def _product(row: asyncpg.Record) -> Product:
    return Product(**{**dict(row), "configurations": list(row["configurations"])})


async def upsert_product(conn: Connection, p: Product, now: datetime) -> bool:
    inserted: bool = await conn.fetchval(
        "INSERT INTO products (article, name, edition, pin_envelope, its_required, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $6) "
        "ON CONFLICT (article) DO UPDATE SET name = $2, edition = $3, pin_envelope = $4, its_required = $5, "
        "updated_at = $6 RETURNING xmax = 0",
        p.article,
        p.name,
        p.edition,
        p.pin_envelope,
        p.its_required,
        now,
    )
    await conn.execute("DELETE FROM product_configurations WHERE article = $1", p.article)
    await conn.execute(
        "INSERT INTO product_configurations (article, configuration_code) SELECT $1, unnest($2::text[])",
        p.article,
        p.configurations,
    )
    return inserted


async def product(conn: Connection, article: str) -> Product | None:
    row = await conn.fetchrow(PRODUCT_SELECT + "WHERE p.article = $1 GROUP BY p.article", article)
    return _product(row) if row is not None else None


async def products(conn: Connection) -> list[Product]:
    rows = await conn.fetch(PRODUCT_SELECT + "GROUP BY p.article ORDER BY p.name, p.article")
    return [_product(row) for row in rows]


# ---- issuing numbers (REG-1) ----------------------------------------------------------------


async def insert_numbers(
    conn: Connection, article: str, batch_id: uuid.UUID, numbers: list[str], pin_hashes: list[str | None], now: datetime
) -> set[str]:
    """Insert the numbers not taken yet; returns those inserted (a collision is left out, not an error)."""
    rows = await conn.fetch(
        "INSERT INTO registration_numbers (number, article, batch_id, pin_hash, issued_at) "
        "SELECT n, $1, $2, h, $3 FROM unnest($4::text[], $5::text[]) AS t(n, h) "
        "ON CONFLICT (number) DO NOTHING RETURNING number",
        article,
        batch_id,
        now,
        numbers,
        pin_hashes,
    )
    return {row["number"] for row in rows}


# ---- registrations (REG-2..7) ---------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    """An issued number with its product and, once registered, its subscriber."""

    number: str
    article: str
    product_name: str
    edition: Any
    its_required: bool
    configurations: list[str]
    pin_hash: str | None
    pin_used_at: datetime | None
    subscriber_id: uuid.UUID | None
    subscriber_code: str | None
    registered_by: str | None
    partner_id: uuid.UUID | None
    purchase_date: date | None
    registered_at: datetime | None
    active_from: datetime | None
    state: str


REGISTRATION_COLUMNS = (
    "r.number, r.article, p.name AS product_name, p.edition, p.its_required, "
    "COALESCE((SELECT array_agg(pc.configuration_code ORDER BY pc.configuration_code) "
    "  FROM product_configurations pc WHERE pc.article = r.article), '{}') AS configurations, "
    "r.pin_hash, r.pin_used_at, r.subscriber_id, r.subscriber_code, r.registered_by, r.partner_id, "
    "r.purchase_date, r.registered_at, r.active_from, r.state"
)
REGISTRATION_FROM = " FROM registration_numbers r JOIN products p ON p.article = r.article "
REGISTRATION_SELECT = "SELECT " + REGISTRATION_COLUMNS + REGISTRATION_FROM


def _registration(row: asyncpg.Record) -> Registration:
    return _registration_record(dict(row))


def _registration_record(fields: dict[str, Any]) -> Registration:
    return Registration(**{**fields, "configurations": list(fields["configurations"])})


async def issued_numbers(conn: Connection) -> dict[tuple[str, bool], list[str]]:
    """Every issued number, by (article, with a PIN)."""
    rows = await conn.fetch(
        "SELECT article, pin_hash IS NOT NULL AS with_pin, array_agg(number ORDER BY number) AS numbers "
        "FROM registration_numbers GROUP BY article, pin_hash IS NOT NULL"
    )
    return {(row["article"], row["with_pin"]): list(row["numbers"]) for row in rows}


async def registered(conn: Connection) -> list[Registration]:
    rows = await conn.fetch(REGISTRATION_SELECT + "WHERE r.subscriber_id IS NOT NULL ORDER BY r.registered_at")
    return [_registration(row) for row in rows]


async def lock_number(conn: Connection, number: str) -> Registration | None:
    """The number's row, locked until the transaction ends (one registration of a number at a time)."""
    # Serialises tries on a number even when it does not exist, so the PIN-failure count is exact.
    await lock_until_commit(conn, f"registration:{number}")
    row = await conn.fetchrow(REGISTRATION_SELECT + "WHERE r.number = $1 FOR UPDATE OF r", number)
    return _registration(row) if row is not None else None


async def registration(conn: Connection, number: str) -> Registration | None:
    row = await conn.fetchrow(REGISTRATION_SELECT + "WHERE r.number = $1", number)
    return _registration(row) if row is not None else None


async def subscriber_registrations(conn: Connection, subscriber_id: uuid.UUID) -> list[Registration]:
    rows = await conn.fetch(
        REGISTRATION_SELECT + "WHERE r.subscriber_id = $1 ORDER BY r.registered_at, r.number", subscriber_id
    )
    return [_registration(row) for row in rows]


async def number_record(conn: Connection, number: str) -> tuple[Registration, datetime, dict[str, Any] | None] | None:
    """The number with when it was issued and its registration card (for the vendor's support)."""
    row = await conn.fetchrow(
        f"SELECT {REGISTRATION_COLUMNS}, r.issued_at, r.card {REGISTRATION_FROM} WHERE r.number = $1", number
    )
    if row is None:
        return None
    fields = {k: v for k, v in dict(row).items() if k not in ("issued_at", "card")}
    return _registration_record(fields), row["issued_at"], row["card"]


async def transfers(conn: Connection, number: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT f.code AS from_subscriber_code, t.code AS to_subscriber_code, x.reason, x.at "
        "FROM transfers x LEFT JOIN subscribers f ON f.id = x.from_subscriber_id "
        "LEFT JOIN subscribers t ON t.id = x.to_subscriber_id WHERE x.number = $1 ORDER BY x.at",
        number,
    )


async def lock_subscriber_tries(conn: Connection, subscriber_id: uuid.UUID) -> None:
    """Serialises one subscriber's PIN tries (on any number) until the transaction ends, so its count across
    numbers is exact too. Taken after `lock_number`'s lock, always in that order: no deadlock."""
    await lock_until_commit(conn, f"registration-subscriber:{subscriber_id}")


async def pin_failures_since(
    conn: Connection, number: str, subscriber_id: uuid.UUID, since: datetime
) -> domain.PinFailures:
    """REG-7: the wrong PINs since `since` of this number (by this subscriber, by anyone) and of this subscriber."""
    rows = await conn.fetch(
        "SELECT at, number = $1 AS this_number, subscriber_id IS NOT DISTINCT FROM $2 AS this_subscriber "
        "FROM pin_failures WHERE at > $3 AND (number = $1 OR subscriber_id = $2)",
        number,
        subscriber_id,
        since,
    )
    return domain.PinFailures(
        number_and_subscriber=[r["at"] for r in rows if r["this_number"] and r["this_subscriber"]],
        number=[r["at"] for r in rows if r["this_number"]],
        subscriber=[r["at"] for r in rows if r["this_subscriber"]],
    )


async def record_pin_failure(conn: Connection, number: str, subscriber_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO pin_failures (number, subscriber_id, at) VALUES ($1, $2, $3)", number, subscriber_id, at
    )


async def purge_pin_failures(conn: Connection, before: datetime) -> None:
    await conn.execute("DELETE FROM pin_failures WHERE at < $1", before)


async def register(
    conn: Connection,
    number: str,
    *,
    subscriber_id: uuid.UUID,
    subscriber_code: str,
    registered_by: str,
    partner_id: uuid.UUID | None,
    account_id: uuid.UUID | None,
    purchase_date: date,
    card: dict[str, Any] | None,
    now: datetime,
    active_from: datetime,
    pin_used: bool,
) -> None:
    await conn.execute(
        "UPDATE registration_numbers SET subscriber_id = $2, subscriber_code = $3, registered_by = $4, "
        "partner_id = $5, account_id = $6, purchase_date = $7, card = $8, registered_at = $9, active_from = $10, "
        "state = $11, pin_used_at = COALESCE($12, pin_used_at) WHERE number = $1",
        number,
        subscriber_id,
        subscriber_code,
        registered_by,
        partner_id,
        account_id,
        purchase_date,
        card,
        now,
        active_from,
        "active" if active_from <= now else "pending",
        now if pin_used else None,
    )


async def activate(conn: Connection, number: str) -> Registration | None:
    """Pending → active (REG-3); None if it is not pending (already active, or never was)."""
    updated = await conn.fetchval(
        "UPDATE registration_numbers SET state = 'active' WHERE number = $1 AND state = 'pending' RETURNING number",
        number,
    )
    return await registration(conn, number) if updated else None


async def transfer(
    conn: Connection,
    number: str,
    *,
    to_subscriber_id: uuid.UUID,
    to_subscriber_code: str,
    from_subscriber_id: uuid.UUID,
    operator_id: uuid.UUID,
    reason: str,
    now: datetime,
) -> None:
    await conn.execute(
        "UPDATE registration_numbers SET subscriber_id = $2, subscriber_code = $3 WHERE number = $1",
        number,
        to_subscriber_id,
        to_subscriber_code,
    )
    await conn.execute(
        "INSERT INTO transfers (id, number, from_subscriber_id, to_subscriber_id, operator_id, reason, at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        uuid.uuid4(),
        number,
        from_subscriber_id,
        to_subscriber_id,
        operator_id,
        reason,
        now,
    )


async def active_configurations(conn: Connection, subscriber_id: uuid.UUID) -> set[str]:
    """REG-6: the configurations of the subscriber's active products."""
    rows = await conn.fetch(
        "SELECT DISTINCT pc.configuration_code FROM registration_numbers r "
        "JOIN product_configurations pc ON pc.article = r.article "
        "WHERE r.subscriber_id = $1 AND r.state = 'active'",
        subscriber_id,
    )
    return {row["configuration_code"] for row in rows}


# ---- read models of identity's and contracts' events -----------------------------------------


@dataclass(frozen=True)
class Subscriber:
    id: uuid.UUID
    code: str
    name: str
    owner_account_id: uuid.UUID
    owner_email: str | None
    owner_name: str | None
    owner_language: str | None


async def subscriber_by_code(conn: Connection, code: str) -> Subscriber | None:
    row = await conn.fetchrow(
        "SELECT s.id, s.code, s.name, s.owner_account_id, a.email AS owner_email, a.full_name AS owner_name, "
        "a.language AS owner_language FROM subscribers s LEFT JOIN accounts a ON a.id = s.owner_account_id "
        "WHERE s.code = $1",
        code,
    )
    return Subscriber(**dict(row)) if row is not None else None


async def save_subscriber(
    conn: Connection, subscriber_id: uuid.UUID, code: str, name: str, owner_account_id: uuid.UUID
) -> None:
    """Created, or announced again (services.identity.republish): the name is the latest announced."""
    await conn.execute(
        "INSERT INTO subscribers (id, code, name, owner_account_id) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (id) DO UPDATE SET name = $3",
        subscriber_id,
        code,
        name,
        owner_account_id,
    )


async def rename_subscriber(conn: Connection, subscriber_id: uuid.UUID, code: str, name: str) -> None:
    """A rename that overtakes the creation is dropped: the creation carries the name of its time, and
    renames are rare; identity stays the authority for the name shown in its own pages."""
    await conn.execute("UPDATE subscribers SET name = $3 WHERE id = $1 AND code = $2", subscriber_id, code, name)


async def save_account(
    conn: Connection, account_id: uuid.UUID, email: str, full_name: str | None, language: str
) -> None:
    await conn.execute(
        "INSERT INTO accounts (id, email, full_name, language) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (id) DO UPDATE SET email = $2, full_name = $3, language = $4",
        account_id,
        email,
        full_name,
        language,
    )


async def set_account_email(conn: Connection, account_id: uuid.UUID, email: str) -> None:
    await conn.execute("UPDATE accounts SET email = $2 WHERE id = $1", account_id, email)


async def set_account_name(conn: Connection, account_id: uuid.UUID, full_name: str | None) -> None:
    await conn.execute("UPDATE accounts SET full_name = $2 WHERE id = $1", account_id, full_name)


async def save_partner(conn: Connection, partner_id: uuid.UUID, name: str) -> None:
    await conn.execute(
        "INSERT INTO partners (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = $2", partner_id, name
    )


async def partner_names(conn: Connection, partner_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await conn.fetch("SELECT id, name FROM partners WHERE id = ANY($1::uuid[])", partner_ids)
    return {row["id"]: row["name"] for row in rows}


async def cover(conn: Connection, contract_id: uuid.UUID, numbers: list[str], period_from: str, period_to: str) -> None:
    """A contract's numbers are covered, unless it expired already (events may arrive out of order, and run at
    once: an activation that read "not expired" before an expiry committed would cover the numbers again)."""
    await lock_until_commit(conn, f"contract:{contract_id}")
    if await conn.fetchval("SELECT 1 FROM expired_contracts WHERE contract_id = $1", contract_id):
        return
    await conn.execute(
        "INSERT INTO contract_coverage (contract_id, registration_number, period_from, period_to) "
        "SELECT $1, unnest($2::text[]), $3, $4 ON CONFLICT DO NOTHING",
        contract_id,
        numbers,
        period_from,
        period_to,
    )


async def uncover(conn: Connection, contract_id: uuid.UUID) -> None:
    await lock_until_commit(conn, f"contract:{contract_id}")
    await conn.execute("INSERT INTO expired_contracts (contract_id) VALUES ($1) ON CONFLICT DO NOTHING", contract_id)
    await conn.execute("DELETE FROM contract_coverage WHERE contract_id = $1", contract_id)


async def coverage_ends(conn: Connection, number: str) -> list[str]:
    """The end months (YYYY-MM) of the contracts that list this number, main or additional (REG-4)."""
    rows = await conn.fetch("SELECT period_to FROM contract_coverage WHERE registration_number = $1", number)
    return [row["period_to"] for row in rows]
