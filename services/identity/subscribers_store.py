"""identity's SQL for subscribers and their members (SUB-1..7). Every function takes its caller's connection."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.identity.domain import FailureCounts, ThrottlePolicy
from services.identity.lists import Page, Window
from services.identity.lists_store import Order, PageQuery
from services.identity.store import ACCOUNT_COLUMNS, Account
from services.identity.tokens_store import REFRESH_TOKEN_COLUMNS, NewRefreshToken, failure_counts_of, failure_windows
from shared.db import Connection

# ---- subscribers and members (SUB-1..7) ---------------------------------------------------


@dataclass(frozen=True)
class Membership:
    """An account's place in a subscriber: what a token for that subscriber carries."""

    subscriber_id: uuid.UUID
    code: str
    name: str
    role: str
    its_access: bool
    joined_at: datetime


MEMBERSHIP_COLUMNS = "s.id AS subscriber_id, s.code, s.name, m.role, m.its_access, m.joined_at"
MEMBERSHIP_FIELDS = tuple(f.name for f in dataclasses.fields(Membership))  # as MEMBERSHIP_COLUMNS names them


async def insert_subscriber(
    conn: Connection, *, owner: Account, name: str, now: datetime, new_code: Callable[[], str]
) -> Membership:
    """Create the subscriber with `owner` as its owner member (SUB-1); codes are retried until unique."""
    subscriber_id = uuid.uuid4()
    while True:
        code = new_code()
        inserted = await conn.fetchval(
            "INSERT INTO subscribers (id, code, name, owner_account_id, created_at) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (code) DO NOTHING RETURNING true",
            subscriber_id,
            code,
            name,
            owner.id,
            now,
        )
        if inserted:
            break
    await conn.execute(
        "INSERT INTO members (subscriber_id, account_id, role, its_access, joined_at) "
        "VALUES ($1, $2, 'owner', true, $3)",
        subscriber_id,
        owner.id,
        now,
    )
    return Membership(subscriber_id, code, name, "owner", True, now)


@dataclass(frozen=True)
class LoginCandidate:
    """What a login reads before the hash: the account (None: no such login), its membership of the subscriber asked
    for, the versions of the account's and of that membership's rows (PostgreSQL's `xmin`: any change of a row
    writes a new one), and the failures that may throttle the attempt."""

    account: Account | None
    membership: Membership | None
    account_version: str | None
    member_version: str | None
    failures: FailureCounts


# The account named by login ($1), its membership of the subscriber coded $2 (its own when $2 is null) and the
# throttling counts (login_failure_counts: tokens_store.failure_counts' function, the same windows, $3-$8).
_CANDIDATE_SQL = (
    "SELECT f.pair, f.pair_oldest, f.login AS login_failures, f.login_oldest, f.address, f.address_oldest, "
    "f.address_is_known, c.* "
    "FROM login_failure_counts($3, $4, $5, $6, $7, $8) AS f LEFT JOIN LATERAL ("
    f"  SELECT {', '.join('a.' + c for c in ACCOUNT_COLUMNS.split(', '))}, a.xmin::text AS account_version, "
    "  s.id AS subscriber_id, s.code, s.name, m.role, m.its_access, m.joined_at, m.xmin::text AS member_version "
    "  FROM accounts a LEFT JOIN (members m JOIN subscribers s ON s.id = m.subscriber_id) "
    "  ON m.account_id = a.id AND m.excluded_at IS NULL "
    "  AND (s.code = $2 OR ($2::text IS NULL AND s.owner_account_id = a.id)) "
    "  WHERE lower(a.login) = lower($1)"
    ") AS c ON true"
)


async def login_candidate(
    conn: Connection,
    username: str,
    subscriber_code: str | None,
    *,
    login_key: str,
    client_addr: str,
    now: datetime,
    policy: ThrottlePolicy,
) -> LoginCandidate:
    """At a login, in one round trip: the account, its membership of `subscriber_code` (of its own subscriber when
    None) and the throttling counts."""
    row = await conn.fetchrow(
        _CANDIDATE_SQL, username, subscriber_code, *failure_windows(login_key, client_addr, now, policy)
    )
    assert row is not None  # the function always answers one row
    return _candidate(row)


@dataclass(frozen=True)
class KnownLoginRead:
    """What record_known_login read, and the attempt it recorded as a success (None: it recorded nothing)."""

    candidate: LoginCandidate
    attempt_id: int | None


async def record_known_login(
    conn: Connection,
    username: str,
    subscriber_code: str | None,
    *,
    login_key: str,
    client_addr: str,
    policy: ThrottlePolicy,
    token: NewRefreshToken,
    account_version: str,
    member_version: str,
) -> KnownLoginRead:
    """A member's login whose account and membership this process read at an earlier login, in one statement (its
    own transaction): what login_candidate reads, and, if the account's row and the membership's row (read again
    under a share lock) are still the versions given, the attempt recorded as a success and the refresh token
    kept, as tokens_store.record_member_login does. Then no change of either committed since they were read, nor
    can one of the member commit before this statement has, so a token stamped before it carries the member's
    grant as it stands. Otherwise nothing is written, and the caller goes on from what was read."""
    assert token.subscriber_id is not None
    row = await conn.fetchrow(
        "WITH granted AS ("
        "  SELECT true FROM members m "
        "  WHERE m.subscriber_id = $12 AND m.account_id = $11 AND m.excluded_at IS NULL AND m.xmin::text = $15 "
        "  AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = $11 AND a.xmin::text = $16) FOR SHARE OF m"
        "), attempt AS ("
        "  INSERT INTO login_attempts (login, client_addr, at, success) SELECT $3, $4, $13, true FROM granted "
        "  RETURNING id"
        "), refresh AS ("
        f"  INSERT INTO refresh_tokens ({REFRESH_TOKEN_COLUMNS}) SELECT $9, $10, $11, $12, $13, $14 FROM granted"
        f") SELECT candidate.*, (SELECT id FROM attempt) AS attempt_id FROM ({_CANDIDATE_SQL}) AS candidate",
        username,
        subscriber_code,
        *failure_windows(login_key, client_addr, token.created_at, policy),
        *token.values(),
        member_version,
        account_version,
    )
    assert row is not None  # the function always answers one row
    return KnownLoginRead(_candidate(row), row["attempt_id"])


def _candidate(row: asyncpg.Record) -> LoginCandidate:
    account = Account(**{c: row[c] for c in ACCOUNT_COLUMNS.split(", ")}) if row["id"] is not None else None
    membership = Membership(**{c: row[c] for c in MEMBERSHIP_FIELDS}) if row["subscriber_id"] is not None else None
    return LoginCandidate(
        account,
        membership,
        row["account_version"] if account is not None else None,
        row["member_version"] if membership is not None else None,
        failure_counts_of(row, login="login_failures"),
    )


async def membership(
    conn: Connection, account_id: uuid.UUID, subscriber: uuid.UUID | str, *, for_token: bool = False
) -> Membership | None:
    """The account's membership of a subscriber named by id or by code (`CL-…`), unless it was excluded.

    `for_token`: read under a share lock, held until the caller's transaction ends, for a token stamped after
    it (a change of the member stamps its time after its own lock: shared.revocations)."""
    column = "s.id" if isinstance(subscriber, uuid.UUID) else "s.code"  # each has a unique index
    row = await conn.fetchrow(
        f"SELECT {MEMBERSHIP_COLUMNS} FROM subscribers s JOIN members m ON m.subscriber_id = s.id "
        f"WHERE {column} = $2 AND m.account_id = $1 AND m.excluded_at IS NULL"
        + (" FOR SHARE OF m" if for_token else ""),
        account_id,
        subscriber,
    )
    return Membership(**dict(row)) if row else None


async def memberships(conn: Connection, account_id: uuid.UUID) -> list[Membership]:
    rows = await conn.fetch(
        f"SELECT {MEMBERSHIP_COLUMNS} FROM subscribers s JOIN members m ON m.subscriber_id = s.id "
        "WHERE m.account_id = $1 AND m.excluded_at IS NULL ORDER BY m.role = 'owner' DESC, s.name",
        account_id,
    )
    return [Membership(**dict(row)) for row in rows]


@dataclass(frozen=True)
class Subscriber:
    id: uuid.UUID
    code: str
    name: str
    owner_account_id: uuid.UUID
    owner_name: str
    owner_email: str


async def subscriber(conn: Connection, subscriber_id: uuid.UUID) -> Subscriber | None:
    row = await conn.fetchrow(
        "SELECT s.id, s.code, s.name, s.owner_account_id, coalesce(a.full_name, a.login) AS owner_name, "
        "a.email AS owner_email FROM subscribers s JOIN accounts a ON a.id = s.owner_account_id WHERE s.id = $1",
        subscriber_id,
    )
    return Subscriber(**dict(row)) if row else None


async def rename_subscriber(conn: Connection, subscriber_id: uuid.UUID, name: str) -> None:
    await conn.execute("UPDATE subscribers SET name = $2 WHERE id = $1", subscriber_id, name)


@dataclass(frozen=True)
class Member:
    account_id: uuid.UUID
    login: str
    full_name: str | None
    email: str
    role: str
    its_access: bool
    joined_at: datetime
    excluded_at: datetime | None = None


MEMBER_COLUMNS = "a.id AS account_id, a.login, a.full_name, a.email, m.role, m.its_access, m.joined_at, m.excluded_at"
MEMBER_SOURCE = "members m JOIN accounts a ON a.id = m.account_id"
MEMBER_ORDERS = {
    "name": Order("m.role <> 'owner', lower(coalesce(a.full_name, a.login))", "m.account_id"),  # the owner first
    "newest": Order("m.joined_at", "m.account_id", descending=True),
}


@dataclass(frozen=True)
class MemberFilter:
    """Which of the subscriber's users a list shows: `excluded` ones or the current ones; with `right` (a right's
    name, or "none": no right at all), those holding it (the owner holds every right: domain.member_rights)."""

    excluded: bool = False
    right: str | None = None


async def members_page(
    conn: Connection, subscriber_id: uuid.UUID, window: Window, only: MemberFilter = MemberFilter()
) -> Page[Member]:
    """One page of the subscriber's users. The search runs on this subscriber's rows only (the members' primary key
    starts with subscriber_id): a subscriber's users are its staff, tens or hundreds, which ILIKE reads at once."""
    query = PageQuery(MEMBER_COLUMNS, MEMBER_SOURCE, "m.subscriber_id = $1", [subscriber_id])
    query.where("m.excluded_at IS NOT NULL" if only.excluded else "m.excluded_at IS NULL")
    if only.right == "none":
        query.where("m.role <> 'owner' AND NOT m.its_access")
    elif only.right is not None:  # its_access, the one right a user can be given (SUB-5)
        query.where("(m.role = 'owner' OR m.its_access)")
    query.search(window, "a.login", "a.full_name", "a.email")
    rows = await query.fetch(conn, MEMBER_ORDERS[window.sort], window)
    return Page.of([Member(**dict(row)) for row in rows], window.limit)


async def member(conn: Connection, subscriber_id: uuid.UUID, account_id: uuid.UUID) -> Member | None:
    """One of the subscriber's current users."""
    row = await conn.fetchrow(
        f"SELECT {MEMBER_COLUMNS} FROM {MEMBER_SOURCE} "
        "WHERE m.subscriber_id = $1 AND m.account_id = $2 AND m.excluded_at IS NULL",
        subscriber_id,
        account_id,
    )
    return Member(**dict(row)) if row else None


async def join_subscriber(
    conn: Connection, subscriber_id: uuid.UUID, account_id: uuid.UUID, its_access: bool, now: datetime
) -> bool:
    """Add the account as a user (again, after an exclusion); False if it is a member already."""
    joined = await conn.fetchval(
        "INSERT INTO members (subscriber_id, account_id, role, its_access, joined_at) VALUES ($1, $2, 'user', $3, $4) "
        "ON CONFLICT (subscriber_id, account_id) DO UPDATE SET role = 'user', its_access = $3, joined_at = $4, "
        "excluded_at = NULL WHERE members.excluded_at IS NOT NULL RETURNING true",
        subscriber_id,
        account_id,
        its_access,
        now,
    )
    return bool(joined)


async def lock_member(conn: Connection, subscriber_id: uuid.UUID, account_id: uuid.UUID) -> str | None:
    """The member's role, its row locked until the transaction ends (a change is stamped after this: a token
    read before it has an earlier time, shared.revocations); None if it is not a member (any more)."""
    role: str | None = await conn.fetchval(
        "SELECT role FROM members WHERE subscriber_id = $1 AND account_id = $2 AND excluded_at IS NULL FOR UPDATE",
        subscriber_id,
        account_id,
    )
    return role


async def set_its_access(conn: Connection, subscriber_id: uuid.UUID, account_id: uuid.UUID, its_access: bool) -> None:
    """Rule SUB-5, for a member locked with lock_member (not the owner: the owner has every right)."""
    await conn.execute(
        "UPDATE members SET its_access = $3 WHERE subscriber_id = $1 AND account_id = $2 AND role <> 'owner'",
        subscriber_id,
        account_id,
        its_access,
    )


async def exclude_member(conn: Connection, subscriber_id: uuid.UUID, account_id: uuid.UUID, now: datetime) -> None:
    """Rule SUB-6, for a member locked with lock_member (not the owner: the owner cannot be excluded)."""
    await conn.execute(
        "UPDATE members SET excluded_at = $3 WHERE subscriber_id = $1 AND account_id = $2 AND role <> 'owner'",
        subscriber_id,
        account_id,
        now,
    )


# The directory, whole (re-announcing it: services.identity.republish).
async def all_subscribers(conn: Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT id, code, name, owner_account_id FROM subscribers ORDER BY created_at")
