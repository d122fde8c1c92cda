"""support's attachments (SUP-1): the raw body of a PUT streamed into the content storage; a GET streams it back
to the question's participants only, always as a download (`Content-Disposition: attachment`, `nosniff`, a sandbox
CSP), never rendered inline."""

from __future__ import annotations

from aiohttp import web

from services.support import attachments
from services.support.api_models import AttachmentOut, AttachmentPath, attachment_out
from services.support.attachments import TYPES, Upload
from services.support.edge import desk, who_of
from services.support.keys import SETTINGS, STORAGE
from services.support.problems import refusals_answered
from shared.auth import Caller
from shared.http import Api
from shared.problems import PayloadTooLarge, UnsupportedMediaType

routes = Api("ITS Portal support: attachments")

UPLOAD_CHUNK = 256 * 1024
CALLERS = ("customer", "partner", "operator")


@routes.put(
    "/v1/questions/{question_id}/attachments/{name}",
    summary="Attach a file to a question (raw body, streamed; at most 20 MiB and 10 per question; the type must be "
    "what the bytes are)",
    params=AttachmentPath,
    raw_body=TYPES,
    response=AttachmentOut,
    status=201,
    auth=True,
    callers=CALLERS,
    errors=(403, 404, 409, 413, 415, 422),
    tags=("attachments",),
)
async def put_attachment(request: web.Request, caller: Caller, params: AttachmentPath) -> AttachmentOut:
    settings = request.app[SETTINGS]
    if "Content-Type" not in request.headers or request.content_type not in TYPES:
        raise UnsupportedMediaType(f"attach {', '.join(TYPES)}", received=request.content_type)
    length = request.content_length
    if length is not None and length > settings.max_attachment_bytes:
        raise PayloadTooLarge(f"an attachment is at most {settings.max_attachment_bytes} bytes; nothing was stored")
    upload = Upload(params.name, request.content_type, length, request.content.iter_chunked(UPLOAD_CHUNK))
    with refusals_answered():
        stored = await attachments.attach(
            desk(request),
            request.app[STORAGE],
            who_of(caller),
            params.question_id,
            upload,
            max_bytes=settings.max_attachment_bytes,
            limit=settings.max_attachments,
            tmp_dir=settings.var_dir / "tmp" / "support",
        )
    return attachment_out(stored)


@routes.get(
    "/v1/questions/{question_id}/attachments/{name}",
    summary="Download an attachment (the question's participants only; always as a download)",
    params=AttachmentPath,
    auth=True,
    callers=CALLERS,
    errors=(404,),
    responses={
        200: {
            "description": "The file, as a download",
            "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in TYPES},
        }
    },
    tags=("attachments",),
)
async def get_attachment(request: web.Request, caller: Caller, params: AttachmentPath) -> web.StreamResponse:
    with refusals_answered():
        found = await attachments.attachment_to_serve(desk(request), who_of(caller), params.question_id, params.name)
    response = web.StreamResponse(
        headers={
            "Content-Type": found.content_type,
            "Content-Disposition": f'attachment; filename="{found.name}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, no-store",
            "ETag": f'"{found.sha256}"',
        }
    )
    response.content_length = found.size
    await response.prepare(request)
    async for chunk in request.app[STORAGE].open_range(found.sha256, 0, found.size):
        await response.write(chunk)
    await response.write_eof()
    return response
