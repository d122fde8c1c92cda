"""The release catalogue's models (UPD-1, UPD-2, UPD-6): what operators send and are answered, the path
parameters, the problems."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, ValidationInfo, field_validator

from services.updates import store
from services.updates.answers import answer
from services.updates.versions import MAX_LENGTH as MAX_VERSION_LENGTH
from services.updates.versions import PATTERN as VERSION_PATTERN
from services.updates.versions import Version
from shared.markdown import MAX_LINE, MAX_LONG, MAX_SHORT
from shared.pages import Cursor, decode_cursor, encode_cursor
from shared.parsing import PathParams, StrictModel
from shared.problems import Conflict, NotFound

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


class KitFields(BaseModel):
    """What every answer says of a kit (operators' KitOut, the release pages' KitItem)."""

    id: uuid.UUID
    name: str
    kind: str
    os: str | None
    arch: str | None
    size: int
    sha256: str


class KitOut(KitFields):
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


def kit_out(kit: store.Kit, uploaded: bool) -> KitOut:
    return answer(KitOut, kit, uploaded=uploaded, upload=f"/v1/releases/{kit.release_id}/kits/{kit.name}/content")


def release_out(r: store.Release) -> ReleaseOut:
    return answer(
        ReleaseOut,
        r,
        kits=[kit_out(k, k.uploaded_at is not None) for k in r.kits],
        missing_kits=[k.name for k in r.kits if k.uploaded_at is None],
    )


RELEASES_CURSOR = "r1"  # (configuration or '' for the platform, version) of the release last seen
NEWEST_CURSOR = "r2"  # (release date, id) of the release last seen, newest first
VERSION_PREFIX = r"^[0-9]{1,9}(\.[0-9]{1,9}){0,5}$"  # the first numbers of a version, e.g. 3.0 or 3.0.41


class ListQuery(StrictModel):
    kind: Literal["configuration", "platform"] | None = None
    configuration: ConfigurationCode | None = None
    state: Literal["draft", "published", "withdrawn"] | None = None
    version: VersionText | None = None
    version_prefix: Annotated[str, StringConstraints(pattern=VERSION_PREFIX)] | None = Field(
        default=None, description="A version or its first numbers: 3.0 finds 3.0, 3.0.41.20 and not 3.01"
    )
    sort: Literal["configuration", "newest"] = Field(
        default="configuration",
        description="configuration: the platform first, then by configuration, newest version first; "
        "newest: by release date, newest first",
    )
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: Cursor | None = None

    @field_validator("cursor")
    @classmethod
    def _cursor_is_ours(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            releases_after(value, info.data.get("sort", "configuration"))  # not ours (or another order's): a 422
        return value


def releases_after(cursor: str, sort: str = "configuration") -> tuple[str, tuple[int, ...]] | tuple[date, uuid.UUID]:
    """The key of the release last seen, in the order `sort` names; ValueError for a cursor not handed out for it."""
    if sort == "newest":
        day, release_id = decode_cursor(NEWEST_CURSOR, cursor, 2)
        return date.fromisoformat(day), uuid.UUID(release_id)
    configuration, version = decode_cursor(RELEASES_CURSOR, cursor, 2)
    if configuration and not re.fullmatch(CONFIGURATION_CODE, configuration):  # a forged one (a NUL): never to SQL
        raise ValueError("not a cursor from this list")
    return configuration, Version.parse(version).key  # ValueError: not ours


def releases_cursor(release: store.Release, sort: str) -> str:
    """The cursor of the page after `release`, in the order `sort` names."""
    if sort == "newest":
        return encode_cursor(NEWEST_CURSOR, release.release_date.isoformat(), str(release.id))
    return encode_cursor(RELEASES_CURSOR, release.configuration or "", release.version)


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
