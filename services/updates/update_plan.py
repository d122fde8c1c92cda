"""Update plans for client programs (UPD-5): the shortest chain of releases from the installed version to the
newest (or a target), each step's kits with signed links where this user may download them (UPD-4), and the
platform release the chain needs.

The chain and what its steps show are the catalogue's alone: worked out once per catalogue and question (`Route`,
kept on the catalogue, which is replaced whole when the catalogue changes). What is this user's (entitlement,
signed links, support end) is added on every request, and the answer is the `UpdatePlan` document, written
straight from plain values (an update plan is dozens of steps and kits, asked by every installed program)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rules.refusal import Refusal, Refused
from services.updates.access import SubscriberAccess
from services.updates.api_models import DownloadStatus
from services.updates.downloads import LinkSigner, Sign, download_status
from services.updates.graph_store import GraphKit
from services.updates.graphs import Catalogues, ConfigurationCatalogue, PlatformCatalogue, PublishedRelease
from services.updates.plan import Chain
from services.updates.versions import Version, asked_version

ROUTES_KEPT = 4_096  # per catalogue: the versions programs ask from are few (those in use); beyond it, start again


@dataclass(frozen=True)
class PlanAsk:
    """What the client program has and wants (versions in canonical text)."""

    configuration: str
    version: str
    platform_version: str
    target: str | None = None
    allow_prerelease: bool = False
    os: str | None = None
    arch: str | None = None


@dataclass(frozen=True)
class RouteStep:
    release: PublishedRelease
    fields: dict[str, Any]  # the step's fields in the answer, but for `entitled` and `kits`
    kits: tuple[dict[str, Any], ...]  # each kit's fields, but for `url`


@dataclass(frozen=True)
class Route:
    """A chain of releases and what its steps show, from the catalogue alone."""

    current: str
    target: str
    steps: tuple[RouteStep, ...]
    required: Version | None  # the highest minimum platform along the chain


async def plan_update(
    catalogues: Catalogues, access: SubscriberAccess, signer: LinkSigner, ask: PlanAsk
) -> dict[str, Any]:
    """The UpdatePlan document. Refused (NotHeld) for a configuration the subscriber does not hold (UPD-3),
    (no-update-chain) when no chain of releases leads to the target."""
    await access.require_visible(ask.configuration)  # UPD-3: no plan for a configuration you don't hold
    catalogue = await catalogues.configuration(ask.configuration)
    route = _route(catalogue, asked_version(ask.version), asked_version(ask.target) if ask.target else None, ask)
    expires = signer.expires(access)
    sign = signer.signing(access, expires)
    decision = access.download(ask.configuration)
    steps: list[dict[str, Any]] = []
    total_size = 0
    for step in route.steps:
        # Only Keygen's rule (keep_covered_releases) depends on the release's date; else one decision serves all.
        entitled = (
            access.download(ask.configuration, step.release.published_at) if access.keep_covered_releases else decision
        ).allowed
        kits = _kits(sign, step.release.kits, step.kits, entitled)
        total_size += sum(kit["size"] for kit in kits if _chosen(kit))
        steps.append({**step.fields, "entitled": entitled, "kits": kits})
    platform = _platform_advice(
        sign, access, await catalogues.platform(), asked_version(ask.platform_version), route.required, ask
    )
    return {
        "configuration": ask.configuration,
        "current": route.current,
        "target": route.target,
        "up_to_date": not steps,
        "steps": steps,
        "platform": platform,
        "total_size": total_size + sum(kit["size"] for kit in platform["kits"]),
        "support_end": access.support_end(ask.configuration),
        "download": (await download_status(access, ask.configuration, decision, DownloadStatus)).model_dump(
            mode="json"
        ),
        "link_expires_at": datetime.fromtimestamp(expires, UTC),
    }


def _route(catalogue: ConfigurationCatalogue, current: Version, target: Version | None, ask: PlanAsk) -> Route:
    key = (current, target, ask.allow_prerelease)
    route = catalogue.routes.get(key)
    if route is None:
        if len(catalogue.routes) >= ROUTES_KEPT:
            catalogue.routes.clear()
        route = catalogue.routes[key] = _worked_out(catalogue, current, target, ask)
    return route


def _worked_out(catalogue: ConfigurationCatalogue, current: Version, target: Version | None, ask: PlanAsk) -> Route:
    result = catalogue.graph.plan(current, target, allow_prerelease=ask.allow_prerelease)
    if not isinstance(result, Chain):
        raise Refused(
            Refusal(
                "no-update-chain",
                result.detail,
                "invalid",
                details={
                    "reason": result.reason,
                    "reachable": [str(v) for v in result.reachable],
                    "newest_reachable": str(result.newest_reachable) if result.newest_reachable else None,
                },
            )
        )
    steps: list[RouteStep] = []
    required: Version | None = None
    for from_version, record in result.steps:
        release = catalogue.releases[record.version]  # the graph was built from these very releases
        if release.min_platform is not None and (required is None or release.min_platform > required):
            required = release.min_platform
        fields = {
            "version": release.version_text,
            "from_version": str(from_version),
            "release_date": release.release_date,
            "min_platform": str(release.min_platform) if release.min_platform else None,
            "prerelease": release.prerelease,
            "page": f"/v1/configurations/{ask.configuration}/releases/{release.version_text}",
        }
        steps.append(RouteStep(release, fields, tuple(_kit_fields(kit) for kit in release.kits)))
    return Route(str(current), str(result.target), tuple(steps), required)


def _kit_fields(kit: GraphKit) -> dict[str, Any]:
    return kit.model_dump(mode="json")


def _chosen(kit: dict[str, Any]) -> bool:
    """What a client downloads for a step: the update package (the full kit is for new installations)."""
    return kit["kind"] in ("update", "other")


def _kits(
    sign: Sign, kits: tuple[GraphKit, ...], fields: tuple[dict[str, Any], ...], entitled: bool
) -> list[dict[str, Any]]:
    return [
        {**shown, "url": sign(kit.id, kit.sha256, kit.name) if entitled else None}
        for kit, shown in zip(kits, fields, strict=True)
    ]


def _platform_kits(
    platform: PlatformCatalogue, release: PublishedRelease, ask: PlanAsk
) -> tuple[tuple[GraphKit, ...], tuple[dict[str, Any], ...]]:
    """The release's kits for the asking program's system and what plans show of each, from the catalogue alone:
    worked out once per release and system, kept on the catalogue."""
    key = (release.version, ask.os, ask.arch)
    shown = platform.shown_kits.get(key)
    if shown is None:
        if len(platform.shown_kits) >= ROUTES_KEPT:
            platform.shown_kits.clear()
        mine = tuple(
            k
            for k in release.kits
            if (ask.os is None or k.os in (None, ask.os)) and (ask.arch is None or k.arch in (None, ask.arch))
        )
        shown = platform.shown_kits[key] = (mine, tuple(_kit_fields(k) for k in mine))
    return shown


def _platform_advice(
    sign: Sign,
    access: SubscriberAccess,
    platform: PlatformCatalogue,
    current: Version,
    required: Version | None,
    ask: PlanAsk,
) -> dict[str, Any]:
    """The PlatformAdvice document: the platform release the chain needs, if any, with its kits for the asking
    program's system."""
    recommended = platform.newest()
    needed = required is not None and current < required
    release: PublishedRelease | None = None
    if needed and required is not None:
        # The recommended release if it suffices, else the oldest one that does.
        release = recommended if recommended and recommended.version >= required else platform.at_least(required)
    kits: list[dict[str, Any]] = []
    if release is not None:
        mine, fields = _platform_kits(platform, release, ask)
        kits = _kits(sign, mine, fields, access.download_any().allowed)
    return {
        "current": str(current),
        "required": str(required) if required else None,
        "update_needed": needed,
        "recommended": str(recommended.version) if recommended else None,
        "release": str(release.version) if release else None,
        "kits": kits,
    }
