"""The release catalogue for operators (scope "operator"): drafts of configuration releases (UPD-1) and
platform releases (UPD-2), and the list of releases in every state.

A release is written as a draft (PUT: create or replace, so `itsctl releases publish` can run again and
again), its kits are streamed in one by one (kits_api.py), and publishing makes it visible to subscribers
(publishing_api.py). A published or withdrawn release never changes (409): a fix is a new version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from services.updates import drafts, store
from services.updates.catalogue_models import (
    OPERATOR,
    ConfigurationKitIn,
    ConfigurationReleaseIn,
    ListQuery,
    PlatformKitIn,
    PlatformReleaseIn,
    ReleaseList,
    ReleaseOut,
    ReleaseVersionPath,
    VersionPath,
    release_out,
    releases_after,
    releases_cursor,
)
from services.updates.keys import SETTINGS, STORAGE
from services.updates.problems import refusals_answered
from services.updates.release_list import release_list
from services.updates.versions import Version
from shared.auth import Caller
from shared.http import Api, Link, Upserted
from shared.keys import CLOCK, POOL

routes = Api("ITS Portal updates: catalogue")


async def _save(
    request: web.Request, fields: store.ReleaseFields, kits: Sequence[ConfigurationKitIn | PlatformKitIn]
) -> Upserted:
    declared = [
        store.KitDeclared(
            name=k.name,
            kind=k.kind,
            size=k.size,
            sha256=k.sha256,
            os=k.os if isinstance(k, PlatformKitIn) else None,
            arch=k.arch if isinstance(k, PlatformKitIn) else None,
        )
        for k in kits
    ]
    with refusals_answered():
        saved = await drafts.save_draft(
            request.app[POOL],
            request.app[STORAGE],
            fields,
            declared,
            max_kit_bytes=request.app[SETTINGS].max_kit_bytes,
            now=request.app[CLOCK].now(),
        )
    return Upserted(release_out(saved.release), saved.created)


def _fields(
    kind: store.ReleaseKind,
    configuration: str | None,
    version: Version,
    body: ConfigurationReleaseIn | PlatformReleaseIn,
    **sections: Any,
) -> store.ReleaseFields:
    """The draft's fields: what every release has, and the sections of its kind (UPD-1 or UPD-2)."""
    return store.ReleaseFields(
        kind=kind,
        configuration=configuration,
        version=str(version),
        version_key=version.key,
        release_date=body.release_date,
        its_issue=body.its_issue,
        prerelease=body.prerelease,
        **sections,
    )


RELEASE_LINKS = {
    "Publish": Link("publish", {"release_id": "$response.body#/id"}),
    "Withdraw": Link("withdraw", {"release_id": "$response.body#/id"}),
    "UploadKit": Link("put_kit_content", {"release_id": "$response.body#/id", "name": "$response.body#/kits/0/name"}),
}


@routes.put(
    "/v1/configurations/{code}/releases/{version}",
    summary="UPD-1: create (201) or replace (200) the draft of a configuration release (operators); the "
    "configuration must be in registration's catalogue (422)",
    scope=OPERATOR,
    params=ReleaseVersionPath,
    body=ConfigurationReleaseIn,
    response=ReleaseOut,
    upsert=True,
    errors=(409,),
    links=RELEASE_LINKS,
    tags=("catalogue",),
)
async def put_configuration_release(
    request: web.Request, caller: Caller, params: ReleaseVersionPath, body: ConfigurationReleaseIn
) -> Upserted:
    fields = _fields(
        "configuration",
        params.code,
        params.version,
        body,
        whats_new=body.whats_new,
        changes=body.changes,
        major_changes=tuple(body.major_changes),
        update_procedure=body.update_procedure,
        min_platform=body.min_platform,
        updates_from=tuple(body.updates_from),  # checked and ordered by the draft (drafts.save_draft)
    )
    return await _save(request, fields, body.kits)


@routes.put(
    "/v1/platform/releases/{version}",
    summary="UPD-2: create (201) or replace (200) the draft of a platform release (operators)",
    scope=OPERATOR,
    params=VersionPath,
    body=PlatformReleaseIn,
    response=ReleaseOut,
    upsert=True,
    errors=(409,),
    links=RELEASE_LINKS,
    tags=("catalogue",),
)
async def put_platform_release(
    request: web.Request, caller: Caller, params: VersionPath, body: PlatformReleaseIn
) -> Upserted:
    fields = _fields(
        "platform",
        None,
        params.version,
        body,
        grade=body.grade,
        differences=body.differences,
        migration_notes=body.migration_notes,
        fixed_bugs=tuple(bug.model_dump() for bug in body.fixed_bugs),
        readme=body.readme,
    )
    return await _save(request, fields, body.kits)


@routes.get(
    "/v1/releases",
    summary="Releases in every state, for operators (platform first, then by configuration, newest first)",
    scope=OPERATOR,
    query=ListQuery,
    response=ReleaseList,
    links={"NextPage": Link("list_releases", {"cursor": "$response.body#/next_cursor"})},
    tags=("catalogue",),
)
async def list_releases(request: web.Request, caller: Caller, query: ListQuery) -> ReleaseList:
    page = await release_list(
        request.app[POOL],
        kind=query.kind,
        configuration=query.configuration,
        state=query.state,
        version=query.version,
        version_prefix=query.version_prefix,
        sort=query.sort,
        limit=query.limit,
        after=releases_after(query.cursor, query.sort) if query.cursor is not None else None,
    )
    last = page.last
    return ReleaseList(
        items=[release_out(r) for r in page.releases],
        next_cursor=releases_cursor(last, query.sort) if last else None,
    )
