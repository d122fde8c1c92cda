"""SUP-1, attachments: screenshots and logs on a question, at most 10 (ITS_MAX_ATTACHMENTS), each at most 20 MiB
(ITS_MAX_ATTACHMENT_BYTES), streamed into the shared content storage by their sha256 (never whole in memory), given
back only to the question's participants. The declared type must be what the first bytes are; nothing is stored
when any check fails (the rules are asked before the body is read, and again when it is recorded)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from rules.refusal import Refusal, Refused
from services.support import conversation, store
from services.support.callers import Who
from services.support.conversations import facts, open_question
from services.support.desk import Desk
from shared.storage import ContentStorage
from shared.storage.spool import Stored, TooLarge, store_stream

# The types an attachment may be, and the first bytes of those that have a signature.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
}
TEXT_TYPES = ("text/plain", "text/csv", "application/json", "application/xml")
TYPES = (*SIGNATURES, *TEXT_TYPES, "application/octet-stream")
SNIFF_BYTES = 512


@dataclass(frozen=True)
class Upload:
    name: str
    content_type: str
    declared_size: int | None  # Content-Length
    chunks: AsyncIterable[bytes]


def looks_like(content_type: str, head: bytes) -> bool:
    """Whether the first bytes are what the declared type says (text: no NUL byte)."""
    if content_type in SIGNATURES:
        return any(head.startswith(signature) for signature in SIGNATURES[content_type])
    if content_type in TEXT_TYPES:
        return b"\x00" not in head
    return True


async def _checked(chunks: AsyncIterable[bytes], content_type: str) -> AsyncIterator[bytes]:
    """The stream, refused before anything is stored if its first bytes are not of the declared type."""
    head, checked = b"", False
    async for chunk in chunks:
        if checked:
            yield chunk
            continue
        head += chunk
        if len(head) >= SNIFF_BYTES:
            _check_head(content_type, head)
            checked = True
            yield head
    if not checked:
        if not head:  # refused before the storage sees it
            raise Refused(Refusal("attachment-empty", "the file is empty", "invalid", "(body)"))
        _check_head(content_type, head)
        yield head


def _check_head(content_type: str, head: bytes) -> None:
    if not looks_like(content_type, head[:SNIFF_BYTES]):
        raise Refused(Refusal("attachment-type-mismatch", f"the file is not {content_type}", "invalid", "Content-Type"))


async def may_upload(desk: Desk, who: Who, question_id: uuid.UUID, upload: Upload, limit: int) -> None:
    """The rules before a byte is read: a participant, an open question, room for one more, a new name."""
    async with desk.pool.acquire() as conn:
        question, who_is = await open_question(conn, question_id, who)
        refusal = conversation.may_attach(who_is, await facts(conn, question), limit)
        if refusal is None and await store.attachment(conn, question.id, upload.name) is not None:
            refusal = _exists(upload.name)
    if refusal is not None:
        raise Refused(refusal)


def _exists(name: str) -> Refusal:
    return Refusal("attachment-exists", f"the question has an attachment {name} already", "conflict")


async def attach(
    desk: Desk,
    storage: ContentStorage,
    who: Who,
    question_id: uuid.UUID,
    upload: Upload,
    *,
    max_bytes: int,
    limit: int,
    tmp_dir: Path,
) -> store.Attachment:
    """Stream the upload into storage and record it on the question. TooLarge past `max_bytes`."""
    await may_upload(desk, who, question_id, upload, limit)
    stored: Stored = await store_stream(
        storage, _checked(upload.chunks, upload.content_type), max_bytes=max_bytes, tmp_dir=tmp_dir
    )
    if upload.declared_size is not None and stored.size != upload.declared_size:
        raise Refused(
            Refusal(
                "attachment-size-mismatch",
                f"{stored.size} bytes arrived; {upload.declared_size} were declared",
                "invalid",
                "Content-Length",
            )
        )
    now = desk.clock.now()
    async with desk.pool.acquire() as conn, conn.transaction():
        question, who_is = await open_question(conn, question_id, who, lock=True)
        _refuse(conversation.may_attach(who_is, await facts(conn, question), limit))
        attachment = store.Attachment(
            question_id=question.id,
            name=upload.name,
            content_type=upload.content_type,
            size=stored.size,
            sha256=stored.sha256,
            uploaded_by=who.account_id,
            side="staff" if who_is.staff else "customer",
            uploaded_at=now,
        )
        if not await store.insert_attachment(conn, attachment):
            raise Refused(_exists(upload.name))
    return attachment


def _refuse(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise Refused(refusal)


async def attachment_to_serve(desk: Desk, who: Who, question_id: uuid.UUID, name: str) -> store.Attachment:
    """An attachment for one of the question's participants; not found for anyone else."""
    async with desk.pool.acquire() as conn:
        question, _ = await open_question(conn, question_id, who)
        found = await store.attachment(conn, question.id, name)
    if found is None:
        raise Refused(Refusal("attachment-not-found", f"the question has no attachment {name}", "not-found"))
    return found


__all__ = ["TooLarge", "Upload", "attach", "attachment_to_serve", "may_upload"]
