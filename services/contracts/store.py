"""Contracts' SQL. Every function takes the connection (and so the transaction) of its caller."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from rules.months import Month, Period
from services.contracts.domain import PartnerListing, PostedContract
from shared.db import Connection

# ---- contracts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Contract(PostedContract):
    """A received contract: what the partner posted (ITS-1), and where it stands."""

    id: uuid.UUID
    partner_id: uuid.UUID
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


async def contract(conn: Connection, contract_id: uuid.UUID) -> Contract | None:
    row = await conn.fetchrow(f"SELECT {CONTRACT_COLUMNS} FROM contracts WHERE id = $1", contract_id)
    return _contract(row) if row is not None else None


# sort → (its key's columns, the order, the comparison that goes past the key of the last contract seen)
PARTNER_SORTS = {
    "received": ("(received_at, id)", "received_at DESC, id DESC", "<"),
    "ending": ("(expires_at, id)", "expires_at, id", ">"),
}


def _literal(text: str) -> str:
    """`text` inside a LIKE pattern, its own %, _ and \\ taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def partner_contracts(
    conn: Connection,
    partner_id: uuid.UUID,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    listing: PartnerListing,
) -> list[Contract]:
    """The partner's contracts that match `listing`, in its order, from the key `after` (keyset pagination: the
    key of the contract last seen); every order has its index (migrations 0003, 0004)."""
    args: list[Any] = [partner_id]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    where = ["partner_id = $1"]
    if listing.state is not None:
        where.append(f"state = {arg(listing.state)}")
    if listing.ending_by is not None:
        where.append(
            f"state <> 'expired' AND expires_at > {arg(listing.now)} AND expires_at <= {arg(listing.ending_by)}"
        )
    if listing.configuration is not None:
        where.append(
            "EXISTS (SELECT 1 FROM contract_numbers cn JOIN numbers n ON n.number = cn.registration_number "
            "JOIN products p ON p.article = n.article "
            f"WHERE cn.contract_id = contracts.id AND {arg(listing.configuration)}::text = ANY(p.configurations))"
        )
    if listing.q is not None:
        like, prefix, exact = arg(f"%{_literal(listing.q)}%"), arg(f"{_literal(listing.q)}%"), arg(listing.q)
        where.append(
            f"(org_name ILIKE {like} OR number ILIKE {like} OR tin LIKE {prefix} "
            f"OR subscriber_code = upper({exact}::text) OR EXISTS (SELECT 1 FROM contract_numbers cn "
            f"WHERE cn.contract_id = contracts.id AND cn.registration_number = {exact}::text))"
        )
    key, order, past = PARTNER_SORTS[listing.sort]
    if after is not None:
        where.append(f"{key} {past} ({arg(after[0])}::timestamptz, {arg(after[1])}::uuid)")
    rows = await conn.fetch(
        f"SELECT {CONTRACT_COLUMNS} FROM contracts WHERE {' AND '.join(where)} ORDER BY {order} LIMIT {arg(limit)}",
        *args,
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


async def activate_due(conn: Connection, now: datetime, limit: int) -> list[tuple[Contract, dict[str, str] | None]]:
    """ITS-2: contracts whose business day has begun become active; rows locked by another worker are skipped.
    Each with the trace context of the POST that brought it (migration 0008; None when tracing was off)."""
    rows = await conn.fetch(
        f"UPDATE contracts SET state = 'active', activated_at = $1 WHERE id IN ("
        "  SELECT id FROM contracts WHERE state = 'processing' AND effective_at <= $1 "
        "  ORDER BY effective_at LIMIT $2 FOR UPDATE SKIP LOCKED"
        f") RETURNING {CONTRACT_COLUMNS}, trace_context",
        now,
        limit,
    )
    return [(_contract(_without(row, "trace_context")), row["trace_context"]) for row in rows]


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
