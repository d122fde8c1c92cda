"""Regulated reporting forms for client programs and subscribers (DAT-2): the forms a program should receive, with
signed links to their files under the same entitlement as kits (UPD-4), and a configuration's forms with their
history (UPD-3)."""

from __future__ import annotations

from aiohttp import web

from services.updates import form_updates
from services.updates.api import PREFER_NO_REDIRECT, SEE_THE_LINK, answered_link
from services.updates.api_models import SignedLink
from services.updates.caller import caller_access
from services.updates.catalogue_models import CodePath
from services.updates.form_rules import form_version_key
from services.updates.forms_models import (
    ConfigurationFormList,
    FormIdPath,
    FormUpdatesIn,
    FormUpdatesOut,
    form_history,
    form_update,
)
from services.updates.keys import SIGNER
from services.updates.problems import refusals_answered
from shared.auth import Caller
from shared.http import Api
from shared.keys import POOL

routes = Api("ITS Portal updates: reporting forms for client programs")


@routes.post(
    "/v1/forms/updates",
    summary="DAT-2: the published forms of my configuration newer than the versions I hold (and those I do not "
    "hold), each with a short-lived signed link to its file (UPD-4)",
    body=FormUpdatesIn,
    response=FormUpdatesOut,
    auth=True,
    errors=(402, 403, 422),
    tags=("client programs",),
)
async def form_updates_for_program(request: web.Request, caller: Caller, body: FormUpdatesIn) -> FormUpdatesOut:
    access = await caller_access(request, caller)
    held = {code: form_version_key(version) for code, version in body.forms.items()}  # checked by the model already
    with refusals_answered():
        found = await form_updates.form_updates(
            request.app[POOL], access, request.app[SIGNER], body.configuration, held
        )
    return FormUpdatesOut(
        configuration=found.configuration,
        forms=[form_update(f.form, f.url) for f in found.forms],
        link_expires_at=found.link_expires_at,
    )


@routes.get(
    "/v1/configurations/{code}/forms",
    summary="DAT-2, UPD-3: the published reporting forms of a configuration registered to my subscriber, each with "
    "its versions, newest first",
    auth=True,
    params=CodePath,
    response=ConfigurationFormList,
    errors=(403,),
    tags=("release pages",),
)
async def configuration_forms(request: web.Request, caller: Caller, params: CodePath) -> ConfigurationFormList:
    access = await caller_access(request, caller)
    with refusals_answered():
        found = await form_updates.configuration_forms(request.app[POOL], access, params.code)
    return ConfigurationFormList(
        configuration=found.configuration,
        configuration_name=found.configuration_name,
        forms=[form_history(code, versions) for code, versions in found.forms.items()],
    )


@routes.get(
    "/v1/form-versions/{form_id}/download",
    summary="DAT-2, UPD-4: a short-lived signed link to a published form version's file (303; `Prefer: no-redirect` "
    "answers it as JSON, 200)",
    auth=True,
    params=FormIdPath,
    headers=(PREFER_NO_REDIRECT,),
    response=SignedLink,
    responses=SEE_THE_LINK,
    tags=("downloads",),
    errors=(402, 403, 404),
)
async def download_form(request: web.Request, caller: Caller, params: FormIdPath) -> web.StreamResponse | SignedLink:
    access = await caller_access(request, caller)
    with refusals_answered():
        link = await form_updates.form_link(request.app[POOL], access, request.app[SIGNER], params.form_id)
    return answered_link(request, link)
