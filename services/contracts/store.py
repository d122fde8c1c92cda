"""Contracts' SQL. Every function takes the connection (and so the transaction) of its caller."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from rules.months import Month, Period
from shared.db import Connection

# ---- contracts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Contract:
    id: uuid.UUID
    partner_id: uuid.UUID
    number: str
    subscriber_code: str | None
    org_name: str
    tin: str
    kpp: str | None
    main_number: str
    additional_numbers: list[str]
    period_from: str
    period_to: str
    kind: str
    state: str
    received_at: datetime
    processing_on: date
    effective_at: datetime
    expires_at: datetime
    activated_at: datetime | None
    expired_at: datetime | None

    @property
    def period(self) -> Period:
        return Period.parse(self.period_from, self.period_to)

    @property
    def registration_numbers(self) -> list[str]:
        return [self.main_number, *self.additional_numbers]


CONTRACT_COLUMNS = (
    "id, partner_id, number, subscriber_code, org_name, tin, kpp, main_number, additional_numbers, period_from, "
    "period_to, kind, state, received_at, processing_on, effective_at, expires_at, activated_at, expired_at"
)


def _contract(row: asyncpg.Record | dict[str, Any]) -> Contract:
    return Contract(**{**dict(row), "additional_numbers": list(row["additional_numbers"])})


class NumberTaken(Exception):
    """The partner has a contract with this number already."""


async def insert_contract(conn: Connection, c: Contract) -> None:
    """The contract and its registration numbers, in one statement."""
    try:
        await conn.execute(
            f"WITH added AS (INSERT INTO contracts ({CONTRACT_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) "
            "RETURNING id, main_number, additional_numbers) "
            "INSERT INTO contract_numbers (contract_id, registration_number, is_main) "
            "SELECT added.id, n, n = added.main_number FROM added, "
            "unnest(added.main_number || added.additional_numbers) AS n",
            c.id,
            c.partner_id,
            c.number,
            c.subscriber_code,
            c.org_name,
            c.tin,
            c.kpp,
            c.main_number,
            c.additional_numbers,
            c.period_from,
            c.period_to,
            c.kind,
            c.state,
            c.received_at,
            c.processing_on,
            c.effective_at,
            c.expires_at,
            c.activated_at,
            c.expired_at,
        )
    except asyncpg.UniqueViolationError:
        raise NumberTaken from None


async def contract(conn: Connection, contract_id: uuid.UUID) -> Contract | None:
    row = await conn.fetchrow(f"SELECT {CONTRACT_COLUMNS} FROM contracts WHERE id = $1", contract_id)
    return _contract(row) if row is not None else None


async def partner_contracts(
    conn: Connection, partner_id: uuid.UUID, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> list[Contract]:
    """The partner's contracts, newest first, from the key `after` (keyset pagination: the contract last seen)."""
    rows = await conn.fetch(
        f"SELECT {CONTRACT_COLUMNS} FROM contracts WHERE partner_id = $1 "
        "AND ($3::timestamptz IS NULL OR (received_at, id) < ($3, $4)) "
        "ORDER BY received_at DESC, id DESC LIMIT $2",
        partner_id,
        limit,
        after[0] if after else None,
        after[1] if after else None,
    )
    return [_contract(row) for row in rows]


async def correct_organisation(
    conn: Connection, contract_id: uuid.UUID, name: str, tin: str, kpp: str | None
) -> Contract | None:
    row = await conn.fetchrow(
        f"UPDATE contracts SET org_name = $2, tin = $3, kpp = $4 WHERE id = $1 RETURNING {CONTRACT_COLUMNS}",
        contract_id,
        name,
        tin,
        kpp,
    )
    return _contract(row) if row is not None else None


async def activate_due(conn: Connection, now: datetime, limit: int) -> list[Contract]:
    """ITS-2: contracts whose business day has begun become active; rows locked by another worker are skipped."""
    rows = await conn.fetch(
        f"UPDATE contracts SET state = 'active', activated_at = $1 WHERE id IN ("
        "  SELECT id FROM contracts WHERE state = 'processing' AND effective_at <= $1 "
        "  ORDER BY effective_at LIMIT $2 FOR UPDATE SKIP LOCKED"
        f") RETURNING {CONTRACT_COLUMNS}",
        now,
        limit,
    )
    return [_contract(row) for row in rows]


async def expire_due(conn: Connection, now: datetime, limit: int) -> list[Contract]:
    rows = await conn.fetch(
        f"UPDATE contracts SET state = 'expired', expired_at = $1 WHERE id IN ("
        "  SELECT id FROM contracts WHERE state = 'active' AND expires_at <= $1 "
        "  ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED"
        f") RETURNING {CONTRACT_COLUMNS}",
        now,
        limit,
    )
    return [_contract(row) for row in rows]


async def subscriber_contracts(conn: Connection, subscriber_id: uuid.UUID, current: Month) -> list[Contract]:
    """ITS-3, ITS-4: processed contracts valid now or later with a number registered to the subscriber."""
    rows = await conn.fetch(
        f"SELECT {CONTRACT_COLUMNS} FROM contracts c WHERE c.state = 'active' AND c.period_to >= $2 "
        "AND EXISTS (SELECT 1 FROM contract_numbers cn JOIN numbers n ON n.number = cn.registration_number "
        "            WHERE cn.contract_id = c.id AND n.subscriber_id = $1) "
        "ORDER BY c.period_from, c.number",
        subscriber_id,
        str(current),
    )
    return [_contract(row) for row in rows]


async def contracts_numbered(conn: Connection, number: str) -> list[tuple[Contract, dict[str, str | None]]]:
    """Contracts with this contract number (partners' numbers may repeat), each with its registration
    numbers and the code of the subscriber each is registered to."""
    rows = await conn.fetch(
        f"SELECT {CONTRACT_COLUMNS}, "
        "  (SELECT jsonb_object_agg(cn.registration_number, n.subscriber_code) FROM contract_numbers cn "
        "   LEFT JOIN numbers n ON n.number = cn.registration_number WHERE cn.contract_id = c.id) AS owners "
        "FROM contracts c WHERE number = $1",
        number,
    )
    return [(_contract(_without(row, "owners")), row["owners"] or {}) for row in rows]


def _without(row: asyncpg.Record, column: str) -> dict[str, Any]:
    return {k: v for k, v in dict(row).items() if k != column}


async def contracts_listing(conn: Connection, registration_number: str) -> list[Contract]:
    """Active contracts that list this registration number, main or additional."""
    rows = await conn.fetch(
        f"SELECT {CONTRACT_COLUMNS} FROM contracts WHERE state = 'active' AND id IN "
        "(SELECT contract_id FROM contract_numbers WHERE registration_number = $1) ORDER BY period_from",
        registration_number,
    )
    return [_contract(row) for row in rows]


async def subscriber_processed_contracts(conn: Connection, subscriber_id: uuid.UUID) -> list[Contract]:
    """Processed contracts (active, or expired: they covered their months) on any of the subscriber's numbers
    (CMS-6, CMS-7); contracts still in processing do not count yet (ITS-2)."""
    rows = await conn.fetch(
        f"SELECT {CONTRACT_COLUMNS} FROM contracts c WHERE c.state IN ('active', 'expired') "
        "AND EXISTS (SELECT 1 FROM contract_numbers cn JOIN numbers n ON n.number = cn.registration_number "
        "            WHERE cn.contract_id = c.id AND n.subscriber_id = $1)",
        subscriber_id,
    )
    return [_contract(row) for row in rows]


# ---- idempotency keys -----------------------------------------------------------------------


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: bytes
    status: int
    response: dict[str, Any]


class KeyBusy(Exception):
    """Another request with this Idempotency-Key is being processed right now (it holds the lock)."""


async def claim_idempotency_key(conn: Connection, partner_id: uuid.UUID, key: str) -> StoredAnswer | None:
    """Lock the key for this transaction and return its stored answer, if any; KeyBusy if it is locked."""
    row = await conn.fetchrow(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('idempotency:' || $1::text || ':' || $2, 0)) AS locked, "
        "k.fingerprint, k.status, k.response FROM (SELECT 1) AS one "
        "LEFT JOIN idempotency_keys k ON k.partner_id = $1 AND k.key = $2",
        partner_id,
        key,
    )
    assert row is not None
    if not row["locked"]:
        raise KeyBusy
    if row["fingerprint"] is None:
        return None
    return StoredAnswer(bytes(row["fingerprint"]), row["status"], row["response"])


async def store_answer(conn: Connection, partner_id: uuid.UUID, key: str, answer: StoredAnswer, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO idempotency_keys (partner_id, key, fingerprint, status, response, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        partner_id,
        key,
        answer.fingerprint,
        answer.status,
        answer.response,
        now,
    )


async def purge_idempotency_keys(conn: Connection, before: datetime) -> None:
    await conn.execute("DELETE FROM idempotency_keys WHERE created_at < $1", before)


# ---- organisation reports (ITS-6) -----------------------------------------------------------


async def reports_since(conn: Connection, contract_id: uuid.UUID, subscriber_id: uuid.UUID, since: datetime) -> int:
    n: int = await conn.fetchval(
        "SELECT count(*) FROM organisation_reports WHERE contract_id = $1 AND subscriber_id = $2 AND reported_at > $3",
        contract_id,
        subscriber_id,
        since,
    )
    return n


async def insert_report(
    conn: Connection,
    report_id: uuid.UUID,
    contract_id: uuid.UUID,
    subscriber_id: uuid.UUID,
    account_id: uuid.UUID,
    message: str,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO organisation_reports (id, contract_id, subscriber_id, account_id, message, reported_at) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        report_id,
        contract_id,
        subscriber_id,
        account_id,
        message,
        now,
    )


# ---- webhooks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Webhook:
    partner_id: uuid.UUID
    url: str
    secret: str


async def set_webhook(conn: Connection, partner_id: uuid.UUID, url: str, secret: str, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO webhooks (partner_id, url, secret, updated_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (partner_id) DO UPDATE SET url = $2, secret = $3, updated_at = $4",
        partner_id,
        url,
        secret,
        now,
    )


async def delete_webhook(conn: Connection, partner_id: uuid.UUID) -> bool:
    deleted = await conn.fetchval("DELETE FROM webhooks WHERE partner_id = $1 RETURNING 1", partner_id)
    return deleted is not None


async def partners_with_webhook(conn: Connection, partner_ids: set[str]) -> set[str]:
    rows = await conn.fetch(
        "SELECT partner_id::text AS id FROM webhooks WHERE partner_id = ANY($1::uuid[])", list(partner_ids)
    )
    return {row["id"] for row in rows}


async def webhook(conn: Connection, partner_id: uuid.UUID) -> Webhook | None:
    row = await conn.fetchrow("SELECT partner_id, url, secret FROM webhooks WHERE partner_id = $1", partner_id)
    return Webhook(**dict(row)) if row is not None else None


# ---- read models --------------------------------------------------------------------------------


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


async def unknown_numbers(conn: Connection, numbers: list[str]) -> list[str]:
    rows = await conn.fetch(
        "SELECT n FROM unnest($1::text[]) AS n WHERE NOT EXISTS (SELECT 1 FROM numbers WHERE number = n)", numbers
    )
    return [row["n"] for row in rows]


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
