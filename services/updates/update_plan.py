"""Update plans for client programs (UPD-5): the shortest chain of releases from the installed version to the
newest (or a target), each step's kits with signed links where this user may download them (UPD-4), and the
platform release the chain needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rules.refusal import Refusal, Refused
from services.updates.access import SubscriberAccess
from services.updates.api_models import DownloadStatus, KitLink, PlatformAdvice, Step, UpdatePlan
from services.updates.downloads import LinkSigner, download_status
from services.updates.graphs import Catalogues, PlatformCatalogue, PublishedRelease
from services.updates.plan import Chain
from services.updates.versions import Version


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


async def plan_update(catalogues: Catalogues, access: SubscriberAccess, signer: LinkSigner, ask: PlanAsk) -> UpdatePlan:
    """Refused (NotHeld) for a configuration the subscriber does not hold (UPD-3), (no-update-chain) when no
    chain of releases leads to the target."""
    await access.require_visible(ask.configuration)  # UPD-3: no plan for a configuration you don't hold
    catalogue = await catalogues.configuration(ask.configuration)
    current = Version.parse(ask.version)
    target = Version.parse(ask.target) if ask.target else None
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
    expires = signer.expires(access)
    steps: list[Step] = []
    required: Version | None = None
    decision = access.download(ask.configuration)
    for from_version, record in result.steps:
        release = catalogue.releases[record.version]  # the graph was built from these very releases
        # Only Keygen's rule (keep_covered_releases) depends on the release's date; else one decision serves all.
        step_decision = (
            access.download(ask.configuration, release.published_at) if access.keep_covered_releases else decision
        )
        if release.min_platform is not None and (required is None or release.min_platform > required):
            required = release.min_platform
        # Built without validation (model_construct): every value comes typed from the catalogue, and a plan
        # holds dozens of steps and kits; the answer is serialised by the same models, as documented.
        steps.append(
            Step.model_construct(
                version=release.version_text,
                from_version=str(from_version),
                release_date=release.release_date,
                min_platform=str(release.min_platform) if release.min_platform else None,
                prerelease=release.prerelease,
                page=f"/v1/configurations/{ask.configuration}/releases/{release.version_text}",
                entitled=step_decision.allowed,
                kits=_kits(signer, access, release, step_decision.allowed, expires),
            )
        )
    platform = _platform_advice(
        signer, access, await catalogues.platform(), Version.parse(ask.platform_version), required, ask, expires
    )
    return UpdatePlan(
        configuration=ask.configuration,
        current=str(current),
        target=str(result.target),
        up_to_date=not steps,
        steps=steps,
        platform=platform,
        total_size=sum(k.size for s in steps for k in s.kits if _chosen(k)) + sum(k.size for k in platform.kits),
        support_end=access.support_end(ask.configuration),
        download=await download_status(access, ask.configuration, decision, DownloadStatus),
        link_expires_at=datetime.fromtimestamp(expires, UTC),
    )


def _chosen(kit: KitLink) -> bool:
    """What a client downloads for a step: the update package (the full kit is for new installations)."""
    return kit.kind in ("update", "other")


def _kits(
    signer: LinkSigner, access: SubscriberAccess, release: PublishedRelease, entitled: bool, expires: int
) -> list[KitLink]:
    return [
        KitLink.model_construct(
            **k.__dict__, url=signer.url(access, k.id, k.sha256, k.name, expires) if entitled else None
        )
        for k in release.kits
    ]


def _platform_advice(
    signer: LinkSigner,
    access: SubscriberAccess,
    platform: PlatformCatalogue,
    current: Version,
    required: Version | None,
    ask: PlanAsk,
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
            for k in _kits(signer, access, release, entitled, expires)
            if (ask.os is None or k.os in (None, ask.os)) and (ask.arch is None or k.arch in (None, ask.arch))
        ]
    return PlatformAdvice(
        current=str(current),
        required=str(required) if required else None,
        update_needed=needed,
        recommended=str(recommended.version) if recommended else None,
        release=str(release.version) if release else None,
        kits=kits,
    )
