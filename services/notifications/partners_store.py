"""SQL of the read models support's letters need (SUP-1): identity's partners and their staff, and the people to
write to (schema `notifications`; the accounts' table is release news', store.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from shared.db import Connection


@dataclass(frozen=True)
class Person:
    """Someone a letter goes to: an account of the read model, or (`account_id` None) an address alone."""

    account_id: uuid.UUID | None
    email: str
    login: str | None
    full_name: str | None
    language: str


@dataclass(frozen=True)
class Partner:
    name: str
    contact_email: str


async def save_partner(conn: Connection, partner_id: uuid.UUID, *, name: str, contact_email: str) -> None:
    """identity.partner.created, or announced again: the current name and contact address."""
    await conn.execute(
        "INSERT INTO partners (id, name, contact_email) VALUES ($1, $2, $3) "
        "ON CONFLICT (id) DO UPDATE SET name = $2, contact_email = $3",
        partner_id,
        name,
        contact_email,
    )


async def set_staff(
    conn: Connection, partner_id: uuid.UUID, account_id: uuid.UUID, *, member: bool, is_admin: bool, at: datetime
) -> None:
    """identity.partner_staff.joined (member) or .removed (not), as of `at`; an older event changes nothing. A
    removal keeps the admin flag it found (a person who leaves stops getting letters anyway)."""
    await conn.execute(
        "INSERT INTO partner_staff (partner_id, account_id, is_admin, member, changed_at) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (partner_id, account_id) DO UPDATE SET member = $4, changed_at = $5, "
        "is_admin = CASE WHEN $4 THEN $3 ELSE partner_staff.is_admin END "
        "WHERE partner_staff.changed_at <= $5",
        partner_id,
        account_id,
        is_admin,
        member,
        at,
    )


async def partner(conn: Connection, partner_id: uuid.UUID) -> Partner | None:
    row = await conn.fetchrow("SELECT name, contact_email FROM partners WHERE id = $1", partner_id)
    return Partner(row["name"], row["contact_email"]) if row else None


async def staff(conn: Connection, partner_id: uuid.UUID, *, admins_only: bool) -> list[Person]:
    """The partner's staff now (only its admins), those whose address the read model knows; on the primary key."""
    rows = await conn.fetch(
        "SELECT a.id, a.email, a.login, a.full_name, a.language FROM partner_staff s "
        "JOIN accounts a ON a.id = s.account_id "
        "WHERE s.partner_id = $1 AND s.member AND (s.is_admin OR NOT $2) AND a.email IS NOT NULL ORDER BY a.id",
        partner_id,
        admins_only,
    )
    return [Person(row["id"], row["email"], row["login"], row["full_name"], row["language"]) for row in rows]


async def account(conn: Connection, account_id: uuid.UUID) -> Person | None:
    """The account, if the read model knows its address."""
    row = await conn.fetchrow(
        "SELECT id, email, login, full_name, language FROM accounts WHERE id = $1 AND email IS NOT NULL", account_id
    )
    return Person(row["id"], row["email"], row["login"], row["full_name"], row["language"]) if row else None
