"""Regulated reporting forms (DAT-2), published like releases: an operator writes a form version as a draft (writing
it again replaces the draft, so `itsctl forms publish` can run again and again), uploads its one file (checked
against the declared size and sha256 in the same content-addressed storage as kits), publishes it and may withdraw
it. Publishing or withdrawing writes the state and the event (through the outbox) in one transaction; doing it again
changes nothing and emits nothing. A published or withdrawn version never changes: a fix is a new version."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import datetime

from rules.refusal import Refusal, Refused
from services.updates import events, forms_store
from services.updates.store import State
from shared.db import Pool
from shared.outbox import Outbox
from shared.storage import ContentStorage

NOT_FOUND = Refusal("form-not-found", "no reporting form version has this id", "not-found")


@dataclass(frozen=True)
class SavedForm:
    form: forms_store.FormVersion
    created: bool


async def save_form_draft(
    pool: Pool, storage: ContentStorage, fields: forms_store.FormFields, *, max_file_bytes: int, now: datetime
) -> SavedForm:
    """Create or replace the draft; a file whose content is stored already counts as uploaded.

    Refused (invalid) for configurations registration's catalogue does not have, a file too large or stored with
    another size; (conflict) when the version is no longer a draft."""
    refusals: list[Refusal] = []
    async with pool.acquire() as conn:
        known = await forms_store.known_configurations(conn, list(fields.configurations))
    for i, code in enumerate(fields.configurations):
        if code not in known:
            refusals.append(
                Refusal(
                    "configuration_unknown", f"the catalogue has no configuration {code!r}", field=f"configurations.{i}"
                )
            )
    if fields.file_size > max_file_bytes:
        refusals.append(
            Refusal("less_than_equal", f"at most {max_file_bytes} bytes (ITS_MAX_KIT_BYTES)", field="file.size")
        )
    stored_size = await storage.size(fields.file_sha256)
    if stored_size is not None and stored_size != fields.file_size:
        refusals.append(
            Refusal(
                "kit_mismatch",
                f"the file with this sha256 has {stored_size} bytes, not {fields.file_size}",
                field="file.size",
            )
        )
    if refusals:
        raise Refused(*refusals)
    async with pool.acquire() as conn, conn.transaction():
        saved = await forms_store.save_draft(conn, fields, now)
        if saved.version != fields.version:
            raise Refused(
                Refusal(
                    "form-version-spelled-otherwise",
                    f"form {fields.code} has this version as {saved.version}: versions are compared by their numbers",
                    "conflict",
                    details={"version": saved.version},
                )
            )
        if saved.state != "draft":
            raise Refused(_not_draft(saved.state, f"form {fields.code} {fields.version}"))
        if stored_size is not None:  # the same file in another version, or a re-run: nothing to upload
            await forms_store.mark_uploaded(conn, saved.form_id, fields.file_sha256, now)
        form = await forms_store.form(conn, saved.form_id)
    assert form is not None
    return SavedForm(form, saved.created)


async def form_to_upload(pool: Pool, form_id: uuid.UUID) -> forms_store.FormVersion:
    """The draft whose file is to be uploaded; refused when there is none or it is no longer a draft."""
    async with pool.acquire() as conn:
        form = await forms_store.form(conn, form_id)
    if form is None:
        raise Refused(NOT_FOUND)
    if form.state != "draft":
        raise Refused(_not_draft(form.state, "the form version"))
    return form


async def already_stored(pool: Pool, storage: ContentStorage, form: forms_store.FormVersion, now: datetime) -> bool:
    """Whether the file's content is stored already (the same file in another version, or an earlier upload whose
    answer was lost): then it is marked uploaded and the body need not be read (as kit_uploads.already_stored)."""
    if not await storage.has(form.file_sha256):
        return False
    await _mark_uploaded(pool, form, now)
    return True


async def upload_form_file(
    pool: Pool, storage: ContentStorage, form: forms_store.FormVersion, chunks: AsyncIterable[bytes], now: datetime
) -> None:
    """Stream the file into storage (which refuses it, keeping nothing, the moment it differs from the declared size
    and sha256) and mark it uploaded."""
    await storage.put(chunks, sha256=form.file_sha256, size=form.file_size)
    await _mark_uploaded(pool, form, now)


async def _mark_uploaded(pool: Pool, form: forms_store.FormVersion, now: datetime) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if not await forms_store.mark_uploaded(conn, form.id, form.file_sha256, now):
            # The content stays stored (by sha256, harmless); the draft declares another file now, or was published.
            raise Refused(
                Refusal(
                    "form-changed",
                    "the form version was changed during the upload; look at it and upload again",
                    "conflict",
                )
            )


async def publish_form(
    pool: Pool, outbox: Outbox, storage: ContentStorage, form_id: uuid.UUID, now: datetime
) -> forms_store.FormVersion:
    """Publish the draft; refused while its file is not uploaded (or was lost from storage), or when it was
    withdrawn. A published version is answered as it is."""
    async with pool.acquire() as conn:
        draft = await forms_store.form(conn, form_id)
    if draft is None:
        raise Refused(NOT_FOUND)
    # Storage is checked outside the transaction (it may be S3); uploaded_at is then re-checked under the lock.
    lost = draft.uploaded_at is not None and not await storage.has(draft.file_sha256)
    async with pool.acquire() as conn, conn.transaction():
        form = await forms_store.form(conn, form_id, lock=True)
        assert form is not None  # form versions are never deleted
        if form.state == "published":
            return form  # a repeated request (a lost answer, a re-run): same answer, no event
        if form.state == "withdrawn":
            raise Refused(
                Refusal(
                    "form-withdrawn",
                    "a withdrawn form version is not published again: publish a new version",
                    "conflict",
                )
            )
        if form.uploaded_at is None or lost:
            raise Refused(
                Refusal(
                    "form-file-missing",
                    f"upload the form's file {form.file_name} first",
                    "conflict",
                    details={"missing": [form.file_name]},
                )
            )
        await forms_store.publish(conn, form_id, now)
        published = await forms_store.form(conn, form_id)
        assert published is not None
        await outbox.add(conn, events.form_published(published))
    return published


async def withdraw_form(
    pool: Pool, outbox: Outbox, form_id: uuid.UUID, reason: str, now: datetime
) -> forms_store.FormVersion:
    """Withdraw a published version: client programs are no longer sent it. A draft is refused (it is simply not
    published); a withdrawn version is answered as it is."""
    async with pool.acquire() as conn, conn.transaction():
        form = await forms_store.form(conn, form_id, lock=True)
        if form is None:
            raise Refused(NOT_FOUND)
        if form.state == "withdrawn":
            return form  # repeated: no second event
        if form.state == "draft":
            raise Refused(
                Refusal(
                    "form-not-draft",
                    "only a published form version is withdrawn; a draft is simply not published",
                    "conflict",
                    details={"state": "draft"},
                )
            )
        await forms_store.withdraw(conn, form_id, now, reason)
        await outbox.add(conn, events.form_withdrawn(form, reason))
        withdrawn = await forms_store.form(conn, form_id)
    assert withdrawn is not None
    return withdrawn


def _not_draft(state: State, what: str) -> Refusal:
    return Refusal(
        "form-not-draft",
        f"{what} is {state}; a published or withdrawn form version never changes: publish a new version",
        "conflict",
        details={"state": state},
    )


@dataclass(frozen=True)
class FormListPage:
    forms: list[forms_store.FormVersion]
    last: forms_store.FormVersion | None  # the last of this page when another follows; None on the last page


async def form_list(
    pool: Pool,
    *,
    code: str | None,
    configuration: str | None,
    state: State | None,
    limit: int,
    after: tuple[str, tuple[int, ...]] | None,
) -> FormListPage:
    """Up to `limit` form versions matching every filter given, by code, newest version first, from the key `after`
    of the version last seen."""
    async with pool.acquire() as conn:
        found = await forms_store.list_forms(
            conn, code=code, configuration=configuration, state=state, limit=limit + 1, after=after
        )
    page = found[:limit]
    return FormListPage(page, page[-1] if len(found) > limit else None)
