"""What an update downloads (UPD-5): from the plan, the kits each step installs and the platform release's kits, each
with its target path (where it goes, and its name in the signed metadata); what the plan's refusal means (UPD-4);
and what was fetched."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from its_client.errors import PROBLEM_BASE, AccessRefused, ItsError, NotCovered
from its_client.models import Kit, UpdatePlan
from its_client.targets import target_path

KitProgress = Callable[[Kit, int, int | None], None]  # (kit, bytes so far, its size if known)


@dataclass(frozen=True)
class PlannedKit:
    kit: Kit
    target: str  # target_path(...): `configurations/<c>/<v>/<name>` or `platform/<v>/<name>`
    configuration: str | None  # None for the platform's
    version: str


@dataclass(frozen=True)
class FetchedKit:
    """A kit on disk, its sha256 checked against the plan's (and the server's headers and link)."""

    kit: Kit
    path: Path
    size: int
    sha256: str
    verified_by: list[str]  # "plan", "ETag", "Repr-Digest", "link"
    resumed_from: list[int] = field(default_factory=list)  # offsets an interrupted transfer resumed at
    already_there: bool = False  # the file was there already, with the right sha256: not downloaded again
    target: str = ""


@dataclass(frozen=True)
class UpdateResult:
    """The plan the update followed and every kit it put on disk, in the order to install them: the platform
    release's first (the chain needs it), then each step's."""

    plan: UpdatePlan
    kits: list[FetchedKit]

    @property
    def downloaded_bytes(self) -> int:
        return sum(k.size for k in self.kits if not k.already_there)


def planned_kits(plan: UpdatePlan, *, include_full: bool = False) -> list[PlannedKit]:
    """The platform release's kits (those for the asking system), then each step's update packages (and its full kits
    with `include_full`: those are for new installations, left out of the plan's `total_size` too)."""
    planned: list[PlannedKit] = []
    if plan.platform.release is not None:
        version = plan.platform.release
        planned += [PlannedKit(k, target_path(None, version, k.name), None, version) for k in plan.platform.kits]
    for step in plan.steps:
        for kit in step.kits:
            if kit.installs or include_full:
                target = target_path(plan.configuration, step.version, kit.name)
                planned.append(PlannedKit(kit, target, plan.configuration, step.version))
    return planned


def plan_refusal(plan: UpdatePlan, planned: list[PlannedKit]) -> ItsError | None:
    """UPD-4: when a kit to download has no link, the plan's refusal as the error a refused download raises: 402
    NotCovered (no ITS contract for the current month) or 403 AccessRefused, with the offer."""
    if all(p.kit.url is not None for p in planned):
        return None
    status = plan.download
    reason = status.reason or "download-refused"
    code = 402 if reason == "its-contract-required" else 403
    # The problem a refused kit download answers (GET /v1/kits/{id}/download), with the plan's words and offer.
    problem = {"type": PROBLEM_BASE + reason, "title": "You cannot download this kit", "status": code}
    body = {**problem, "detail": status.detail, **dict(plan.raw.get("download") or {})}
    if code == 402:
        return NotCovered(status.detail, offer=status.offer, body=body, **problem)
    return AccessRefused(status.detail, offer=status.offer, body=body, **problem)


def fresh_kit(plan: UpdatePlan, kit_id: str) -> Kit | None:
    """The same kit in a newer plan (with a new link)."""
    kits = [*plan.platform.kits, *(k for s in plan.steps for k in s.kits)]
    return next((k for k in kits if k.id == kit_id), None)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
