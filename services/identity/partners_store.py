"""identity's SQL for partners, their API clients and their staff."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from pydantic import BaseModel, ConfigDict

from services.identity.lists import Page, Window
from services.identity.lists_store import Order, PageQuery
from shared.db import Connection

# ---- partners and their API clients -------------------------------------------------------


class Partner(BaseModel):
    """A partner as kept, and as the API shows it (services.identity.partners_api.PartnerOut)."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    name: str
    tin: str
    city: str
    contact_email: str
    created_at: datetime
    deactivated_at: datetime | None = None  # none of its clients or staff get or use tokens meanwhile


PARTNER_COLUMNS = "id, name, tin, city, contact_email, created_at, deactivated_at"


class TinTaken(Exception):
    pass


async def insert_partner(conn: Connection, partner: Partner) -> None:
    try:
        await conn.execute(
            "INSERT INTO partners (id, name, tin, city, contact_email, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            partner.id,
            partner.name,
            partner.tin,
            partner.city,
            partner.contact_email,
            partner.created_at,
        )
    except asyncpg.UniqueViolationError:
        raise TinTaken from None


async def partner(conn: Connection, partner_id: uuid.UUID, *, lock: bool = False) -> Partner | None:
    """`lock`: the row locked until the transaction ends, for a change stamped after it (shared.revocations)."""
    row = await conn.fetchrow(
        f"SELECT {PARTNER_COLUMNS} FROM partners WHERE id = $1" + (" FOR UPDATE" if lock else ""), partner_id
    )
    return Partner(**dict(row)) if row else None


async def set_partner_deactivated(conn: Connection, partner_id: uuid.UUID, at: datetime | None) -> Partner:
    """Deactivate the partner (`at`) or reactivate it (None); locked with partner(lock=True) first."""
    row = await conn.fetchrow(
        f"UPDATE partners SET deactivated_at = $2 WHERE id = $1 RETURNING {PARTNER_COLUMNS}", partner_id, at
    )
    assert row is not None
    return Partner(**dict(row))


@dataclass(frozen=True)
class PartnerClient:
    id: uuid.UUID
    partner_id: uuid.UUID
    name: str
    created_at: datetime
    revoked_at: datetime | None


CLIENT_COLUMNS = "id, partner_id, name, created_at, revoked_at"


async def insert_partner_client(conn: Connection, client: PartnerClient, secret_hash: bytes) -> None:
    await conn.execute(
        "INSERT INTO partner_clients (id, partner_id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        client.id,
        client.partner_id,
        client.name,
        secret_hash,
        client.created_at,
    )


async def partner_clients(conn: Connection, partner_id: uuid.UUID) -> list[PartnerClient]:
    rows = await conn.fetch(
        f"SELECT {CLIENT_COLUMNS} FROM partner_clients WHERE partner_id = $1 ORDER BY created_at", partner_id
    )
    return [PartnerClient(**dict(row)) for row in rows]


async def lock_partner_client(conn: Connection, partner_id: uuid.UUID, client_id: uuid.UUID) -> PartnerClient | None:
    """The partner's client, its row locked until the transaction ends (a revocation is stamped after it)."""
    row = await conn.fetchrow(
        f"SELECT {CLIENT_COLUMNS} FROM partner_clients WHERE partner_id = $1 AND id = $2 FOR UPDATE",
        partner_id,
        client_id,
    )
    return PartnerClient(**dict(row)) if row else None


async def revoke_partner_client(conn: Connection, client_id: uuid.UUID, now: datetime) -> PartnerClient:
    """For a client locked with lock_partner_client; revoking it again keeps the first time."""
    row = await conn.fetchrow(
        f"UPDATE partner_clients SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING {CLIENT_COLUMNS}",
        client_id,
        now,
    )
    assert row is not None
    return PartnerClient(**dict(row))


async def client_for_token(conn: Connection, client_id: uuid.UUID) -> tuple[PartnerClient, bytes] | None:
    """A client that may get a token (not revoked, its partner active) and its secret's hash, read under a share
    lock of both rows held until the transaction ends: the token is stamped after it (shared.revocations)."""
    row = await conn.fetchrow(
        "SELECT c.id, c.partner_id, c.name, c.created_at, c.revoked_at, c.secret_hash "
        "FROM partner_clients c JOIN partners p ON p.id = c.partner_id "
        "WHERE c.id = $1 AND c.revoked_at IS NULL AND p.deactivated_at IS NULL FOR SHARE",
        client_id,
    )
    if row is None:
        return None
    values = dict(row)
    secret_hash: bytes = values.pop("secret_hash")
    return PartnerClient(**values), secret_hash


# ---- partner users ------------------------------------------------------------------------


async def join_partner(
    conn: Connection, partner_id: uuid.UUID, account_id: uuid.UUID, is_admin: bool, now: datetime
) -> bool:
    """False if the account is on the partner's staff already."""
    joined = await conn.fetchval(
        "INSERT INTO partner_members (partner_id, account_id, is_admin, joined_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING RETURNING true",
        partner_id,
        account_id,
        is_admin,
        now,
    )
    return bool(joined)


async def partner_admin(conn: Connection, partner_id: uuid.UUID, account_id: uuid.UUID) -> bool | None:
    """Whether the account administers the partner; None if it is not on its staff."""
    is_admin: bool | None = await conn.fetchval(
        "SELECT is_admin FROM partner_members WHERE partner_id = $1 AND account_id = $2", partner_id, account_id
    )
    return is_admin


@dataclass(frozen=True)
class StaffGrant:
    is_admin: bool
    partner_active: bool


async def staff_for_token(conn: Connection, partner_id: uuid.UUID, account_id: uuid.UUID) -> StaffGrant | None:
    """The account's place on the partner's staff (None: not on it), read under a share lock of it and of the
    partner held until the transaction ends: the token is stamped after it (shared.revocations)."""
    row = await conn.fetchrow(
        "SELECT m.is_admin, p.deactivated_at IS NULL AS partner_active "
        "FROM partner_members m JOIN partners p ON p.id = m.partner_id "
        "WHERE m.partner_id = $1 AND m.account_id = $2 FOR SHARE",
        partner_id,
        account_id,
    )
    return StaffGrant(**dict(row)) if row else None


async def remove_partner_member(conn: Connection, partner_id: uuid.UUID, account_id: uuid.UUID) -> bool:
    """False if the account is not on the partner's staff. The row stays locked until the transaction ends."""
    removed = await conn.fetchval(
        "DELETE FROM partner_members WHERE partner_id = $1 AND account_id = $2 RETURNING true", partner_id, account_id
    )
    return bool(removed)


async def partners_of_account(conn: Connection, account_id: uuid.UUID) -> list[tuple[Partner, bool]]:
    """The partners whose staff the account is on, each with whether it administers them."""
    rows = await conn.fetch(
        "SELECT p.id, p.name, p.tin, p.city, p.contact_email, p.created_at, p.deactivated_at, m.is_admin "
        "FROM partner_members m JOIN partners p ON p.id = m.partner_id WHERE m.account_id = $1 ORDER BY p.name",
        account_id,
    )
    return [(Partner(**{k: v for k, v in dict(row).items() if k != "is_admin"}), bool(row["is_admin"])) for row in rows]


@dataclass(frozen=True)
class PartnerUser:
    account_id: uuid.UUID
    login: str
    full_name: str | None
    email: str
    is_admin: bool
    joined_at: datetime


STAFF_ORDERS = {
    "name": Order("lower(coalesce(a.full_name, a.login))", "p.account_id"),
    "newest": Order("p.joined_at", "p.account_id", descending=True),
}


async def partner_users(conn: Connection, partner_id: uuid.UUID, window: Window) -> Page[PartnerUser]:
    """One page of the partner's staff. The search runs on this partner's rows only (the primary key starts with
    partner_id): a partner's staff is tens of people."""
    query = PageQuery(
        "a.id AS account_id, a.login, a.full_name, a.email, p.is_admin, p.joined_at",
        "partner_members p JOIN accounts a ON a.id = p.account_id",
        "p.partner_id = $1",
        [partner_id],
    )
    query.search(window, "a.login", "a.full_name", "a.email")
    rows = await query.fetch(conn, STAFF_ORDERS[window.sort], window)
    return Page.of([PartnerUser(**dict(row)) for row in rows], window.limit)


async def partner_user(conn: Connection, partner_id: uuid.UUID, account_id: uuid.UUID) -> PartnerUser | None:
    row = await conn.fetchrow(
        "SELECT a.id AS account_id, a.login, a.full_name, a.email, p.is_admin, p.joined_at "
        "FROM partner_members p JOIN accounts a ON a.id = p.account_id WHERE p.partner_id = $1 AND p.account_id = $2",
        partner_id,
        account_id,
    )
    return PartnerUser(**dict(row)) if row else None


# The partners, for operators. They are the vendor's franchisee network: thousands of rows, not millions. The
# search is a substring (an operator types "Romashka" for "OOO Romashka"), which no btree index serves and pg_trgm
# would, but pg_trgm is not assumed installed: ILIKE reads the whole table, a few hundred kB at most, in
# milliseconds. The pages themselves, searching or not, walk the indexes of migration 0007 in either order.
PARTNER_ORDERS = {
    "name": Order("lower(name)", "id"),
    "newest": Order("created_at", "id", descending=True),
}


async def partners_page(conn: Connection, window: Window, *, deactivated: bool | None) -> Page[Partner]:
    """One page of the partners: the deactivated ones (True), the active ones (False) or all (None)."""
    query = PageQuery(PARTNER_COLUMNS, "partners", "true")
    if deactivated is not None:
        query.where("deactivated_at IS NOT NULL" if deactivated else "deactivated_at IS NULL")
    query.search(window, "name", "tin", "city", "contact_email")
    rows = await query.fetch(conn, PARTNER_ORDERS[window.sort], window)
    return Page.of([Partner(**dict(row)) for row in rows], window.limit)


# The directory, whole (re-announcing it: services.identity.republish).
async def all_partners(conn: Connection) -> list[Partner]:
    rows = await conn.fetch(f"SELECT {PARTNER_COLUMNS} FROM partners ORDER BY created_at")
    return [Partner(**dict(row)) for row in rows]


async def all_partner_members(conn: Connection) -> list[asyncpg.Record]:
    """Every partner's staff: partner_id, account_id, is_admin, joined_at."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT partner_id, account_id, is_admin, joined_at FROM partner_members ORDER BY joined_at"
    )
    return rows
