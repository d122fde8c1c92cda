"""All SQL of notifications (schema `notifications`, table `deliveries`)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from services.notifications.domain import Delivery, DeliveryStatus, OutgoingEmail
from services.notifications.rendering import RenderedEmail
from shared.db import Connection

MAX_ERROR_LENGTH = 2_000

_DELIVERY_COLUMNS = (
    "id, event_id, event_type, recipient, template, language, subject, status, attempts, last_error, "
    "created_at, sent_at"
)


async def insert_delivery(
    conn: Connection,
    *,
    event_id: uuid.UUID,
    event_type: str,
    recipient: str,
    template: str,
    language: str,
    email: RenderedEmail,
    created_at: datetime,
) -> int | None:
    """The new delivery's id, or None if this event already has one (never two e-mails for one event)."""
    delivery_id: int | None = await conn.fetchval(
        "INSERT INTO deliveries (event_id, event_type, recipient, template, language, subject, body_text, "
        "body_html, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (event_id) DO NOTHING RETURNING id",
        event_id,
        event_type,
        recipient,
        template,
        language,
        email.subject,
        email.text,
        email.html,
        created_at,
    )
    return delivery_id


async def lock_outgoing(conn: Connection, delivery_id: int) -> OutgoingEmail | None:
    """The delivery to send, locked until the caller's transaction ends (one sender at a time)."""
    row = await conn.fetchrow(
        "SELECT id AS delivery_id, event_id, template, recipient, subject, body_text, body_html, status, attempts "
        "FROM deliveries WHERE id = $1 FOR UPDATE",
        delivery_id,
    )
    return OutgoingEmail(**dict(row)) if row is not None else None


async def mark_sent(conn: Connection, delivery_id: int, *, attempts: int, sent_at: datetime) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'sent', attempts = $2, sent_at = $3 WHERE id = $1",
        delivery_id,
        attempts,
        sent_at,
    )


async def record_failure(
    conn: Connection, delivery_id: int, *, attempts: int, error: str, status: DeliveryStatus
) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = $2, attempts = $3, last_error = $4 WHERE id = $1",
        delivery_id,
        status,
        attempts,
        error[:MAX_ERROR_LENGTH],
    )


async def list_deliveries(
    conn: Connection,
    *,
    recipient: str | None,
    status: DeliveryStatus | None,
    before_id: int | None,
    limit: int,
) -> list[Delivery]:
    """Newest first, at most `limit`, only ids below `before_id` (the keyset of the previous page)."""
    sql, args = list_deliveries_query(recipient=recipient, status=status, before_id=before_id, limit=limit)
    rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
    return [Delivery(**dict(row)) for row in rows]


def list_deliveries_query(
    *, recipient: str | None, status: DeliveryStatus | None, before_id: int | None, limit: int
) -> tuple[str, list[object]]:
    """Each filter is a fixed, parameterised condition, so every combination has a plan on an index:
    (lower(recipient), id), (status, id) or the primary key. Tests EXPLAIN it."""
    conditions: list[str] = []
    args: list[object] = []
    if recipient is not None:
        args.append(recipient)
        conditions.append(f"lower(recipient) = lower(${len(args)})")
    if status is not None:
        args.append(status)
        conditions.append(f"status = ${len(args)}")
    if before_id is not None:
        args.append(before_id)
        conditions.append(f"id < ${len(args)}")
    args.append(limit)
    where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
    sql = f"SELECT {_DELIVERY_COLUMNS} FROM deliveries {where}ORDER BY id DESC LIMIT ${len(args)}"
    return sql, args
