"""One release for operators (what a confirmation page names before publishing or withdrawing it), and the preview
of a draft's notes rendered exactly as the release page will show them (release_notes.py)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from services.updates.catalogue_models import (
    OPERATOR,
    Line,
    LongMarkdown,
    ReleaseNotFound,
    ReleaseOut,
    ReleasePath,
    ShortMarkdown,
    release_out,
)
from services.updates.release_list import one_release
from services.updates.release_notes import configuration_notes_html, platform_notes_html
from shared.auth import Caller
from shared.http import Api
from shared.keys import POOL
from shared.parsing import StrictModel

routes = Api("ITS Portal updates: releases for operators")


@routes.get(
    "/v1/releases/{release_id:uuid}",
    summary="One release in whatever state, with its kits (operators)",
    scope=OPERATOR,
    params=ReleasePath,
    response=ReleaseOut,
    errors=(404,),
    tags=("catalogue",),
)
async def get_release(request: web.Request, caller: Caller, params: ReleasePath) -> ReleaseOut:
    release = await one_release(request.app[POOL], params.release_id)
    if release is None:
        raise ReleaseNotFound("no such release")
    return release_out(release)


class NotesIn(StrictModel):
    """The Markdown sections of a draft, configuration's (UPD-1) or platform's (UPD-2); absent ones are empty."""

    whats_new: ShortMarkdown = ""
    changes: LongMarkdown = ""
    major_changes: list[Line] = Field(default=[], max_length=100)
    update_procedure: ShortMarkdown = ""
    differences: ShortMarkdown = ""
    migration_notes: ShortMarkdown = ""


class NotesPreview(BaseModel):
    """Each section as the release page shows it: safe HTML (raw HTML comes out as text, links only http(s) and
    mailto, no images)."""

    whats_new_html: str
    changes_html: str
    major_changes_html: list[str]
    update_procedure_html: str
    differences_html: str
    migration_notes_html: str


@routes.post(
    "/v1/releases/preview",
    summary="A draft's notes rendered as the release page will show them (operators); nothing is stored",
    scope=OPERATOR,
    body=NotesIn,
    response=NotesPreview,
    tags=("catalogue",),
)
async def preview_notes(request: web.Request, caller: Caller, body: NotesIn) -> NotesPreview:
    return NotesPreview.model_validate(
        {
            **configuration_notes_html(
                whats_new=body.whats_new,
                changes=body.changes,
                major_changes=body.major_changes,
                update_procedure=body.update_procedure,
            ),
            **platform_notes_html(differences=body.differences, migration_notes=body.migration_notes),
        }
    )
