"""updates' kit uploads: a draft's kit streamed to storage, checked against its declared size and sha256 (operators)."""

from __future__ import annotations

from aiohttp import web

from services.updates import kit_uploads
from services.updates.catalogue_models import OPERATOR, UPLOAD_CHUNK, KitContentPath, KitOut, kit_out
from services.updates.keys import SETTINGS, STORAGE
from services.updates.problems import refusals_answered
from shared.auth import Caller
from shared.http import Api, Upserted
from shared.keys import CLOCK, POOL
from shared.problems import PayloadTooLarge, UnsupportedMediaType
from shared.storage.check import ContentMismatch

routes = Api("ITS Portal updates: kits")


@routes.put(
    "/v1/releases/{release_id}/kits/{name}/content",
    summary="Upload a kit's bytes (streamed; checked against its size and sha256): 201 stored now, 200 stored "
    "already (the body is not read)",
    scope=OPERATOR,
    params=KitContentPath,
    raw_body="application/octet-stream",
    response=KitOut,
    upsert=True,
    errors=(404, 409, 413, 415, 422),
    tags=("catalogue",),
)
async def put_kit_content(request: web.Request, caller: Caller, params: KitContentPath) -> Upserted:
    """201 stored now; 200 stored already (the body is not read). A mismatch stores nothing (422)."""
    if request.content_type != "application/octet-stream":
        raise UnsupportedMediaType("send the kit as application/octet-stream", received=request.content_type)
    pool, storage = request.app[POOL], request.app[STORAGE]
    with refusals_answered():
        kit = await kit_uploads.kit_to_upload(pool, params.release_id, params.name)
        if await kit_uploads.already_stored(pool, storage, kit, request.app[CLOCK].now()):
            return Upserted(kit_out(kit, uploaded=True), created=False)

    check_upload_length(request, kit.name, kit.size, kit.sha256)
    # Streamed: the app's client_max_size does not apply, the storage stops as soon as the size is exceeded.
    with refusals_answered():
        chunks = request.content.iter_chunked(UPLOAD_CHUNK)
        await kit_uploads.upload_kit(pool, storage, kit, chunks, request.app[CLOCK].now())
    return Upserted(kit_out(kit, uploaded=True), created=True)


def check_upload_length(request: web.Request, name: str, size: int, sha256: str) -> None:
    """Refuse an upload before reading it when its declared size or its Content-Length is over the limit (413), or
    the Content-Length is not the declared size (422): kits' and reporting forms' files alike."""
    max_bytes = request.app[SETTINGS].max_kit_bytes
    length = request.content_length
    if size > max_bytes or (length is not None and length > max_bytes):
        raise PayloadTooLarge(f"a file is at most {max_bytes} bytes (ITS_MAX_KIT_BYTES)")
    if length is not None and length != size:
        raise ContentMismatch(
            f"the body has {length} bytes; {name} is declared with {size}",
            expected_size=size,
            received_size=length,
            expected_sha256=sha256,
            received_sha256=None,
        )
