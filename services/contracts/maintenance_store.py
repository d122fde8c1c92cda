"""contracts' SQL for configuration maintenance services (CMS-1..7): activation codes and activations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from rules.months import Period
from shared.db import Connection

# ---- maintenance services (CMS) ---------------------------------------------------------------


async def insert_codes(
    conn: Connection, hashes: list[bytes], category: int, months: int, batch_id: uuid.UUID, now: datetime
) -> int:
    inserted = await conn.fetch(
        "INSERT INTO activation_codes (code_hash, category, months, batch_id, issued_at) "
        "SELECT h, $2, $3, $4, $5 FROM unnest($1::bytea[]) AS h ON CONFLICT DO NOTHING RETURNING code_hash",
        hashes,
        category,
        months,
        batch_id,
        now,
    )
    return len(inserted)


@dataclass(frozen=True)
class ActivationCode:
    category: int
    months: int
    used: bool


async def lock_code(conn: Connection, code_hash: bytes) -> ActivationCode | None:
    row = await conn.fetchrow(
        "SELECT category, months, used_at IS NOT NULL AS used FROM activation_codes WHERE code_hash = $1 FOR UPDATE",
        code_hash,
    )
    return ActivationCode(**dict(row)) if row is not None else None


async def use_code(conn: Connection, code_hash: bytes, activation_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE activation_codes SET used_at = $2, activation_id = $3 WHERE code_hash = $1",
        code_hash,
        now,
        activation_id,
    )


@dataclass(frozen=True)
class Activation:
    id: uuid.UUID
    subscriber_id: uuid.UUID
    configuration: str
    category: int
    period_from: str
    period_to: str
    registration_number: str
    partner_id: uuid.UUID | None
    activated_by: uuid.UUID
    activated_at: datetime

    @property
    def period(self) -> Period:
        return Period.parse(self.period_from, self.period_to)


ACTIVATION_COLUMNS = (
    "id, subscriber_id, configuration, category, period_from, period_to, registration_number, partner_id, "
    "activated_by, activated_at"
)


async def insert_activation(conn: Connection, a: Activation) -> None:
    await conn.execute(
        f"INSERT INTO activations ({ACTIVATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        a.id,
        a.subscriber_id,
        a.configuration,
        a.category,
        a.period_from,
        a.period_to,
        a.registration_number,
        a.partner_id,
        a.activated_by,
        a.activated_at,
    )


async def activations(conn: Connection, subscriber_id: uuid.UUID, configuration: str | None = None) -> list[Activation]:
    rows = await conn.fetch(
        f"SELECT {ACTIVATION_COLUMNS} FROM activations WHERE subscriber_id = $1 "
        "AND ($2::text IS NULL OR configuration = $2) ORDER BY activated_at",
        subscriber_id,
        configuration,
    )
    return [Activation(**dict(row)) for row in rows]


async def lock_activation(conn: Connection, activation_id: uuid.UUID, subscriber_id: uuid.UUID) -> Activation | None:
    """The subscriber's activation, locked until the transaction ends (one choice of partner at a time)."""
    row = await conn.fetchrow(
        f"SELECT {ACTIVATION_COLUMNS} FROM activations WHERE id = $1 AND subscriber_id = $2 FOR UPDATE",
        activation_id,
        subscriber_id,
    )
    return Activation(**dict(row)) if row is not None else None


async def choose_partner(conn: Connection, activation_id: uuid.UUID, partner_id: uuid.UUID) -> Activation:
    row = await conn.fetchrow(
        f"UPDATE activations SET partner_id = $2 WHERE id = $1 RETURNING {ACTIVATION_COLUMNS}",
        activation_id,
        partner_id,
    )
    assert row is not None  # locked by the caller
    return Activation(**dict(row))
