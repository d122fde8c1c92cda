"""The models of updates' API for subscribers and their client programs (UPD-3, UPD-4, UPD-5): what a client
sends for an update plan, and what it is answered."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from services.updates.catalogue_models import KitNotFound
from services.updates.graph_store import GraphKit
from services.updates.offers import Offer
from services.updates.versions import PATTERN as VERSION_PATTERN
from services.updates.versions import asked_version
from shared.parsing import PathParams, StrictModel


def _version(value: str) -> str:
    asked_version(value)  # ValueError → 422 naming the field
    return value  # accepted text is canonical (versions.py)


VersionText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=64),
    AfterValidator(_version),
    Field(json_schema_extra={"pattern": VERSION_PATTERN}),  # checked by `_version`, with a message that says why
]
ConfigurationCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
Word = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]


class PlanRequest(StrictModel):
    configuration: ConfigurationCode
    version: VersionText
    platform_version: VersionText
    target: VersionText | None = None  # a specific version instead of the newest
    allow_prerelease: bool = False
    os: Word | None = None  # to pick the platform kit: linux, windows, macos
    arch: Word | None = None  # x86_64, aarch64


class KitLink(GraphKit):
    """A kit of a plan's step (or of the platform release it needs), with a link when this user may download it."""

    url: str | None = None  # a signed link valid `link_expires_at`; None when not entitled


class Step(BaseModel):
    version: str
    from_version: str
    release_date: str
    min_platform: str | None
    prerelease: bool
    page: str
    entitled: bool
    kits: list[KitLink]


class PlatformAdvice(BaseModel):
    current: str
    required: str | None  # the highest minimum platform along the chain
    update_needed: bool
    recommended: str | None  # the newest mandatory or recommended platform release
    release: str | None  # the platform release to install now (None: none needed)
    kits: list[KitLink]


class DownloadStatus(BaseModel):
    """UPD-4 for this user; when refused, why and what to do (the offer)."""

    allowed: bool
    reason: str | None = None
    detail: str | None = None
    offer: Offer | None = None


class UpdatePlan(BaseModel):
    configuration: str
    current: str
    target: str
    up_to_date: bool
    steps: list[Step]
    platform: PlatformAdvice
    total_size: int
    support_end: str | None  # the last covered month (YYYY-MM), None when no contract is needed or none covers
    download: DownloadStatus
    link_expires_at: datetime


class SignedLink(BaseModel):
    url: str
    expires_at: datetime
    name: str
    size: int
    sha256: str


class KitPath(PathParams):
    kit_id: uuid.UUID

    @classmethod
    def malformed(cls, errors: list[dict[str, Any]]) -> KitNotFound:
        return KitNotFound("a kit id is a UUID")


class HeldProduct(BaseModel):
    registration_number: str
    product_name: str
    edition: str
    active_from: datetime


class ConfigurationEntitlement(BaseModel):
    configuration: str
    visible: bool
    download: DownloadStatus
    support_end: str | None
    products: list[HeldProduct]


class Entitlements(BaseModel):
    subscriber_code: str
    items: list[ConfigurationEntitlement]
