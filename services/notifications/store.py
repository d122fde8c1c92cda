"""All SQL of notifications (schema `notifications`): the delivery log, the read models of identity's and
registration's events, accounts' preferences and the releases announced."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.notifications.delivery import SEND_EMAIL_JOB, Delivery, DeliveryStatus, OutgoingEmail, failure_reason
from services.notifications.releases import Owner
from services.notifications.rendering import RenderedEmail
from shared.db import Connection
from shared.jobs import schedule_many

MAX_ERROR_LENGTH = 2_000

_DELIVERY_COLUMNS = (
    "id, event_id, event_type, recipient, template, language, subject, status, attempts, last_error, "
    "created_at, sent_at"
)


@dataclass(frozen=True)
class NewDelivery:
    """A rendered e-mail to log and send; `account_id` set when one event writes to many accounts."""

    recipient: str
    template: str
    language: str
    email: RenderedEmail
    account_id: uuid.UUID | None = None
    unsubscribe_url: str | None = None


async def insert_deliveries(
    conn: Connection,
    *,
    event_id: uuid.UUID,
    event_type: str,
    created_at: datetime,
    deliveries: Sequence[NewDelivery],
) -> list[int]:
    """The new deliveries' ids, in one statement; those this event already has (the same account, or the one
    e-mail of a one-address event) are skipped: never two e-mails for one (event, account)."""
    rows = await conn.fetch(
        "INSERT INTO deliveries (event_id, event_type, created_at, recipient, template, language, subject, "
        "body_text, body_html, account_id, unsubscribe_url) "
        "SELECT $1, $2, $3, recipient, template, language, subject, body_text, body_html, account_id, "
        "unsubscribe_url FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], "
        "$10::uuid[], $11::text[]) "
        "AS d(recipient, template, language, subject, body_text, body_html, account_id, unsubscribe_url) "
        "ON CONFLICT (event_id, account_id) DO NOTHING RETURNING id",
        event_id,
        event_type,
        created_at,
        [d.recipient for d in deliveries],
        [d.template for d in deliveries],
        [d.language for d in deliveries],
        [d.email.subject for d in deliveries],
        [d.email.text for d in deliveries],
        [d.email.html for d in deliveries],
        [d.account_id for d in deliveries],
        [d.unsubscribe_url for d in deliveries],
    )
    return [row["id"] for row in rows]


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
    ids = await insert_deliveries(
        conn,
        event_id=event_id,
        event_type=event_type,
        created_at=created_at,
        deliveries=[NewDelivery(recipient, template, language, email)],
    )
    return ids[0] if ids else None


async def schedule_sends(
    conn: Connection, delivery_ids: Sequence[int], *, correlation_id: str, run_at: datetime
) -> None:
    """A `send_email` job per delivery, in one statement (a release's thousands of e-mails)."""
    jobs = [({"delivery_id": i, "correlation_id": correlation_id}, f"delivery:{i}") for i in delivery_ids]
    await schedule_many(conn, SEND_EMAIL_JOB, jobs, run_at)


async def lock_outgoing(conn: Connection, delivery_id: int) -> OutgoingEmail | None:
    """The delivery to send, locked until the caller's transaction ends (one sender at a time)."""
    row = await conn.fetchrow(
        "SELECT id AS delivery_id, event_id, template, recipient, subject, body_text, body_html, status, attempts, "
        "account_id, unsubscribe_url, created_at FROM deliveries WHERE id = $1 FOR UPDATE",
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
    return [Delivery(**dict(row), failure=failure_reason(row["last_error"])) for row in rows]


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


# ---- read models (identity's and registration's events) -------------------------------------------------
# Each part of a row keeps the time of the event it came from, and an older event never overwrites a newer
# one: duplicates, redeliveries and events that overtake each other (queues are not ordered across services,
# a retried event comes back late) leave the state of the newest event.


async def save_account(
    conn: Connection,
    account_id: uuid.UUID,
    *,
    login: str,
    email: str,
    full_name: str | None,
    language: str,
    at: datetime,
) -> None:
    """identity.account.registered, or announced again (identity's republish: the current values)."""
    await save_profile(conn, account_id, login=login, full_name=full_name, language=language, at=at)
    await set_account_email(conn, account_id, email, at)


async def save_profile(
    conn: Connection, account_id: uuid.UUID, *, login: str, full_name: str | None, language: str, at: datetime
) -> None:
    """identity.account.name_changed: the login, name and language as of `at`; the address is left as it is."""
    await conn.execute(
        "INSERT INTO accounts (id, login, full_name, language, profile_at) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (id) DO UPDATE SET "
        "login = CASE WHEN accounts.profile_at IS NULL OR accounts.profile_at <= $5 THEN $2 ELSE accounts.login END, "
        "full_name = CASE WHEN accounts.profile_at IS NULL OR accounts.profile_at <= $5 THEN $3 "
        "ELSE accounts.full_name END, "
        "language = CASE WHEN accounts.profile_at IS NULL OR accounts.profile_at <= $5 THEN $4 "
        "ELSE accounts.language END, "
        "profile_at = GREATEST(accounts.profile_at, $5)",
        account_id,
        login,
        full_name,
        language,
        at,
    )


async def set_account_email(conn: Connection, account_id: uuid.UUID, email: str, at: datetime) -> None:
    """identity.email.verified or identity.email.changed: the address the account verified (ACC-2, ACC-4) is its
    address from then on."""
    await conn.execute(
        "INSERT INTO accounts (id, email, email_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (id) DO UPDATE SET "
        "email = CASE WHEN accounts.email_at IS NULL OR accounts.email_at <= $3 THEN $2 ELSE accounts.email END, "
        "email_at = GREATEST(accounts.email_at, $3)",
        account_id,
        email,
        at,
    )


# A subscriber's name as of its newest event ($3, at $4): a rename and a re-announcement may come in any order.
_NEWEST_NAME = (
    "name = CASE WHEN subscribers.name_at <= $4 THEN $3 ELSE subscribers.name END, "
    "name_at = GREATEST(subscribers.name_at, $4)"
)


async def save_subscriber(
    conn: Connection, subscriber_id: uuid.UUID, *, code: str, name: str, owner_account_id: uuid.UUID, at: datetime
) -> None:
    """identity.subscriber.created (SUB-1: the registering account is the owner), or announced again."""
    await conn.execute(
        "INSERT INTO subscribers (id, code, name, name_at, owner_account_id) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (id) DO UPDATE SET code = $2, owner_account_id = $5, " + _NEWEST_NAME,
        subscriber_id,
        code,
        name,
        at,
        owner_account_id,
    )


async def rename_subscriber(conn: Connection, subscriber_id: uuid.UUID, *, code: str, name: str, at: datetime) -> None:
    """identity.subscriber.renamed (SUB-3); a rename that overtakes the creation is kept, the owner comes later."""
    await conn.execute(
        "INSERT INTO subscribers (id, code, name, name_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (id) DO UPDATE SET " + _NEWEST_NAME,
        subscriber_id,
        code,
        name,
        at,
    )


async def save_registered_product(
    conn: Connection,
    registration_number: str,
    *,
    subscriber_id: uuid.UUID,
    configurations: list[str],
    active_from: datetime,
    at: datetime,
) -> None:
    """registration.product.registered/activated/transferred: the number's subscriber, configurations and
    the time from which it counts (REG-3); a transfer moves it. An event older than the row changes nothing."""
    await conn.execute(
        "INSERT INTO registered_products (registration_number, subscriber_id, configurations, active_from, "
        "updated_at) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (registration_number) DO UPDATE SET subscriber_id = $2, configurations = $3, "
        "active_from = $4, updated_at = $5 WHERE registered_products.updated_at <= $5",
        registration_number,
        subscriber_id,
        configurations,
        active_from,
        at,
    )


# ---- release news ------------------------------------------------------------------------------------

# The owners to tell (UPD-3), one row per account with the subscribers it owns that qualify: those holding
# a product active at the release's time (with the configuration, for a configuration release), whose owner
# has an address and has not turned release news off (`{wanted}`: nor this configuration's, for a configuration
# release). `{holders}` and `{wanted}` are one of the two fixed pairs below.
_OWNERS = (
    "WITH holders AS (SELECT DISTINCT subscriber_id FROM registered_products WHERE {holders}) "
    "SELECT a.id AS account_id, a.email, a.login, a.full_name, a.language, "
    "array_agg(s.name ORDER BY s.name, s.code) AS names, array_agg(s.code ORDER BY s.name, s.code) AS codes "
    "FROM holders h JOIN subscribers s ON s.id = h.subscriber_id JOIN accounts a ON a.id = s.owner_account_id "
    "LEFT JOIN preferences p ON p.account_id = a.id "
    "WHERE a.email IS NOT NULL AND p.release_news IS NOT FALSE{wanted} "
    "GROUP BY a.id ORDER BY a.id"
)
# A configuration's holders through the GIN index on configurations; a platform release's: every active one.
CONFIGURATION_OWNERS = _OWNERS.format(
    holders="configurations @> ARRAY[$1::text] AND active_from <= $2",
    wanted=" AND NOT coalesce($1::text = ANY(p.muted_configurations), false)",
)
PLATFORM_OWNERS = _OWNERS.format(holders="active_from <= $1", wanted="")


async def owners_to_tell(conn: Connection, *, configuration: str | None, at: datetime) -> list[Owner]:
    """The owners of subscribers registered for `configuration` at `at` (None: with any active product)."""
    if configuration is None:
        rows = await conn.fetch(PLATFORM_OWNERS, at)
    else:
        rows = await conn.fetch(CONFIGURATION_OWNERS, configuration, at)
    return [
        Owner(
            account_id=row["account_id"],
            email=row["email"],
            login=row["login"],
            full_name=row["full_name"],
            language=row["language"],
            subscribers=list(zip(row["names"], row["codes"], strict=True)),
        )
        for row in rows
    ]


async def claim_release(
    conn: Connection,
    release_id: uuid.UUID,
    *,
    event_id: uuid.UUID,
    kind: str,
    configuration: str | None,
    version: str,
    at: datetime,
) -> bool:
    """True the first time a release is to be announced; False when another event announced it already."""
    claimed: bool | None = await conn.fetchval(
        "INSERT INTO release_announcements (release_id, event_id, kind, configuration, version, announced_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (release_id) DO NOTHING RETURNING true",
        release_id,
        event_id,
        kind,
        configuration,
        version,
        at,
    )
    return bool(claimed)


async def count_announced(conn: Connection, release_id: uuid.UUID, recipients: int) -> None:
    await conn.execute("UPDATE release_announcements SET recipients = $2 WHERE release_id = $1", release_id, recipients)


# ---- preferences -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseNews:
    """What release news an account wants: any (`wanted`), and of which configurations not (`muted`)."""

    wanted: bool
    muted: list[str]


async def release_news(conn: Connection, account_id: uuid.UUID) -> ReleaseNews:
    """No row: the defaults, every release news wanted."""
    row = await conn.fetchrow(
        "SELECT release_news, muted_configurations FROM preferences WHERE account_id = $1", account_id
    )
    if row is None:
        return ReleaseNews(True, [])
    return ReleaseNews(row["release_news"], sorted(row["muted_configurations"]))


async def set_release_news(
    conn: Connection, account_id: uuid.UUID, wanted: bool, at: datetime, *, muted: list[str] | None = None
) -> None:
    """`muted` None: the muted configurations stay as they are (the unsubscribe link turns only `wanted` off)."""
    await conn.execute(
        "INSERT INTO preferences (account_id, release_news, updated_at, muted_configurations) "
        "VALUES ($1, $2, $3, coalesce($4::text[], '{}')) "
        "ON CONFLICT (account_id) DO UPDATE SET release_news = $2, updated_at = $3, "
        "muted_configurations = coalesce($4::text[], preferences.muted_configurations)",
        account_id,
        wanted,
        at,
        muted,
    )


async def account_language(conn: Connection, account_id: uuid.UUID) -> str | None:
    language: str | None = await conn.fetchval("SELECT language FROM accounts WHERE id = $1", account_id)
    return language
