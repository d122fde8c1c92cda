"""Regulated reporting forms for operators (DAT-2, scope "operator"), published like releases: a version is written
as a draft (PUT: create or replace, so `itsctl forms publish` can run again and again), its file is streamed in
(checked against the declared size and sha256: a mismatch stores nothing), publishing sends it to client programs,
and a published version may be withdrawn. A published or withdrawn version never changes (409)."""

from __future__ import annotations

from aiohttp import web

from services.updates import forms
from services.updates.catalogue_models import OPERATOR, UPLOAD_CHUNK, WithdrawIn
from services.updates.form_rules import form_version_key
from services.updates.forms_models import (
    FormDraftIn,
    FormIdPath,
    FormList,
    FormListQuery,
    FormOut,
    FormVersionPath,
    form_out,
    forms_after,
    forms_cursor,
)
from services.updates.forms_store import FormFields
from services.updates.keys import SETTINGS, STORAGE
from services.updates.kits_api import check_upload_length
from services.updates.problems import refusals_answered
from shared.auth import Caller
from shared.http import Api, Link, Upserted
from shared.keys import CLOCK, OUTBOX, POOL
from shared.problems import UnsupportedMediaType

routes = Api("ITS Portal updates: reporting forms")
TAGS = ("reporting forms",)
FORM_LINKS = {
    "UploadFormFile": Link("put_form_file", {"form_id": "$response.body#/id"}),
    "PublishForm": Link("publish_form", {"form_id": "$response.body#/id"}),
    "WithdrawForm": Link("withdraw_form", {"form_id": "$response.body#/id"}),
}


@routes.put(
    "/v1/forms/{code}/versions/{version}",
    summary="DAT-2: create (201) or replace (200) the draft of a reporting form's version (operators); its "
    "configurations must be in registration's catalogue (422)",
    scope=OPERATOR,
    params=FormVersionPath,
    body=FormDraftIn,
    response=FormOut,
    upsert=True,
    errors=(409,),
    links=FORM_LINKS,
    tags=TAGS,
)
async def put_form_version(
    request: web.Request, caller: Caller, params: FormVersionPath, body: FormDraftIn
) -> Upserted:
    fields = FormFields(
        code=params.code,
        version=params.version,
        version_key=form_version_key(params.version),
        name=body.name,
        applies_from=body.applies_from,
        configurations=tuple(body.configurations),
        basis_number=body.basis.number,
        basis_date=body.basis.date,
        changes=body.changes,
        file_name=body.file.name,
        file_size=body.file.size,
        file_sha256=body.file.sha256,
    )
    app = request.app
    with refusals_answered():
        saved = await forms.save_form_draft(
            app[POOL], app[STORAGE], fields, max_file_bytes=app[SETTINGS].max_kit_bytes, now=app[CLOCK].now()
        )
    return Upserted(form_out(saved.form), saved.created)


@routes.put(
    "/v1/form-versions/{form_id}/file",
    summary="DAT-2: upload a draft form version's file (streamed; checked against its size and sha256): 201 stored "
    "now, 200 stored already (the body is not read)",
    scope=OPERATOR,
    params=FormIdPath,
    raw_body="application/octet-stream",
    response=FormOut,
    upsert=True,
    errors=(404, 409, 413, 415, 422),
    tags=TAGS,
)
async def put_form_file(request: web.Request, caller: Caller, params: FormIdPath) -> Upserted:
    """A mismatch of size or sha256 stores nothing (422)."""
    if request.content_type != "application/octet-stream":
        raise UnsupportedMediaType("send the file as application/octet-stream", received=request.content_type)
    app = request.app
    pool, storage = app[POOL], app[STORAGE]
    with refusals_answered():
        form = await forms.form_to_upload(pool, params.form_id)
        if await forms.already_stored(pool, storage, form, app[CLOCK].now()):
            return Upserted(form_out(await forms.form_to_upload(pool, params.form_id)), created=False)
    check_upload_length(request, form.file_name, form.file_size, form.file_sha256)
    # Streamed: the app's client_max_size does not apply, the storage stops as soon as the size is exceeded.
    with refusals_answered():
        await forms.upload_form_file(pool, storage, form, request.content.iter_chunked(UPLOAD_CHUNK), app[CLOCK].now())
        uploaded = await forms.form_to_upload(pool, params.form_id)
    return Upserted(form_out(uploaded), created=True)


@routes.post(
    "/v1/form-versions/{form_id}/publish",
    summary="DAT-2: publish a draft form version whose file is uploaded; client programs receive it at once; "
    "publishing again changes nothing",
    scope=OPERATOR,
    params=FormIdPath,
    response=FormOut,
    errors=(404, 409),
    links={"WithdrawForm": FORM_LINKS["WithdrawForm"]},
    tags=TAGS,
)
async def publish_form(request: web.Request, caller: Caller, params: FormIdPath) -> FormOut:
    app = request.app
    with refusals_answered():
        form = await forms.publish_form(app[POOL], app[OUTBOX], app[STORAGE], params.form_id, app[CLOCK].now())
    return form_out(form)


@routes.post(
    "/v1/form-versions/{form_id}/withdraw",
    summary="DAT-2: withdraw a published form version: client programs are no longer sent it",
    scope=OPERATOR,
    params=FormIdPath,
    body=WithdrawIn,
    response=FormOut,
    errors=(404, 409),
    tags=TAGS,
)
async def withdraw_form(request: web.Request, caller: Caller, params: FormIdPath, body: WithdrawIn) -> FormOut:
    app = request.app
    with refusals_answered():
        form = await forms.withdraw_form(app[POOL], app[OUTBOX], params.form_id, body.reason, app[CLOCK].now())
    return form_out(form)


@routes.get(
    "/v1/forms",
    summary="DAT-2: reporting form versions in every state, for operators (by form code, newest version first)",
    scope=OPERATOR,
    query=FormListQuery,
    response=FormList,
    links={"NextPage": Link("list_forms", {"cursor": "$response.body#/next_cursor"})},
    tags=TAGS,
)
async def list_forms(request: web.Request, caller: Caller, query: FormListQuery) -> FormList:
    page = await forms.form_list(
        request.app[POOL],
        code=query.code,
        configuration=query.configuration,
        state=query.state,
        limit=query.limit,
        after=forms_after(query.cursor) if query.cursor is not None else None,
    )
    return FormList(items=[form_out(f) for f in page.forms], next_cursor=forms_cursor(page.last) if page.last else None)
