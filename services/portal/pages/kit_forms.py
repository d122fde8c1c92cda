"""Kit forms read as a stream: the CSRF token from the first part, the file spooled to a temporary file (size and
sha256 computed on the way), never whole in memory; the kit is then declared with its draft, streamed on to updates
and the temporary file deleted."""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import IO, Any

import aiohttp
from aiohttp import BodyPartReader, web

from services.portal import csrf
from services.portal.csrf import FIELD as CSRF_FIELD
from services.portal.csrf import CsrfRejected
from services.portal.pages.base import logged_in
from shared.parsing import read_form_fields, reading_form

# A kit is spooled to disk here before it is sent on; updates has its own, usually smaller, limit.
MAX_KIT_BYTES = 8 * 1024**3
CHUNK = 256 * 1024
MAX_TEXT_FIELD = 1024 * 1024  # bytes of one text field of a streamed form (a full change list is 200,000 chars)
MAX_TEXT_TOTAL = 4 * 1024 * 1024


@dataclass
class Spooled:
    """An uploaded file in a temporary file (deleted on close), with what was computed on the way."""

    file: IO[bytes]
    filename: str
    size: int
    sha256: str
    content_type: str = "application/octet-stream"  # as the browser declared it

    def close(self) -> None:
        self.file.close()


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)  # each field's first value
    uploads: list[Spooled] = field(default_factory=list)  # in the form's order; one for a kit form
    repeated: dict[str, list[str]] = field(default_factory=dict)  # every value of each field (checkboxes)

    def all(self, name: str) -> list[str]:
        return self.repeated.get(name, [])

    @property
    def upload(self) -> Spooled | None:
        return self.uploads[0] if self.uploads else None

    def close(self) -> None:
        for upload in self.uploads:
            upload.close()


class KitTooLarge(Exception):
    """A file of the form is over the form's limit (`max_bytes` of `received_form`)."""


async def _spool(
    chunks: AsyncIterator[bytes], filename: str, max_bytes: int, content_type: str = "application/octet-stream"
) -> Spooled:
    """The chunks into a temporary file (unlinked at once: deleted on close, or when the process ends),
    counting and hashing them on the way; never the whole file in memory."""
    tmp = await asyncio.to_thread(tempfile.TemporaryFile)
    digest, size = hashlib.sha256(), 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise KitTooLarge()
            digest.update(chunk)
            await asyncio.to_thread(tmp.write, chunk)
        await asyncio.to_thread(tmp.flush)
    except BaseException:
        tmp.close()
        raise
    return Spooled(tmp, filename, size, digest.hexdigest(), content_type)


async def file_chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    await asyncio.to_thread(file.seek, 0)
    while chunk := await asyncio.to_thread(file.read, CHUNK):
        yield chunk


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        async for decoded in part.decode_iter(chunk):
            yield bytes(decoded)


async def _part_text(part: BodyPartReader, budget: list[int]) -> str:
    data = bytearray()
    async for chunk in _part_chunks(part):
        data.extend(chunk)
        budget[0] -= len(chunk)
        if len(data) > MAX_TEXT_FIELD or budget[0] < 0:
            raise web.HTTPRequestEntityTooLarge(MAX_TEXT_FIELD, len(data))
    return data.decode(part.get_charset(default="utf-8"), errors="replace")


def streams_form(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
    """Marks a handler that reads its multipart form as a stream and checks the CSRF token in the form's
    first part itself (see `received_form`): the CSRF middleware leaves the body unread for it."""
    setattr(handler, csrf.IN_FIRST_PART, True)
    return handler


async def received_form(request: web.Request, *, files: int = 1, max_bytes: int = MAX_KIT_BYTES) -> ReceivedForm:
    """A multipart form's text fields and its `file` inputs (up to `files` of them, each at most `max_bytes`),
    streamed part by part (the first part must be the CSRF token); each file is spooled to a temporary file with its
    size and sha256."""
    received = ReceivedForm()
    if request.content_type != "multipart/form-data":  # no file at all: the CSRF check has read the form
        form = await read_form_fields(request)
        received.fields = {k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}
        for k, v in form.items():
            if isinstance(v, str) and k != CSRF_FIELD:
                received.repeated.setdefault(k, []).append(v)
        return received
    try:
        with reading_form():  # a multipart without its boundary, or broken: a 400 page, not a 500
            await _stream_form(request, await request.multipart(), received, files, max_bytes)
    except BaseException:
        received.close()
        raise
    return received


async def _stream_form(
    request: web.Request, reader: aiohttp.MultipartReader, received: ReceivedForm, files: int, max_bytes: int
) -> None:
    first = await reader.next()
    token = await _part_text(first, [MAX_TEXT_FIELD]) if isinstance(first, BodyPartReader) else None
    session = logged_in(request)
    if not isinstance(first, BodyPartReader) or first.name != CSRF_FIELD or token is None:
        raise CsrfRejected("the form's first part is not its token")
    if not csrf.matches(token, session):
        raise CsrfRejected("missing or wrong token")
    budget = [MAX_TEXT_TOTAL]
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise web.HTTPBadRequest()
        if part.filename is not None:
            if part.name == "file" and part.filename and len(received.uploads) < files:
                declared = part.headers.get("Content-Type", "application/octet-stream")
                received.uploads.append(await _spool(_part_chunks(part), part.filename, max_bytes, declared))
            else:
                async for _ in _part_chunks(part):  # an empty file input, or a file this form does not take
                    pass
        elif part.name:
            text = await _part_text(part, budget)
            received.fields.setdefault(part.name, text)
            received.repeated.setdefault(part.name, []).append(text)
