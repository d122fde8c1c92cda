"""The SQL of updates' TUF metadata (migration 0004): every version of every role, the newest of each, and the lock
of the one writer. Every function takes its caller's connection (and so its transaction)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.updates.tuf_repository import Written
from services.updates.tuf_roles import ROOT, TIMESTAMP
from shared.db import Connection


@dataclass(frozen=True)
class MetadataFile:
    body: bytes
    sha256: str
    expires: datetime


@dataclass(frozen=True)
class RoleState:
    role: str
    version: int
    expires: datetime


async def lock(conn: Connection) -> None:
    """Wait for, then hold until the transaction ends, the repository's one lock: one writer at a time, whichever
    replica it runs in. Writers that also lock a release lock it first (publishing, withdrawing)."""
    await conn.execute("SELECT 1 FROM tuf_repository WHERE id FOR UPDATE")


async def installed(conn: Connection) -> bool:
    """Whether a root is installed (the metadata is maintained)."""
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM tuf_roles WHERE role = $1)", ROOT) is True


async def newest(conn: Connection, roles: Sequence[str]) -> dict[str, bytes]:
    """The newest metadata of each of `roles` that exists."""
    rows = await conn.fetch(
        "SELECT r.role, m.body FROM tuf_roles r JOIN tuf_metadata m USING (role, version) WHERE r.role = ANY($1)",
        list(roles),
    )
    return {row["role"]: row["body"] for row in rows}


async def write(conn: Connection, written: Sequence[Written], now: datetime) -> None:
    """Store the new versions and make the last of each role its newest (one statement: a publish waits on it)."""
    if not written:
        return
    await conn.execute(
        "WITH w AS (INSERT INTO tuf_metadata (role, version, body, sha256, expires, created_at) "
        "SELECT role, version, body, sha256, expires, $6 "
        "FROM unnest($1::text[], $2::integer[], $3::bytea[], $4::text[], $5::timestamptz[]) "
        "AS t(role, version, body, sha256, expires) RETURNING role, version, expires) "
        "INSERT INTO tuf_roles (role, version, expires) "
        "SELECT DISTINCT ON (role) role, version, expires FROM w ORDER BY role, version DESC "
        "ON CONFLICT (role) DO UPDATE SET version = EXCLUDED.version, expires = EXCLUDED.expires",
        [w.role for w in written],
        [w.version for w in written],
        [w.body for w in written],
        [hashlib.sha256(w.body).hexdigest() for w in written],
        [w.expires for w in written],
        now,
    )


async def metadata_file(conn: Connection, role: str, version: int | None) -> MetadataFile | None:
    """A version of a role's metadata; version None: the newest (timestamp.json)."""
    if version is None:
        row = await conn.fetchrow(
            "SELECT m.body, m.sha256, m.expires FROM tuf_roles r JOIN tuf_metadata m USING (role, version) "
            "WHERE r.role = $1",
            role,
        )
    else:
        row = await conn.fetchrow(
            "SELECT body, sha256, expires FROM tuf_metadata WHERE role = $1 AND version = $2", role, version
        )
    return MetadataFile(**dict(row)) if row is not None else None


async def roles(conn: Connection) -> list[RoleState]:
    """The newest version of every role and when it expires, soonest first."""
    rows = await conn.fetch("SELECT role, version, expires FROM tuf_roles ORDER BY expires, role")
    return [RoleState(**dict(row)) for row in rows]


async def expiring(conn: Connection, before: dict[str, datetime], delegated_before: datetime) -> list[str]:
    """The roles whose newest metadata expires before its renewal moment: `before` by top-level role (root left out:
    it is renewed offline), `delegated_before` for the others."""
    rows = await conn.fetch(
        "SELECT role FROM tuf_roles WHERE role <> $4 AND expires < coalesce("
        "(SELECT b FROM unnest($1::text[], $2::timestamptz[]) AS t(r, b) WHERE r = role), $3) ORDER BY role",
        list(before),
        list(before.values()),
        delegated_before,
        ROOT,
    )
    return [row["role"] for row in rows]


async def timestamp_expires(conn: Connection) -> datetime | None:
    expires: datetime | None = await conn.fetchval("SELECT expires FROM tuf_roles WHERE role = $1", TIMESTAMP)
    return expires
