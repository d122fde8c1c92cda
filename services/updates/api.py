"""updates' API for subscribers and their client programs: update plans (UPD-5), kit downloads (UPD-4)
and what the subscriber is entitled to (UPD-3).

Client programs log in with the password grant (ACC-3) and call these with the subscriber's token.
A download answers with a short-lived signed link (`links.py`), served by any replica, nginx or a CDN
without a database; the entitlement is checked here, once, when the link is made.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from services.updates import links
from services.updates.entitlement import Decision
from services.updates.entitlement_store import Offer, SubscriberAccess, subscriber_access
from services.updates.graphs import CATALOGUES, PlatformCatalogue, PublishedRelease
from services.updates.plan import Chain
from services.updates.settings import UpdatesSettings
from services.updates.store import GraphKit as Kit
from services.updates.versions import PATTERN as VERSION_PATTERN
from services.updates.versions import Version
from shared.app import POOL
from shared.auth import Caller
from shared.http import Api, Header
from shared.parsing import PathParams, StrictModel
from shared.problems import NotFound, Problem

routes = Api("ITS Portal updates")

SETTINGS = web.AppKey("updates_settings", UpdatesSettings)


def _version(value: str) -> str:
    return str(Version.parse(value))  # ValueError → 422 naming the field


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


class KitLink(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    size: int
    sha256: str
    os: str | None = None
    arch: str | None = None
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


class NoUpdateChain(Problem):
    status, slug, title = 422, "no-update-chain", "No chain of releases leads there"


class KitNotFound(NotFound):
    slug, title = "kit-not-found", "No such kit"


def _link(request: web.Request, access: SubscriberAccess, kit: Kit, expires: int) -> str:
    settings = request.app[SETTINGS]
    path = links.sign_link(
        settings.download_link_secret.get_secret_value().encode(),
        kit_id=kit.id,
        sha256=kit.sha256,
        name=kit.name,
        subscriber_id=access.subscriber.id,
        expires=expires,
    )
    return settings.download_base_url.rstrip("/") + path


def _kits(
    request: web.Request, access: SubscriberAccess, release: PublishedRelease, entitled: bool, expires: int
) -> list[KitLink]:
    return [
        KitLink(
            id=k.id,
            name=k.name,
            kind=k.kind,
            size=k.size,
            sha256=k.sha256,
            os=k.os,
            arch=k.arch,
            url=_link(request, access, k, expires) if entitled else None,
        )
        for k in release.kits
    ]


def _platform_advice(
    request: web.Request,
    access: SubscriberAccess,
    platform: PlatformCatalogue,
    current: Version,
    required: Version | None,
    body: PlanRequest,
    expires: int,
) -> PlatformAdvice:
    recommended = platform.newest()
    needed = required is not None and current < required
    release: PublishedRelease | None = None
    if needed and required is not None:
        # The recommended release if it suffices, else the oldest one that does.
        release = recommended if recommended and recommended.version >= required else platform.at_least(required)
    kits: list[KitLink] = []
    if release is not None:
        entitled = access.download_any().allowed
        kits = [
            k
            for k in _kits(request, access, release, entitled, expires)
            if (body.os is None or k.os in (None, body.os)) and (body.arch is None or k.arch in (None, body.arch))
        ]
    return PlatformAdvice(
        current=str(current),
        required=str(required) if required else None,
        update_needed=needed,
        recommended=str(recommended.version) if recommended else None,
        release=str(release.version) if release else None,
        kits=kits,
    )


@routes.post(
    "/v1/update-plan",
    summary="UPD-5: the shortest chain of releases from my version to the newest (or a target), with kits",
    body=PlanRequest,
    response=UpdatePlan,
    auth=True,
    tags=("client programs",),
    errors=(403, 422),
)
async def update_plan(request: web.Request, caller: Caller, body: PlanRequest) -> UpdatePlan:
    access = await subscriber_access(request, caller)
    await access.require_visible(body.configuration)  # UPD-3: no plan for a configuration you don't hold
    catalogues = request.app[CATALOGUES]
    catalogue = await catalogues.configuration(body.configuration)
    current = Version.parse(body.version)
    target = Version.parse(body.target) if body.target else None
    result = catalogue.graph.plan(current, target, allow_prerelease=body.allow_prerelease)
    if not isinstance(result, Chain):
        raise NoUpdateChain(
            result.detail,
            reason=result.reason,
            reachable=[str(v) for v in result.reachable],
            newest_reachable=str(result.newest_reachable) if result.newest_reachable else None,
        )
    settings = request.app[SETTINGS]
    expires = int(access.now.timestamp()) + settings.download_link_seconds
    steps: list[Step] = []
    required: Version | None = None
    decision = access.download(body.configuration)
    for from_version, record in result.steps:
        release = catalogue.releases[record.version]  # the graph was built from these very releases
        # Only Keygen's rule (keep_covered_releases) depends on the release's date; else one decision serves all.
        step_decision = (
            access.download(body.configuration, release.published_at) if access.keep_covered_releases else decision
        )
        if release.min_platform is not None and (required is None or release.min_platform > required):
            required = release.min_platform
        steps.append(
            Step(
                version=release.version_text,
                from_version=str(from_version),
                release_date=release.release_date,
                min_platform=str(release.min_platform) if release.min_platform else None,
                prerelease=release.prerelease,
                page=f"/v1/configurations/{body.configuration}/releases/{release.version_text}",
                entitled=step_decision.allowed,
                kits=_kits(request, access, release, step_decision.allowed, expires),
            )
        )
    platform = _platform_advice(
        request, access, await catalogues.platform(), Version.parse(body.platform_version), required, body, expires
    )
    offer = None if decision.allowed else await access.offer(body.configuration, decision)
    return UpdatePlan(
        configuration=body.configuration,
        current=str(current),
        target=str(result.target),
        up_to_date=not steps,
        steps=steps,
        platform=platform,
        total_size=sum(k.size for s in steps for k in s.kits if _chosen(k)) + sum(k.size for k in platform.kits),
        support_end=access.support_end(body.configuration),
        download=_status(decision, offer),
        link_expires_at=datetime.fromtimestamp(expires, UTC),
    )


def _chosen(kit: KitLink) -> bool:
    """What a client downloads for a step: the update package (the full kit is for new installations)."""
    return kit.kind in ("update", "other")


def _status(decision: Decision, offer: Offer | None) -> DownloadStatus:
    return DownloadStatus(allowed=decision.allowed, reason=decision.reason, detail=decision.detail, offer=offer)


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


@routes.get(
    "/v1/kits/{kit_id}/download",
    summary="UPD-4: a short-lived signed link to the kit (303; `Prefer: no-redirect` answers it as JSON, 200)",
    auth=True,
    params=KitPath,
    headers=(
        Header("Prefer", {"type": "string", "maxLength": 200}, description="`no-redirect`: the link as JSON (200)"),
    ),
    response=SignedLink,
    responses={
        303: {
            "description": "See the signed link (valid 10 minutes)",
            "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
        }
    },
    tags=("downloads",),
    errors=(402, 403, 404),
)
async def download_kit(request: web.Request, caller: Caller, params: KitPath) -> web.StreamResponse | SignedLink:
    access = await subscriber_access(request, caller)
    kit_id = params.kit_id
    async with request.app[POOL].acquire() as conn:
        row = await conn.fetchrow(
            "SELECT k.id, k.name, k.kind, k.size, k.sha256, k.os, k.arch, r.configuration, r.published_at "
            "FROM kits k JOIN releases r ON r.id = k.release_id WHERE k.id = $1 AND r.state = 'published'",
            kit_id,
        )
    if row is None:
        raise KitNotFound("no published kit has this id")
    configuration: str | None = row["configuration"]
    if configuration is not None:
        await access.require_visible(configuration)  # another subscriber's configuration: 403, not a link
    elif not access.any_visible:
        await access.require_download(None)
    await access.require_download(configuration, row["published_at"])
    settings = request.app[SETTINGS]
    expires = int(access.now.timestamp()) + settings.download_link_seconds
    kit = Kit(id=row["id"], name=row["name"], kind=row["kind"], size=row["size"], sha256=row["sha256"])
    link = SignedLink(
        url=_link(request, access, kit, expires),
        expires_at=datetime.fromtimestamp(expires, UTC),
        name=kit.name,
        size=kit.size,
        sha256=kit.sha256,
    )
    if "no-redirect" in request.headers.get("Prefer", "").lower():
        return link
    return web.Response(status=303, headers={"Location": link.url, "Cache-Control": "no-store"})


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


@routes.get(
    "/v1/entitlements",
    summary="UPD-3, UPD-4: the subscriber's configurations, and whether this user may download their kits",
    response=Entitlements,
    auth=True,
    tags=("downloads",),
)
async def entitlements(request: web.Request, caller: Caller) -> Entitlements:
    access = await subscriber_access(request, caller)
    items = []
    for configuration in sorted(access.holdings):
        decision = access.download(configuration)
        items.append(
            ConfigurationEntitlement(
                configuration=configuration,
                visible=access.visible(configuration),
                download=_status(decision, None if decision.allowed else await access.offer(configuration, decision)),
                support_end=access.support_end(configuration),
                products=[
                    HeldProduct(
                        registration_number=h.registration_number,
                        product_name=h.product_name,
                        edition=h.edition,
                        active_from=h.active_from,
                    )
                    for h in access.holdings[configuration]
                ],
            )
        )
    return Entitlements(subscriber_code=access.subscriber.code, items=items)
