"""Questions, their messages and attachments: SQL only, parameterised, every list on an index (SUP-1)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from services.support.conversation import State
from shared.db import Connection


@dataclass(frozen=True)
class Question:
    id: uuid.UUID
    kind: str
    subscriber_id: uuid.UUID
    subscriber_code: str
    asker_account_id: uuid.UUID
    asker_login: str
    subject: str
    body: str
    registration_number: str | None
    configuration: str | None
    version: str | None
    platform_version: str | None
    routed_kind: str
    partner_id: uuid.UUID | None
    routed_name: str
    state: State
    shared: bool
    assigned_to: uuid.UUID | None
    asked_at: datetime
    first_response_due: datetime
    first_response_at: datetime | None
    overdue_at: datetime | None
    closed_at: datetime | None
    rating: int | None
    rating_comment: str | None
    rated_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class Message:
    id: uuid.UUID
    question_id: uuid.UUID
    author_account_id: uuid.UUID
    author_login: str
    side: str
    body: str
    minutes_spent: int | None
    asks_for_details: bool
    created_at: datetime


@dataclass(frozen=True)
class Attachment:
    question_id: uuid.UUID
    name: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: uuid.UUID
    side: str
    uploaded_at: datetime


_QUESTION_COLUMNS = ", ".join(f.name for f in fields(Question))


def _question(row: Any) -> Question:
    return Question(**{f.name: row[f.name] for f in fields(Question)})


async def insert_question(conn: Connection, q: Question) -> None:
    values = [getattr(q, f.name) for f in fields(Question)]
    placeholders = ", ".join(f"${n}" for n in range(1, len(values) + 1))
    await conn.execute(f"INSERT INTO questions ({_QUESTION_COLUMNS}) VALUES ({placeholders})", *values)


async def question(conn: Connection, question_id: uuid.UUID, *, lock: bool = False) -> Question | None:
    row = await conn.fetchrow(
        f"SELECT {_QUESTION_COLUMNS} FROM questions WHERE id = $1{' FOR UPDATE' if lock else ''}",
        question_id,
    )
    return _question(row) if row else None


async def update_question(conn: Connection, question_id: uuid.UUID, now: datetime, **changes: Any) -> Question:
    """Set the given columns (names from this module's callers only) and updated_at; the row as it is now."""
    names = list(changes)
    sets = ", ".join(f"{name} = ${n}" for n, name in enumerate(names, start=3))
    row = await conn.fetchrow(
        f"UPDATE questions SET updated_at = $2{', ' if sets else ''}{sets} WHERE id = $1 RETURNING {_QUESTION_COLUMNS}",
        question_id,
        now,
        *(changes[name] for name in names),
    )
    return _question(row)


async def insert_message(conn: Connection, m: Message) -> None:
    await conn.execute(
        "INSERT INTO messages (id, question_id, author_account_id, author_login, side, body, minutes_spent, "
        "asks_for_details, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        m.id,
        m.question_id,
        m.author_account_id,
        m.author_login,
        m.side,
        m.body,
        m.minutes_spent,
        m.asks_for_details,
        m.created_at,
    )


async def messages_of(conn: Connection, question_id: uuid.UUID) -> list[Message]:
    rows = await conn.fetch("SELECT * FROM messages WHERE question_id = $1 ORDER BY created_at, id", question_id)
    return [Message(**{f.name: r[f.name] for f in fields(Message)}) for r in rows]


async def attachments_of(conn: Connection, question_id: uuid.UUID) -> list[Attachment]:
    rows = await conn.fetch("SELECT * FROM attachments WHERE question_id = $1 ORDER BY uploaded_at, name", question_id)
    return [Attachment(**{f.name: r[f.name] for f in fields(Attachment)}) for r in rows]


async def attachment(conn: Connection, question_id: uuid.UUID, name: str) -> Attachment | None:
    row = await conn.fetchrow("SELECT * FROM attachments WHERE question_id = $1 AND name = $2", question_id, name)
    return Attachment(**{f.name: row[f.name] for f in fields(Attachment)}) if row else None


async def count_attachments(conn: Connection, question_id: uuid.UUID) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM attachments WHERE question_id = $1", question_id)
    return count


async def insert_attachment(conn: Connection, a: Attachment) -> bool:
    """False when the question has an attachment of that name already."""
    inserted = await conn.fetchval(
        "INSERT INTO attachments (question_id, name, content_type, size, sha256, uploaded_by, side, uploaded_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING true",
        a.question_id,
        a.name,
        a.content_type,
        a.size,
        a.sha256,
        a.uploaded_by,
        a.side,
        a.uploaded_at,
    )
    return bool(inserted)


async def subscriber_questions(
    conn: Connection,
    subscriber_id: uuid.UUID,
    *,
    account_id: uuid.UUID | None,
    state: str | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[Question]:
    """The subscriber's questions newest first: all of them (`account_id` None: the owner), or those the account
    asked and those shared with every user."""
    rows = await conn.fetch(
        f"SELECT {_QUESTION_COLUMNS} FROM questions WHERE subscriber_id = $1 "
        "AND ($2::uuid IS NULL OR asker_account_id = $2 OR shared) AND ($3::text IS NULL OR state = $3) "
        "AND ($4::timestamptz IS NULL OR (asked_at, id) < ($4, $5)) ORDER BY asked_at DESC, id DESC LIMIT $6",
        subscriber_id,
        account_id,
        state,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_question(r) for r in rows]


@dataclass(frozen=True)
class QueueFilter:
    states: tuple[str, ...]
    overdue: bool | None
    configuration: str | None
    subscriber_code: str | None
    kind: str | None


async def queue(
    conn: Connection,
    *,
    partner_id: uuid.UUID | None,
    only: QueueFilter,
    now: datetime,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[Question]:
    """A partner's queue (`partner_id`) or the vendor's (None), oldest due first. Overdue: no first answer by the
    due moment."""
    owner = "routed_kind = 'partner' AND partner_id = $1"
    if partner_id is None:
        owner = "routed_kind = 'vendor' AND $1::uuid IS NULL"
    rows = await conn.fetch(
        f"SELECT {_QUESTION_COLUMNS} FROM questions WHERE {owner} AND state = ANY($2::text[]) "
        "AND ($3::boolean IS NULL OR (first_response_at IS NULL AND first_response_due < $4) = $3) "
        "AND ($5::text IS NULL OR configuration = $5) AND ($6::text IS NULL OR subscriber_code = $6) "
        "AND ($7::text IS NULL OR kind = $7) "
        "AND ($8::timestamptz IS NULL OR (first_response_due, id) > ($8, $9)) "
        "ORDER BY first_response_due, id LIMIT $10",
        partner_id,
        list(only.states),
        only.overdue,
        now,
        only.configuration,
        only.subscriber_code,
        only.kind,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_question(r) for r in rows]


async def mark_overdue(conn: Connection, question_id: uuid.UUID, now: datetime) -> Question | None:
    """Flag the question overdue, once: only when it has no first answer, is open and is due by now."""
    row = await conn.fetchrow(
        f"UPDATE questions SET overdue_at = $2, updated_at = $2 WHERE id = $1 AND overdue_at IS NULL "
        "AND first_response_at IS NULL AND state <> 'closed' AND first_response_due <= $2 "
        f"RETURNING {_QUESTION_COLUMNS}",
        question_id,
        now,
    )
    return _question(row) if row else None


@dataclass(frozen=True)
class FigureRow:
    group_id: str  # a partner's id, 'vendor', or a subscriber's code
    group_name: str
    asked_at: datetime
    first_response_at: datetime | None
    rating: int | None
    minutes: int


async def figure_rows(
    conn: Connection,
    *,
    start: datetime,
    end: datetime,
    subscriber_id: uuid.UUID | None,
    partner_id: uuid.UUID | None,
    by_subscriber: bool,
) -> list[FigureRow]:
    """The questions asked in [start, end) (of the subscriber, or routed to the partner, or all), each with its
    group and the minutes its staff spent."""
    group = (
        "q.subscriber_code, q.subscriber_code"
        if by_subscriber
        else "coalesce(q.partner_id::text, 'vendor'), q.routed_name"
    )
    rows = await conn.fetch(
        f"SELECT {group}, q.asked_at, q.first_response_at, q.rating, "
        "coalesce((SELECT sum(m.minutes_spent) FROM messages m WHERE m.question_id = q.id), 0) AS minutes "
        "FROM questions q WHERE q.asked_at >= $1 AND q.asked_at < $2 "
        "AND ($3::uuid IS NULL OR q.subscriber_id = $3) AND ($4::uuid IS NULL OR q.partner_id = $4) "
        "ORDER BY q.asked_at",
        start,
        end,
        subscriber_id,
        partner_id,
    )
    return [
        FigureRow(str(r[0]), str(r[1]), r["asked_at"], r["first_response_at"], r["rating"], int(r["minutes"]))
        for r in rows
    ]
