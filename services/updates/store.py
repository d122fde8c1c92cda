"""The release catalogue's SQL (UPD-1, UPD-2, UPD-6). Every function takes the connection (and so the
transaction) of its caller; versions are stored as text plus `version_key` (their numeric parts), so that
SQL orders 3.0.9 before 3.0.10. The entitlement read model's SQL is in entitlement_store.py,
the articles' in articles_store.py, the update graphs' in graph_store.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import asyncpg

from shared.db import Connection

ReleaseKind = Literal["configuration", "platform"]
# Every replica drops its cached update graph of a configuration ('': the platform) when this is notified.
CATALOGUE_CHANNEL = "updates_catalogue"
State = Literal["draft", "published", "withdrawn"]

# ---- rows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KitDeclared:
    """A kit as the operator declares it with the release: uploaded afterwards, checked against this."""

    name: str
    kind: str  # full | update | other (configuration); platform | readme | other (platform)
    size: int
    sha256: str
    os: str | None = None
    arch: str | None = None


@dataclass(frozen=True)
class Kit:
    id: uuid.UUID
    release_id: uuid.UUID
    name: str
    kind: str
    size: int
    sha256: str
    os: str | None
    arch: str | None
    uploaded_at: datetime | None


@dataclass(frozen=True)
class ReleaseFields:
    """What an operator writes into a draft: every UPD-1 section (configuration releases) or UPD-2 section
    (platform releases); the other kind's fields keep their defaults."""

    kind: ReleaseKind
    configuration: str | None
    version: str
    version_key: tuple[int, ...]
    release_date: date
    its_issue: str
    prerelease: bool = False
    whats_new: str = ""
    changes: str = ""
    major_changes: tuple[str, ...] = ()
    update_procedure: str = ""
    min_platform: str | None = None
    updates_from: tuple[str, ...] = ()
    grade: str | None = None
    differences: str = ""
    migration_notes: str = ""
    fixed_bugs: tuple[dict[str, str], ...] = ()
    readme: str = ""


@dataclass(frozen=True)
class Release(ReleaseFields):
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    state: State = "draft"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    published_at: datetime | None = None
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = None
    kits: tuple[Kit, ...] = ()


RELEASE_COLUMNS = (
    "r.id, r.kind, r.configuration, r.version, r.version_key, r.release_date, r.its_issue, r.prerelease, "
    "r.whats_new, r.changes, r.major_changes, r.update_procedure, r.min_platform, r.updates_from, r.grade, "
    "r.differences, r.migration_notes, r.fixed_bugs, r.readme, r.state, r.created_at, r.updated_at, "
    "r.published_at, r.withdrawn_at, r.withdrawn_reason"
)
KIT_COLUMNS = "k.id, k.release_id, k.name, k.kind, k.size, k.sha256, k.os, k.arch, k.uploaded_at"
# The kits of `r`, as a JSON array ordered by name (one round trip for releases and their kits).
KITS_JSON = (
    "(SELECT coalesce(json_agg(json_build_object('id', k.id, 'release_id', k.release_id, 'name', k.name, "
    "'kind', k.kind, 'size', k.size, 'sha256', k.sha256, 'os', k.os, 'arch', k.arch, "
    "'uploaded_at', k.uploaded_at) ORDER BY k.name), '[]') FROM kits k WHERE k.release_id = r.id) AS kits"
)


def _kit(fields: dict[str, Any]) -> Kit:
    uploaded = fields["uploaded_at"]
    return Kit(
        id=uuid.UUID(str(fields["id"])),
        release_id=uuid.UUID(str(fields["release_id"])),
        name=fields["name"],
        kind=fields["kind"],
        size=int(fields["size"]),
        sha256=fields["sha256"],
        os=fields["os"],
        arch=fields["arch"],
        uploaded_at=datetime.fromisoformat(uploaded) if isinstance(uploaded, str) else uploaded,
    )


def _release(row: asyncpg.Record) -> Release:
    fields = dict(row)
    kits = tuple(_kit(k) for k in fields.pop("kits", None) or [])
    return Release(
        **{
            **fields,
            "version_key": tuple(fields["version_key"]),
            "major_changes": tuple(fields["major_changes"]),
            "updates_from": tuple(fields["updates_from"]),
            "fixed_bugs": tuple(fields["fixed_bugs"]),
        },
        kits=kits,
    )


# ---- drafts (operators) ----------------------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    """What `save_draft` did: created or replaced the draft, or found the release no longer a draft."""

    release_id: uuid.UUID
    created: bool
    state: State


async def save_draft(conn: Connection, fields: ReleaseFields, kits: Sequence[KitDeclared], now: datetime) -> Saved:
    """Create the draft, or replace a draft of the same release (kind, configuration, version).

    A published or withdrawn release is left as it is (`state` says so; the caller refuses). A kit that
    keeps its name, size and sha256 keeps its id and its upload, so declaring a release again (a re-run
    of `itsctl releases publish`) uploads only what changed. Run it in a transaction.
    """
    values = (
        fields.kind,
        fields.configuration,
        fields.version,
        list(fields.version_key),
        fields.release_date,
        fields.its_issue,
        fields.prerelease,
        fields.whats_new,
        fields.changes,
        list(fields.major_changes),
        fields.update_procedure,
        fields.min_platform,
        list(fields.updates_from),
        fields.grade,
        fields.differences,
        fields.migration_notes,
        list(fields.fixed_bugs),
        fields.readme,
        now,
    )
    release_id: uuid.UUID | None = await conn.fetchval(
        "INSERT INTO releases (id, kind, configuration, version, version_key, release_date, its_issue, prerelease, "
        "whats_new, changes, major_changes, update_procedure, min_platform, updates_from, grade, differences, "
        "migration_notes, fixed_bugs, readme, created_at, updated_at) "
        "VALUES ($20, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19) "
        "ON CONFLICT (kind, coalesce(configuration, ''), version) DO NOTHING RETURNING id",
        *values,
        uuid.uuid4(),
    )
    created = release_id is not None
    if release_id is None:
        row = await conn.fetchrow(
            "SELECT id, state FROM releases WHERE kind = $1 AND coalesce(configuration, '') = coalesce($2, '') "
            "AND version = $3 FOR UPDATE",
            fields.kind,
            fields.configuration,
            fields.version,
        )
        assert row is not None  # the conflicting row exists; releases are never deleted
        release_id = row["id"]
        if row["state"] != "draft":
            return Saved(row["id"], False, row["state"])
        await conn.execute(
            "UPDATE releases SET version_key = $4, release_date = $5, its_issue = $6, prerelease = $7, "
            "whats_new = $8, changes = $9, major_changes = $10, update_procedure = $11, min_platform = $12, "
            "updates_from = $13, grade = $14, differences = $15, migration_notes = $16, fixed_bugs = $17, "
            "readme = $18, updated_at = $19 "
            "WHERE id = $20 AND kind = $1 AND configuration IS NOT DISTINCT FROM $2 AND version = $3",
            *values,
            release_id,
        )
    await _replace_kits(conn, release_id, kits)
    return Saved(release_id, created, "draft")


async def _replace_kits(conn: Connection, release_id: uuid.UUID, kits: Sequence[KitDeclared]) -> None:
    await conn.execute(
        "DELETE FROM kits WHERE release_id = $1 AND NOT (name = ANY($2::text[]))",
        release_id,
        [k.name for k in kits],
    )
    # An unchanged kit keeps its upload; a kit whose size or sha256 changed must be uploaded again.
    await conn.execute(
        "INSERT INTO kits (id, release_id, name, kind, os, arch, size, sha256) "
        "SELECT gen_random_uuid(), $1, name, kind, os, arch, size, sha256 "
        "FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[]) "
        "AS t(name, kind, os, arch, size, sha256) "
        "ON CONFLICT (release_id, name) DO UPDATE SET kind = EXCLUDED.kind, os = EXCLUDED.os, "
        "arch = EXCLUDED.arch, size = EXCLUDED.size, sha256 = EXCLUDED.sha256, "
        "uploaded_at = CASE WHEN kits.size = EXCLUDED.size AND kits.sha256 = EXCLUDED.sha256 "
        "THEN kits.uploaded_at END",
        release_id,
        [k.name for k in kits],
        [k.kind for k in kits],
        [k.os for k in kits],
        [k.arch for k in kits],
        [k.size for k in kits],
        [k.sha256 for k in kits],
    )


async def mark_uploaded(
    conn: Connection, release_id: uuid.UUID, names_and_sha256: Sequence[tuple[str, str]], now: datetime
) -> list[str]:
    """Mark these kits of a draft uploaded (their content is in storage) unless they are already; returns the
    names marked. The sha256 is matched too: a kit re-declared with other content meanwhile stays missing."""
    rows = await conn.fetch(
        "UPDATE kits k SET uploaded_at = $4 FROM unnest($2::text[], $3::text[]) AS t(name, sha256), releases r "
        "WHERE k.release_id = $1 AND k.name = t.name AND k.sha256 = t.sha256 AND k.uploaded_at IS NULL "
        "AND r.id = k.release_id AND r.state = 'draft' RETURNING k.name",
        release_id,
        [n for n, _ in names_and_sha256],
        [s for _, s in names_and_sha256],
        now,
    )
    return [row["name"] for row in rows]


@dataclass(frozen=True)
class KitOfRelease:
    kit: Kit
    release_state: State


async def kit_by_name(conn: Connection, release_id: uuid.UUID, name: str) -> KitOfRelease | None:
    row = await conn.fetchrow(
        f"SELECT {KIT_COLUMNS}, r.state AS release_state FROM kits k JOIN releases r ON r.id = k.release_id "
        "WHERE k.release_id = $1 AND k.name = $2",
        release_id,
        name,
    )
    if row is None:
        return None
    fields = dict(row)
    state = fields.pop("release_state")
    return KitOfRelease(_kit(fields), state)


# ---- publishing ----------------------------------------------------------------------------


async def release(conn: Connection, release_id: uuid.UUID, *, lock: bool = False) -> Release | None:
    """One release with its kits; `lock`: FOR UPDATE until the transaction ends (publish, withdraw)."""
    row = await conn.fetchrow(
        f"SELECT {RELEASE_COLUMNS}, {KITS_JSON} FROM releases r WHERE r.id = $1" + (" FOR UPDATE" if lock else ""),
        release_id,
    )
    return _release(row) if row is not None else None


async def publish(conn: Connection, release_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE releases SET state = 'published', published_at = $2, updated_at = $2 WHERE id = $1", release_id, now
    )


async def withdraw(conn: Connection, release_id: uuid.UUID, now: datetime, reason: str) -> None:
    await conn.execute(
        "UPDATE releases SET state = 'withdrawn', withdrawn_at = $2, withdrawn_reason = $3, updated_at = $2 "
        "WHERE id = $1",
        release_id,
        now,
        reason,
    )


async def announce_catalogue(conn: Connection, configuration: str | None) -> None:
    """Tell every replica (on commit) that the published releases of `configuration` (None: the platform) changed."""
    await conn.execute("SELECT pg_notify($1, $2)", CATALOGUE_CHANNEL, configuration or "")


async def configuration_name(conn: Connection, code: str) -> str | None:
    """The configuration's name as registration announced it; None if not heard of yet."""
    name: str | None = await conn.fetchval("SELECT name FROM configurations WHERE code = $1", code)
    return name


ReleaseSort = Literal["configuration", "newest"]
# The operators' list: platform releases first (configuration ''), then by configuration, newest version first;
# or newest first by release date (then id). Each order has its own keyset condition ($7, $8: the key last seen).
_LIST_ORDERS: dict[ReleaseSort, tuple[str, str]] = {
    "configuration": (
        "($7::text IS NULL OR coalesce(r.configuration, '') > $7 "
        "OR (coalesce(r.configuration, '') = $7 AND r.version_key < $8::integer[]))",
        "coalesce(r.configuration, ''), r.version_key DESC",
    ),
    "newest": ("($7::date IS NULL OR (r.release_date, r.id) < ($7, $8::uuid))", "r.release_date DESC, r.id DESC"),
}


async def list_releases(
    conn: Connection,
    *,
    kind: ReleaseKind | None = None,
    configuration: str | None = None,
    state: State | None = None,
    version: str | None = None,
    version_prefix: str | None = None,
    sort: ReleaseSort = "configuration",
    limit: int = 100,
    after: tuple[Any, Any] | None = None,
) -> list[Release]:
    """Operators' list in the order `sort` names, from the key `after` (keyset pagination: for "configuration" the
    configuration ('' for the platform) and version key of the release last seen, for "newest" its release date
    and id). `version_prefix` matches a version and every version under it ("3.0" finds 3.0.41.20, not 3.01)."""
    keyset, order = _LIST_ORDERS[sort]
    rows = await conn.fetch(
        f"SELECT {RELEASE_COLUMNS}, {KITS_JSON} FROM releases r "
        "WHERE ($1::text IS NULL OR r.kind = $1) AND ($2::text IS NULL OR r.configuration = $2) "
        "AND ($3::text IS NULL OR r.state = $3) AND ($4::text IS NULL OR r.version = $4) "
        "AND ($5::text IS NULL OR r.version = $5 OR starts_with(r.version, $5 || '.')) "
        f"AND {keyset} ORDER BY {order} LIMIT $6",
        kind,
        configuration,
        state,
        version,
        version_prefix,
        limit,
        after[0] if after else None,
        (list(after[1]) if sort == "configuration" else after[1]) if after else None,
    )
    return [_release(row) for row in rows]


# ---- what subscribers see (published only) ----------------------------------------------------


async def published_releases(conn: Connection, configuration: str | None) -> list[Release]:
    """The published releases of a configuration (None: the platform's), newest first; with kits."""
    # Two spellings rather than IS NOT DISTINCT FROM, which no index serves (releases_published does these).
    where = (
        "r.kind = 'platform' AND r.configuration IS NULL"
        if configuration is None
        else ("r.kind = 'configuration' AND r.configuration = $1")
    )
    rows = await conn.fetch(
        f"SELECT {RELEASE_COLUMNS}, {KITS_JSON} FROM releases r "
        f"WHERE r.state = 'published' AND {where} ORDER BY r.version_key DESC",
        *(() if configuration is None else (configuration,)),
    )
    return [_release(row) for row in rows]


async def every_published_release(conn: Connection) -> list[Release]:
    """Every published release with its kits, of every configuration and the platform (the first TUF root signs them
    all: tuf_metadata.install_root)."""
    rows = await conn.fetch(
        f"SELECT {RELEASE_COLUMNS}, {KITS_JSON} FROM releases r WHERE r.state = 'published' "
        "ORDER BY r.configuration NULLS FIRST, r.version_key"
    )
    return [_release(row) for row in rows]


async def release_by_version(conn: Connection, configuration: str | None, version: str) -> Release | None:
    """The release of this configuration (None: the platform) and version, in whatever state."""
    row = await conn.fetchrow(
        f"SELECT {RELEASE_COLUMNS}, {KITS_JSON} FROM releases r "
        "WHERE r.kind = $1 AND coalesce(r.configuration, '') = coalesce($2, '') AND r.version = $3",
        "platform" if configuration is None else "configuration",
        configuration,
        version,
    )
    return _release(row) if row is not None else None


@dataclass(frozen=True)
class PublishedKit:
    """A kit of a published release, with what UPD-4 decides on: the release's configuration and date."""

    id: uuid.UUID
    name: str
    size: int
    sha256: str
    configuration: str | None  # None: a platform kit
    published_at: datetime


async def published_kit(conn: Connection, kit_id: uuid.UUID) -> PublishedKit | None:
    row = await conn.fetchrow(
        "SELECT k.id, k.name, k.size, k.sha256, r.configuration, r.published_at "
        "FROM kits k JOIN releases r ON r.id = k.release_id WHERE k.id = $1 AND r.state = 'published'",
        kit_id,
    )
    return PublishedKit(**dict(row)) if row is not None else None
