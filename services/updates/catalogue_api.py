"""The release catalogue for operators (scope "operator"): configuration releases (UPD-1), platform releases
(UPD-2), their kits, publishing and withdrawing, and the articles (UPD-6).

A release is written as a draft (PUT: create or replace, so `itsctl releases publish` can run again and
again), its kits are streamed in one by one, and publishing makes it visible to subscribers. A published or
withdrawn release never changes (409): a fix is a new version. Publishing writes the state, the
`updates.release.published` event (through the outbox) and a notification to every replica's update graph
in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from services.updates import store
from services.updates.catalogue_models import (
    OPERATOR,
    RELEASES_CURSOR,
    ConfigurationKitIn,
    ConfigurationReleaseIn,
    KitOut,
    ListQuery,
    PlatformKitIn,
    PlatformReleaseIn,
    ReleaseList,
    ReleaseNotDraft,
    ReleaseOut,
    ReleaseVersionPath,
    VersionPath,
    releases_after,
)
from services.updates.settings import UpdatesSettings
from services.updates.storage import STORAGE, KitStorage
from services.updates.versions import Version
from shared.app import CLOCK, POOL, SETTINGS
from shared.auth import Caller
from shared.db import Connection
from shared.http import Api, Link, Upserted
from shared.pages import encode_cursor
from shared.problems import ValidationFailed, invalid

routes = Api("ITS Portal updates: catalogue")

# ---- helpers ---------------------------------------------------------------------------------


def _settings(request: web.Request) -> UpdatesSettings:
    settings = request.app[SETTINGS]
    assert isinstance(settings, UpdatesSettings)
    return settings


async def known_configuration(conn: Connection, code: str, field: str) -> None:
    """A release or an article is about a configuration of registration's catalogue (its events fill
    `configurations`): another is a 422 naming the field."""
    if await store.configuration_name(conn, code) is None:
        unknown = invalid(field, f"the catalogue has no configuration {code!r}", "configuration_unknown")
        raise ValidationFailed([unknown])


def _upload_path(release_id: uuid.UUID, name: str) -> str:
    return f"/v1/releases/{release_id}/kits/{name}/content"


def release_out(r: store.Release) -> ReleaseOut:
    return ReleaseOut(
        id=r.id,
        kind=r.kind,
        configuration=r.configuration,
        version=r.version,
        state=r.state,
        release_date=r.release_date,
        its_issue=r.its_issue,
        prerelease=r.prerelease,
        grade=r.grade,
        min_platform=r.min_platform,
        updates_from=list(r.updates_from),
        created_at=r.created_at,
        updated_at=r.updated_at,
        published_at=r.published_at,
        withdrawn_at=r.withdrawn_at,
        withdrawn_reason=r.withdrawn_reason,
        kits=[
            KitOut(
                id=k.id,
                name=k.name,
                kind=k.kind,
                os=k.os,
                arch=k.arch,
                size=k.size,
                sha256=k.sha256,
                uploaded=k.uploaded_at is not None,
                upload=_upload_path(r.id, k.name),
            )
            for k in r.kits
        ],
        missing_kits=[k.name for k in r.kits if k.uploaded_at is None],
    )


def _check_kits(kits: Sequence[ConfigurationKitIn | PlatformKitIn], settings: UpdatesSettings) -> None:
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, kit in enumerate(kits):
        if kit.name in seen:
            errors.append(invalid(f"kits.{i}.name", f"also the name of kits.{seen[kit.name]}", "unique"))
        seen.setdefault(kit.name, i)
        if kit.size > settings.max_kit_bytes:
            errors.append(
                invalid(
                    f"kits.{i}.size", f"at most {settings.max_kit_bytes} bytes (ITS_MAX_KIT_BYTES)", "less_than_equal"
                )
            )
        if isinstance(kit, PlatformKitIn) and kit.kind == "platform" and (kit.os is None or kit.arch is None):
            errors.append(invalid(f"kits.{i}", "a platform kit names its os and arch", "missing"))
    if errors:
        raise ValidationFailed(errors)


async def _stored_kits(storage: KitStorage, kits: Sequence[ConfigurationKitIn | PlatformKitIn]) -> list[str]:
    """The declared kits whose content is in storage already (the same file in another release: kept once).
    A stored file of another size under the declared sha256 means the declared size is wrong: 422."""
    stored: list[str] = []
    errors: list[dict[str, Any]] = []
    for i, kit in enumerate(kits):
        size = await storage.size(kit.sha256)
        if size is None:
            continue
        if size != kit.size:
            errors.append(
                invalid(f"kits.{i}.size", f"the kit with this sha256 has {size} bytes, not {kit.size}", "kit_mismatch")
            )
        stored.append(kit.name)
    if errors:
        raise ValidationFailed(errors)
    return stored


async def _save(
    request: web.Request,
    fields: store.ReleaseFields,
    kits: Sequence[ConfigurationKitIn | PlatformKitIn],
) -> Upserted:
    """Create or replace the draft; kits whose content is stored already count as uploaded."""
    _check_kits(kits, _settings(request))
    stored = await _stored_kits(request.app[STORAGE], kits)
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
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        saved = await store.save_draft(conn, fields, declared, now)
        if saved.state != "draft":
            raise ReleaseNotDraft(
                f"{_label(fields.configuration, fields.version)} is {saved.state}; a published or withdrawn "
                "release never changes: publish a new version",
                release_id=str(saved.release_id),
                state=saved.state,
            )
        await store.mark_uploaded(conn, saved.release_id, [(k.name, k.sha256) for k in kits if k.name in stored], now)
        release = await store.release(conn, saved.release_id)
    assert release is not None
    return Upserted(release_out(release), saved.created)


def _label(configuration: str | None, version: str) -> str:
    return f"{configuration} {version}" if configuration else f"platform {version}"


def _updates_from(version: Version, body: ConfigurationReleaseIn) -> tuple[str, ...]:
    """Distinct versions older than the release (a release cannot update from itself or a newer one)."""
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, text in enumerate(body.updates_from):
        if text in seen:
            errors.append(invalid(f"updates_from.{i}", "listed twice", "unique"))
        seen.add(text)
        if not Version.parse(text) < version:
            errors.append(invalid(f"updates_from.{i}", f"not older than the release {version}"))
    if errors:
        raise ValidationFailed(errors)
    return tuple(sorted(seen, key=lambda v: Version.parse(v).key))


# ---- drafts ----------------------------------------------------------------------------------


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
    configuration, version = params.code, params.version
    async with request.app[POOL].acquire() as conn:
        await known_configuration(conn, configuration, "code")
    fields = store.ReleaseFields(
        kind="configuration",
        configuration=configuration,
        version=str(version),
        version_key=version.key,
        release_date=body.release_date,
        its_issue=body.its_issue,
        prerelease=body.prerelease,
        whats_new=body.whats_new,
        changes=body.changes,
        major_changes=tuple(body.major_changes),
        update_procedure=body.update_procedure,
        min_platform=body.min_platform,
        updates_from=_updates_from(version, body),
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
    version = params.version
    ids = [bug.id for bug in body.fixed_bugs]
    if len(set(ids)) != len(ids):
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        raise ValidationFailed([invalid("fixed_bugs", f"listed twice: {', '.join(duplicated)}", "unique")])
    fields = store.ReleaseFields(
        kind="platform",
        configuration=None,
        version=str(version),
        version_key=version.key,
        release_date=body.release_date,
        its_issue=body.its_issue,
        prerelease=body.prerelease,
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
    async with request.app[POOL].acquire() as conn:
        releases = await store.list_releases(
            conn,
            kind=query.kind,
            configuration=query.configuration,
            state=query.state,
            version=query.version,
            limit=query.limit + 1,  # one more than asked: is there a next page?
            after=releases_after(query.cursor) if query.cursor is not None else None,
        )
    page = releases[: query.limit]
    last = page[-1] if len(releases) > query.limit else None
    return ReleaseList(
        items=[release_out(r) for r in page],
        next_cursor=encode_cursor(RELEASES_CURSOR, last.configuration or "", last.version) if last else None,
    )
