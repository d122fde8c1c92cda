"""updates' kit uploads: a draft's kit streamed to storage, checked against its declared size and sha256 (operators)."""

from __future__ import annotations

from aiohttp import web

from services.updates import store
from services.updates.catalogue_api import _settings, _upload_path
from services.updates.catalogue_models import (
    OPERATOR,
    UPLOAD_CHUNK,
    KitChanged,
    KitContentPath,
    KitNotFound,
    KitOut,
    ReleaseNotDraft,
)
from services.updates.storage import STORAGE, KitMismatch
from shared.app import CLOCK, POOL
from shared.auth import Caller
from shared.http import Api, Upserted
from shared.problems import PayloadTooLarge, UnsupportedMediaType

routes = Api("ITS Portal updates: kits")

# ---- kits ------------------------------------------------------------------------------------


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
    release_id, name = params.release_id, params.name
    if request.content_type != "application/octet-stream":
        raise UnsupportedMediaType("send the kit as application/octet-stream", received=request.content_type)
    async with request.app[POOL].acquire() as conn:
        found = await store.kit_by_name(conn, release_id, name)
    if found is None:
        raise KitNotFound(f"the release declares no kit {name!r} (declare it with the release first)")
    kit = found.kit
    if found.release_state != "draft":
        raise ReleaseNotDraft(f"the release is {found.release_state}; its kits never change", state=found.release_state)

    storage = request.app[STORAGE]
    if await storage.has(kit.sha256):
        if kit.uploaded_at is None:  # the same file is in another release, or an earlier upload's answer was lost
            await _mark(request, kit)
        return Upserted(_kit_out(kit), created=False)

    settings = _settings(request)
    length = request.content_length
    if kit.size > settings.max_kit_bytes or (length is not None and length > settings.max_kit_bytes):
        raise PayloadTooLarge(f"a kit is at most {settings.max_kit_bytes} bytes (ITS_MAX_KIT_BYTES)")
    if length is not None and length != kit.size:
        raise KitMismatch(
            f"the body has {length} bytes; the kit {kit.name} is declared with {kit.size}",
            expected_size=kit.size,
            received_size=length,
            expected_sha256=kit.sha256,
            received_sha256=None,
        )
    # Streamed: the app's client_max_size does not apply, the storage stops as soon as the size is exceeded.
    await storage.put(request.content.iter_chunked(UPLOAD_CHUNK), sha256=kit.sha256, size=kit.size)
    await _mark(request, kit)
    return Upserted(_kit_out(kit), created=True)


async def _mark(request: web.Request, kit: store.Kit) -> None:
    async with request.app[POOL].acquire() as conn, conn.transaction():
        marked = await store.mark_uploaded(conn, kit.release_id, [(kit.name, kit.sha256)], request.app[CLOCK].now())
        if not marked:
            current = await store.kit_by_name(conn, kit.release_id, kit.name)
            if current is None or current.kit.sha256 != kit.sha256 or current.release_state != "draft":
                # The content stays stored (by sha256, harmless); the kit it was meant for is not this one now.
                raise KitChanged("the release was changed during the upload; look at it and upload again")


def _kit_out(kit: store.Kit) -> KitOut:
    return KitOut(
        id=kit.id,
        name=kit.name,
        kind=kit.kind,
        os=kit.os,
        arch=kit.arch,
        size=kit.size,
        sha256=kit.sha256,
        uploaded=True,
        upload=_upload_path(kit.release_id, kit.name),
    )
