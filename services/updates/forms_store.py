"""Regulated reporting forms' SQL (DAT-2). Every function takes the connection (and so the transaction) of its
caller; versions are stored as text plus `version_key` (their numbers), as releases' are (store.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from services.updates.store import State
from shared.db import Connection


@dataclass(frozen=True)
class FormFields:
    """What an operator writes into a form version's draft."""

    code: str
    version: str
    version_key: tuple[int, ...]
    name: str
    applies_from: date
    configurations: tuple[str, ...]
    basis_number: str
    basis_date: date
    changes: str
    file_name: str
    file_size: int
    file_sha256: str


@dataclass(frozen=True)
class FormVersion(FormFields):
    id: uuid.UUID
    state: State
    uploaded_at: datetime | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    withdrawn_at: datetime | None
    withdrawn_reason: str | None


COLUMNS = (
    "id, code, version, version_key, name, applies_from, configurations, basis_number, basis_date, changes, "
    "file_name, file_size, file_sha256, uploaded_at, state, created_at, updated_at, published_at, withdrawn_at, "
    "withdrawn_reason"
)


def _form(row: asyncpg.Record) -> FormVersion:
    fields: dict[str, Any] = dict(row)
    return FormVersion(
        **{**fields, "version_key": tuple(fields["version_key"]), "configurations": tuple(fields["configurations"])}
    )


@dataclass(frozen=True)
class Saved:
    """What `save_draft` did: created or replaced the draft, or found the version no longer a draft, or written
    otherwise (`version`: "5.1" where "5.01" was asked)."""

    form_id: uuid.UUID
    created: bool
    state: State
    version: str


async def save_draft(conn: Connection, fields: FormFields, now: datetime) -> Saved:
    """Create the draft, or replace the draft of the same form and version; a published or withdrawn version is left
    as it is (`state` says so; the caller refuses). The upload is kept while the file's size and sha256 stay the
    same, so a re-run of `itsctl forms publish` uploads nothing again. Run it in a transaction."""
    values = (
        fields.code,
        fields.version,
        list(fields.version_key),
        fields.name,
        fields.applies_from,
        list(fields.configurations),
        fields.basis_number,
        fields.basis_date,
        fields.changes,
        fields.file_name,
        fields.file_size,
        fields.file_sha256,
        now,
    )
    form_id: uuid.UUID | None = await conn.fetchval(
        "INSERT INTO reporting_forms (id, code, version, version_key, name, applies_from, configurations, "
        "basis_number, basis_date, changes, file_name, file_size, file_sha256, created_at, updated_at) "
        "VALUES ($14, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) "
        "ON CONFLICT DO NOTHING RETURNING id",
        *values,
        uuid.uuid4(),
    )
    if form_id is not None:
        return Saved(form_id, True, "draft", fields.version)
    row = await conn.fetchrow(
        "SELECT id, state, version FROM reporting_forms WHERE code = $1 AND version_key = $2 FOR UPDATE",
        fields.code,
        list(fields.version_key),
    )
    assert row is not None  # the conflicting row exists; form versions are never deleted
    if row["state"] != "draft" or row["version"] != fields.version:
        return Saved(row["id"], False, row["state"], row["version"])
    await conn.execute(
        "UPDATE reporting_forms SET version_key = $3, name = $4, applies_from = $5, configurations = $6, "
        "basis_number = $7, basis_date = $8, changes = $9, file_name = $10, file_size = $11, file_sha256 = $12, "
        "updated_at = $13, uploaded_at = CASE WHEN file_size = $11 AND file_sha256 = $12 THEN uploaded_at END "
        "WHERE code = $1 AND version = $2",
        *values,
    )
    return Saved(row["id"], False, "draft", fields.version)


async def form(conn: Connection, form_id: uuid.UUID, *, lock: bool = False) -> FormVersion | None:
    """One form version; `lock`: FOR UPDATE until the transaction ends (upload, publish, withdraw)."""
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM reporting_forms WHERE id = $1" + (" FOR UPDATE" if lock else ""), form_id
    )
    return _form(row) if row is not None else None


async def mark_uploaded(conn: Connection, form_id: uuid.UUID, sha256: str, now: datetime) -> bool:
    """Mark the draft's file uploaded (its content is in storage), if it still declares this sha256; whether it is."""
    marked = await conn.fetchval(
        "UPDATE reporting_forms SET uploaded_at = coalesce(uploaded_at, $3) "
        "WHERE id = $1 AND file_sha256 = $2 AND state = 'draft' RETURNING true",
        form_id,
        sha256,
        now,
    )
    return bool(marked)


async def publish(conn: Connection, form_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE reporting_forms SET state = 'published', published_at = $2, updated_at = $2 WHERE id = $1", form_id, now
    )


async def withdraw(conn: Connection, form_id: uuid.UUID, now: datetime, reason: str) -> None:
    await conn.execute(
        "UPDATE reporting_forms SET state = 'withdrawn', withdrawn_at = $2, withdrawn_reason = $3, updated_at = $2 "
        "WHERE id = $1",
        form_id,
        now,
        reason,
    )


async def list_forms(
    conn: Connection,
    *,
    code: str | None = None,
    configuration: str | None = None,
    state: State | None = None,
    limit: int = 100,
    after: tuple[str, tuple[int, ...]] | None = None,
) -> list[FormVersion]:
    """Operators' list: by form code, newest version first, from the key `after` (the code and version key of the
    form version last seen)."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM reporting_forms "
        "WHERE ($1::text IS NULL OR code = $1) AND ($2::text IS NULL OR $2 = ANY(configurations)) "
        "AND ($3::text IS NULL OR state = $3) "
        "AND ($5::text IS NULL OR code > $5 OR (code = $5 AND version_key < $6::integer[])) "
        "ORDER BY code, version_key DESC LIMIT $4",
        code,
        configuration,
        state,
        limit,
        after[0] if after else None,
        list(after[1]) if after else None,
    )
    return [_form(row) for row in rows]


async def published_forms(conn: Connection, configuration: str) -> list[FormVersion]:
    """Every published version of every form for this configuration, by form code, newest version first."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM reporting_forms WHERE state = 'published' AND configurations @> ARRAY[$1::text] "
        "ORDER BY code, version_key DESC",
        configuration,
    )
    return [_form(row) for row in rows]


async def published_form(conn: Connection, form_id: uuid.UUID) -> FormVersion | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM reporting_forms WHERE id = $1 AND state = 'published'", form_id)
    return _form(row) if row is not None else None


async def known_configurations(conn: Connection, codes: list[str]) -> set[str]:
    """Which of these configurations registration's catalogue has (its events fill `configurations`)."""
    rows = await conn.fetch("SELECT code FROM configurations WHERE code = ANY($1::text[])", codes)
    return {row["code"] for row in rows}
