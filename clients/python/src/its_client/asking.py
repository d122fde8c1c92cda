"""A question to the consulting line from inside the program (SUP-1): the program's context, and files attached to it
as the support service takes them — one raw body each, streamed from the file (never whole in memory), named with a
plain name, of a type the service accepts (it checks that the first bytes are what the type says)."""

from __future__ import annotations

import asyncio
import mimetypes
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

# The types support accepts (services/support/attachments.py TYPES); anything else goes as octet-stream.
ACCEPTED_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "application/pdf",
    "application/zip",
    "text/plain",
    "text/csv",
    "application/json",
    "application/xml",
)
TEXT_SUFFIXES = (".log", ".txt", ".ini", ".cfg", ".conf")  # not in every system's MIME table, yet plain text
CHUNK = 256 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


@dataclass(frozen=True)
class AttachmentFile:
    path: Path
    name: str  # as the question shows it: a plain name (letters, digits, . _ + -)
    content_type: str
    size: int

    @classmethod
    def of(cls, path: Path, taken: frozenset[str] = frozenset()) -> AttachmentFile:
        """The file as it will be sent, named apart from the `taken` names; OSError when it cannot be read (checked
        before the question is sent)."""
        size = path.stat().st_size
        with path.open("rb"):
            pass
        return cls(path, attachment_name(path.name, taken), content_type(path), size)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes, a chunk at a time (opened anew for each attempt)."""
        f = await asyncio.to_thread(self.path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(f.read, CHUNK):
                yield chunk
        finally:
            f.close()


def attachment_name(name: str, taken: frozenset[str] = frozenset()) -> str:
    """A plain name support accepts (`^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$`) and that is not `taken` by another file of
    the question: other characters become `_` ("my file (1).png" → "my_file_1.png"), a name of none of them
    "attachment", a second "error.png" "error-2.png"."""
    path = PurePath(name)
    stem = _plain(path.stem) or "attachment"
    suffix = "." + _plain(path.suffix) if _plain(path.suffix) else ""
    candidate, number = f"{stem[: 200 - len(suffix)]}{suffix}", 1
    while candidate in taken:
        number += 1
        ending = f"-{number}{suffix}"
        candidate = f"{stem[: 200 - len(ending)]}{ending}"
    return candidate


def _plain(text: str) -> str:
    return re.sub("_+", "_", _UNSAFE.sub("_", text)).strip("._+-")


def content_type(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed in ACCEPTED_TYPES:
        return guessed
    if path.suffix.lower() in TEXT_SUFFIXES:
        return "text/plain"
    return "application/octet-stream"


def question_body(
    *,
    kind: str,
    subject: str,
    body: str,
    registration_number: str | None,
    configuration: str | None,
    version: str | None,
    platform_version: str | None,
    partner_id: str | None,
) -> dict[str, Any]:
    """POST /v1/questions's body: the program's context where it has one."""
    fields: dict[str, Any] = {
        "kind": kind,
        "subject": subject,
        "body": body,
        "registration_number": registration_number,
        "configuration": configuration,
        "version": version,
        "platform_version": platform_version,
        "partner_id": partner_id,
    }
    return {name: value for name, value in fields.items() if value is not None}
