"""Release drafts (UPD-1, UPD-2): an operator writes a release, every section and the kits it will have, as a
draft; writing it again replaces the draft (so `itsctl releases publish` can run again and again). A published
or withdrawn release never changes: a fix is a new version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from rules.refusal import Refusal, Refused
from services.updates import store
from services.updates.versions import Version
from shared.db import Connection, Pool
from shared.storage import ContentStorage


@dataclass(frozen=True)
class SavedDraft:
    release: store.Release
    created: bool


async def unknown_configuration(conn: Connection, code: str, field: str) -> Refusal | None:
    """A release or an article is about a configuration of registration's catalogue (its events fill
    `configurations`); another is refused, naming the field."""
    if await store.configuration_name(conn, code) is None:
        return Refusal("configuration_unknown", f"the catalogue has no configuration {code!r}", field=field)
    return None


async def save_draft(
    pool: Pool,
    storage: ContentStorage,
    fields: store.ReleaseFields,
    kits: Sequence[store.KitDeclared],
    *,
    max_kit_bytes: int,
    now: datetime,
) -> SavedDraft:
    """Create or replace the draft; kits whose content is stored already count as uploaded.

    Refused (invalid) for an unknown configuration (field `code`), versions it cannot update from, bugs or kits
    listed twice, kits too large or stored with another size; (conflict) when the release is no longer a draft.
    """
    if fields.configuration is not None:
        async with pool.acquire() as conn:
            if unknown := await unknown_configuration(conn, fields.configuration, "code"):
                raise Refused(unknown)
    fields = _checked(fields)
    _check_kits(kits, max_kit_bytes)
    stored = await _stored_kits(storage, kits)
    async with pool.acquire() as conn, conn.transaction():
        saved = await store.save_draft(conn, fields, kits, now)
        if saved.state != "draft":
            raise Refused(
                Refusal(
                    "release-not-draft",
                    f"{label(fields.configuration, fields.version)} is {saved.state}; a published or withdrawn "
                    "release never changes: publish a new version",
                    "conflict",
                    details={"release_id": str(saved.release_id), "state": saved.state},
                )
            )
        await store.mark_uploaded(conn, saved.release_id, [(k.name, k.sha256) for k in kits if k.name in stored], now)
        release = await store.release(conn, saved.release_id)
    assert release is not None
    return SavedDraft(release, saved.created)


def label(configuration: str | None, version: str) -> str:
    return f"{configuration} {version}" if configuration else f"platform {version}"


def _checked(fields: store.ReleaseFields) -> store.ReleaseFields:
    """The fields with `updates_from` distinct and ordered; refused when it lists a version twice or one not
    older than the release (a release cannot update from itself or a newer one), or a bug is listed twice."""
    refusals: list[Refusal] = []
    seen: set[str] = set()
    version = Version.parse(fields.version)
    for i, text in enumerate(fields.updates_from):
        if text in seen:
            refusals.append(Refusal("unique", "listed twice", field=f"updates_from.{i}"))
        seen.add(text)
        if not Version.parse(text) < version:
            refusals.append(Refusal("value_error", f"not older than the release {version}", field=f"updates_from.{i}"))
    ids = [bug["id"] for bug in fields.fixed_bugs]
    if len(set(ids)) != len(ids):
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        refusals.append(Refusal("unique", f"listed twice: {', '.join(duplicated)}", field="fixed_bugs"))
    if refusals:
        raise Refused(*refusals)
    return replace(fields, updates_from=tuple(sorted(seen, key=lambda v: Version.parse(v).key)))


def _check_kits(kits: Sequence[store.KitDeclared], max_kit_bytes: int) -> None:
    refusals: list[Refusal] = []
    seen: dict[str, int] = {}
    for i, kit in enumerate(kits):
        if kit.name in seen:
            refusals.append(Refusal("unique", f"also the name of kits.{seen[kit.name]}", field=f"kits.{i}.name"))
        seen.setdefault(kit.name, i)
        if kit.size > max_kit_bytes:
            refusals.append(
                Refusal("less_than_equal", f"at most {max_kit_bytes} bytes (ITS_MAX_KIT_BYTES)", field=f"kits.{i}.size")
            )
        if kit.kind == "platform" and (kit.os is None or kit.arch is None):
            refusals.append(Refusal("missing", "a platform kit names its os and arch", field=f"kits.{i}"))
    if refusals:
        raise Refused(*refusals)


async def _stored_kits(storage: ContentStorage, kits: Sequence[store.KitDeclared]) -> list[str]:
    """The declared kits whose content is in storage already (the same file in another release: kept once).
    A stored file of another size under the declared sha256 means the declared size is wrong."""
    stored: list[str] = []
    refusals: list[Refusal] = []
    for i, kit in enumerate(kits):
        size = await storage.size(kit.sha256)
        if size is None:
            continue
        if size != kit.size:
            refusals.append(
                Refusal(
                    "kit_mismatch", f"the kit with this sha256 has {size} bytes, not {kit.size}", field=f"kits.{i}.size"
                )
            )
        stored.append(kit.name)
    if refusals:
        raise Refused(*refusals)
    return stored
