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
from datetime import date, datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import AfterValidator, BaseModel, Field, StringConstraints, field_validator

from services.updates import store
from services.updates.graphs import CATALOGUE_CHANNEL
from services.updates.markdown import MAX_LINE, MAX_LONG, MAX_SHORT
from services.updates.settings import UpdatesSettings
from services.updates.storage import STORAGE, KitMismatch, KitStorage
from services.updates.versions import MAX_LENGTH as MAX_VERSION_LENGTH
from services.updates.versions import PATTERN as VERSION_PATTERN
from services.updates.versions import Version
from shared.app import CLOCK, OUTBOX, POOL, SETTINGS
from shared.auth import Caller
from shared.db import Connection
from shared.events.updates import ReleasePublished, ReleaseWithdrawn
from shared.http import Api, Link, Upserted
from shared.pages import Cursor, decode_cursor, encode_cursor
from shared.parsing import PathParams, StrictModel
from shared.problems import Conflict, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, invalid

routes = Api("ITS Portal updates: catalogue")

OPERATOR = "operator"
UPLOAD_CHUNK = 256 * 1024  # bytes read from the request per step: an upload never sits whole in memory
MAX_KITS = 50
MAX_VERSIONS = 200  # versions a release updates from, versions an article concerns
MAX_FIXED_BUGS = 2_000

CONFIGURATION_CODE = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"  # as registration's catalogue
KIT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$"  # as the kits table checks: no '/', no leading '.'
ARTICLE_SLUG = r"^[a-z0-9][a-z0-9-]{0,99}$"


def _storable(text: str) -> str:
    """PostgreSQL text holds neither NUL nor lone surrogates (JSON can spell both): refused with a 422,
    not a 500 from the database."""
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return text


def _version(text: str) -> str:
    return str(Version.parse(text))  # ValueError: a 422 that names the field and says what is wrong


Storable = AfterValidator(_storable)
VersionText = Annotated[
    str,
    StringConstraints(max_length=MAX_VERSION_LENGTH),
    AfterValidator(_version),
    Field(json_schema_extra={"pattern": VERSION_PATTERN}),  # checked by `_version`, with a message that says why
]
ConfigurationCode = Annotated[str, StringConstraints(pattern=CONFIGURATION_CODE)]
KitName = Annotated[str, StringConstraints(pattern=KIT_NAME)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Word = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,32}$")]  # an OS or an architecture
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LINE), Storable]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Storable]
Issue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Storable]
ShortMarkdown = Annotated[str, StringConstraints(max_length=MAX_SHORT), Storable]
LongMarkdown = Annotated[str, StringConstraints(max_length=MAX_LONG), Storable]
Size = Annotated[int, Field(ge=0, le=2**50)]  # bytes; ITS_MAX_KIT_BYTES is the operating limit


class ConfigurationKitIn(StrictModel):
    name: KitName
    kind: Literal["full", "update", "other"]  # full distribution, update package (.cfu), anything else
    size: Size
    sha256: Sha256


class PlatformKitIn(StrictModel):
    name: KitName
    kind: Literal["platform", "readme", "other"]
    os: Word | None = None  # linux, windows, macos; required for kind "platform"
    arch: Word | None = None  # x86_64, aarch64; required for kind "platform"
    size: Size
    sha256: Sha256


class ConfigurationReleaseIn(StrictModel):
    """UPD-1: every section of a configuration release; Markdown where it says so."""

    release_date: date
    its_issue: Issue
    prerelease: bool = False
    whats_new: ShortMarkdown = ""
    changes: LongMarkdown = ""
    major_changes: list[Line] = Field(default=[], max_length=100)
    update_procedure: ShortMarkdown = ""
    min_platform: VersionText | None = None
    updates_from: list[VersionText] = Field(default=[], max_length=MAX_VERSIONS)
    kits: list[ConfigurationKitIn] = Field(min_length=1, max_length=MAX_KITS)


class FixedBug(StrictModel):
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._#:-]{0,49}$")]
    title: Line


class PlatformReleaseIn(StrictModel):
    """UPD-2: every section of a platform release; `readme` is ReadMe.txt (plain text)."""

    release_date: date
    its_issue: Issue
    grade: Literal["recommended", "mandatory", "optional"]
    prerelease: bool = False
    differences: ShortMarkdown = ""
    migration_notes: ShortMarkdown = ""
    fixed_bugs: list[FixedBug] = Field(default=[], max_length=MAX_FIXED_BUGS)
    readme: LongMarkdown = ""
    kits: list[PlatformKitIn] = Field(min_length=1, max_length=MAX_KITS)


class KitOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    os: str | None
    arch: str | None
    size: int
    sha256: str
    uploaded: bool
    upload: str  # where to PUT its content


class ReleaseOut(BaseModel):
    id: uuid.UUID
    kind: str
    configuration: str | None
    version: str
    state: str
    release_date: date
    its_issue: str
    prerelease: bool
    grade: str | None
    min_platform: str | None
    updates_from: list[str]
    created_at: datetime | None
    updated_at: datetime | None
    published_at: datetime | None
    withdrawn_at: datetime | None
    withdrawn_reason: str | None
    kits: list[KitOut]
    missing_kits: list[str]  # declared and not uploaded yet: publishing waits for them


class ReleaseList(BaseModel):
    items: list[ReleaseOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


RELEASES_CURSOR = "r1"  # (configuration or '' for the platform, version) of the release last seen


class ListQuery(StrictModel):
    kind: Literal["configuration", "platform"] | None = None
    configuration: ConfigurationCode | None = None
    state: Literal["draft", "published", "withdrawn"] | None = None
    version: VersionText | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: Cursor | None = None

    @field_validator("cursor")
    @classmethod
    def _cursor_is_ours(cls, value: str | None) -> str | None:
        if value is not None:
            _after(value)  # a cursor we did not hand out is a 422 naming the field
        return value


def _after(cursor: str) -> tuple[str, tuple[int, ...]]:
    configuration, version = decode_cursor(RELEASES_CURSOR, cursor, 2)
    return configuration, Version.parse(version).key  # ValueError: not ours


class WithdrawIn(StrictModel):
    reason: Line


class ArticleIn(StrictModel):
    """UPD-6: a known problem or an administration article, about a configuration or (null) the platform."""

    configuration: ConfigurationCode | None
    kind: Literal["known_problem", "administration"]
    title: Title
    body: LongMarkdown
    versions: list[VersionText] = Field(default=[], max_length=MAX_VERSIONS)  # what a known problem concerns


class ArticleOut(BaseModel):
    slug: str
    configuration: str | None
    kind: str
    title: str
    versions: list[str]
    published_at: datetime | None
    updated_at: datetime | None


# ---- path parameters -------------------------------------------------------------------------


class CodePath(PathParams):
    code: ConfigurationCode


class ReleaseVersionPath(PathParams):
    code: ConfigurationCode
    version: Version


class VersionPath(PathParams):
    version: Version


class ReleasePath(PathParams):
    release_id: uuid.UUID

    @classmethod
    def malformed(cls, errors: list[dict[str, Any]]) -> ReleaseNotFound:
        return ReleaseNotFound("a release id is a UUID")


class KitContentPath(PathParams):
    release_id: uuid.UUID
    name: KitName

    @classmethod
    def malformed(cls, errors: list[dict[str, Any]]) -> ReleaseNotFound:
        return ReleaseNotFound("a release id is a UUID, a kit name has no '/' and does not start with '.'")


class SlugPath(PathParams):
    slug: Annotated[str, StringConstraints(pattern=ARTICLE_SLUG)]


# ---- problems --------------------------------------------------------------------------------


class ReleaseNotFound(NotFound):
    slug, title = "release-not-found", "No such release"


class KitNotFound(NotFound):
    slug, title = "kit-not-found", "No such kit"


class ReleaseNotDraft(Conflict):
    """A published or withdrawn release never changes: publish a new version instead."""

    slug, title = "release-not-draft", "The release is no longer a draft"


class KitsMissing(Conflict):
    slug, title = "kits-missing", "Some kits are not uploaded yet"


class ReleaseWithdrawnAlready(Conflict):
    slug, title = "release-withdrawn", "The release was withdrawn"


class KitChanged(Conflict):
    slug, title = "kit-changed", "The kit was declared again while it was uploaded"


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


# ---- publishing ------------------------------------------------------------------------------


async def _announce(conn: Connection, configuration: str | None) -> None:
    """Every replica drops its cached update graph of this configuration ('': the platform) on commit."""
    await conn.execute("SELECT pg_notify($1, $2)", CATALOGUE_CHANNEL, configuration or "")


def _check_versions(release: store.Release) -> None:
    """What the update graph parses must parse (validated on PUT; checked again before it goes live)."""
    checked = [("version", release.version)] + [(f"updates_from.{i}", v) for i, v in enumerate(release.updates_from)]
    if release.min_platform is not None:
        checked.append(("min_platform", release.min_platform))
    errors = []
    for where, text in checked:
        try:
            Version.parse(text)
        except ValueError as exc:
            errors.append(invalid(where, str(exc)))
    if errors:
        raise ValidationFailed(errors, "the release's versions do not parse")


@routes.post(
    "/v1/releases/{release_id}/publish",
    summary="Publish a draft whose kits are all uploaded (UPD-1, UPD-2); publishing again changes nothing",
    scope=OPERATOR,
    params=ReleasePath,
    response=ReleaseOut,
    errors=(404, 409, 422),
    links={"Withdraw": Link("withdraw", {"release_id": "$response.body#/id"})},
    tags=("catalogue",),
)
async def publish(request: web.Request, caller: Caller, params: ReleasePath) -> ReleaseOut:
    release_id = params.release_id
    async with request.app[POOL].acquire() as conn:
        draft = await store.release(conn, release_id)
    if draft is None:
        raise ReleaseNotFound()
    # Storage is checked outside the transaction (it may be S3); uploaded_at is then re-checked under the lock.
    storage = request.app[STORAGE]
    lost = {k.name for k in draft.kits if k.uploaded_at is not None and not await storage.has(k.sha256)}

    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        release = await store.release(conn, release_id, lock=True)
        assert release is not None  # releases are never deleted
        if release.state == "published":
            return release_out(release)  # a repeated request (a lost answer, a re-run): same answer, no event
        if release.state == "withdrawn":
            raise ReleaseWithdrawnAlready("a withdrawn release is not published again: publish a new version")
        missing = sorted({k.name for k in release.kits if k.uploaded_at is None} | lost)
        if missing:
            raise KitsMissing(f"upload these kits first: {', '.join(missing)}", missing=missing)
        _check_versions(release)
        await store.publish(conn, release_id, now)
        name = await store.configuration_name(conn, release.configuration) if release.configuration else None
        await request.app[OUTBOX].add(
            conn,
            ReleasePublished(
                release_id=release.id,
                kind=release.kind,
                configuration=release.configuration,
                configuration_name=name,
                version=release.version,
                release_date=release.release_date,
                its_issue=release.its_issue,
                prerelease=release.prerelease,
                whats_new=release.whats_new,
                min_platform=release.min_platform,
                grade=release.grade,  # the table's CHECK keeps it to the three grades
            ),
        )
        await _announce(conn, release.configuration)
        published = await store.release(conn, release_id)
    assert published is not None
    return release_out(published)


@routes.post(
    "/v1/releases/{release_id}/withdraw",
    summary="Withdraw a published release: subscribers no longer see it, update plans avoid it",
    scope=OPERATOR,
    params=ReleasePath,
    body=WithdrawIn,
    response=ReleaseOut,
    errors=(404, 409),
    tags=("catalogue",),
)
async def withdraw(request: web.Request, caller: Caller, params: ReleasePath, body: WithdrawIn) -> ReleaseOut:
    release_id = params.release_id
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        release = await store.release(conn, release_id, lock=True)
        if release is None:
            raise ReleaseNotFound()
        if release.state == "withdrawn":
            return release_out(release)  # repeated: no second event
        if release.state == "draft":
            raise ReleaseNotDraft(
                "only a published release is withdrawn; a draft is simply not published", state="draft"
            )
        await store.withdraw(conn, release_id, now, body.reason)
        name = await store.configuration_name(conn, release.configuration) if release.configuration else None
        await request.app[OUTBOX].add(
            conn,
            ReleaseWithdrawn(
                release_id=release.id,
                kind=release.kind,
                configuration=release.configuration,
                configuration_name=name,
                version=release.version,
                release_date=release.release_date,
                its_issue=release.its_issue,
                reason=body.reason,
            ),
        )
        await _announce(conn, release.configuration)
        withdrawn = await store.release(conn, release_id)
    assert withdrawn is not None
    return release_out(withdrawn)


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
            after=_after(query.cursor) if query.cursor is not None else None,
        )
    page = releases[: query.limit]
    last = page[-1] if len(releases) > query.limit else None
    return ReleaseList(
        items=[release_out(r) for r in page],
        next_cursor=encode_cursor(RELEASES_CURSOR, last.configuration or "", last.version) if last else None,
    )


# ---- articles (UPD-6) ------------------------------------------------------------------------


@routes.put(
    "/v1/articles/{slug}",
    summary="UPD-6: create (201) or replace (200) a known-problem or administration article (operators); its "
    "configuration must be in registration's catalogue (422)",
    scope=OPERATOR,
    params=SlugPath,
    body=ArticleIn,
    response=ArticleOut,
    upsert=True,
    tags=("catalogue",),
)
async def put_article(request: web.Request, caller: Caller, params: SlugPath, body: ArticleIn) -> Upserted:
    versions = tuple(dict.fromkeys(body.versions))
    article = store.Article(params.slug, body.configuration, body.kind, body.title, body.body, versions)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        if body.configuration is not None:
            await known_configuration(conn, body.configuration, "configuration")
        saved, created = await store.save_article(conn, article, request.app[CLOCK].now())
    out = ArticleOut(
        slug=saved.slug,
        configuration=saved.configuration,
        kind=saved.kind,
        title=saved.title,
        versions=list(saved.versions),
        published_at=saved.published_at,
        updated_at=saved.updated_at,
    )
    return Upserted(out, created)
