"""What the its-client e2e tests share: the client pointed at the e2e stack's services (no gateway: each service's own
address, `Routes.per_service`), and releases published with kits large enough for a download to be interrupted."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from its_client import ItsClient, Routes

from tests.e2e.test_updates_flow import Updates
from tests.infra import ServiceProcess

MB = 1_000_000


def client_for(services: dict[str, ServiceProcess], config_dir: Path, root: bytes | None = None) -> ItsClient:
    """The client as a program would hold it, its login kept under `config_dir`; `root`: the root of the signed update
    metadata it ships with (tests/e2e/flows.py `signed_metadata`)."""
    routes = Routes.per_service(
        identity=services["identity"].url,
        registration=services["registration"].url,
        contracts=services["contracts"].url,
        updates=services["updates"].url,
        support=services["support"].url,
    )
    return ItsClient(routes=routes, config_dir=config_dir, trusted_root=root)


async def publish(
    updates: Updates,
    operator: str,
    configuration: str,
    version: str,
    updates_from: list[str],
    *,
    min_platform: str = "8.3.24.1342",
    update_size: int = 200_000,
) -> dict[str, bytes]:
    """A configuration release (UPD-1) with an update package of `update_size` bytes and a full kit, published."""
    stem = f"{configuration}_{version.replace('.', '_')}"
    kits = {f"{stem}.cfu": os.urandom(update_size), f"{stem}_setup.zip": os.urandom(50_000)}
    draft = await updates.call(
        "PUT",
        f"/v1/configurations/{configuration}/releases/{version}",
        operator,
        json={
            "release_date": "2026-11-20",
            "its_issue": "ITS 2026/11",
            "prerelease": False,
            "whats_new": f"**{version}**",
            "changes": "- closing of the month",
            "major_changes": [],
            "update_procedure": "Apply the `.cfu` package.",
            "min_platform": min_platform,
            "updates_from": updates_from,
            "kits": [
                {
                    "name": name,
                    "kind": "update" if name.endswith(".cfu") else "full",
                    "size": len(content),
                    "sha256": hashlib.sha256(content).hexdigest(),
                }
                for name, content in kits.items()
            ],
        },
    )
    assert draft.status in (200, 201), draft.body
    release_id = str(draft.body["id"])
    for name, content in kits.items():
        uploaded = await updates.call(
            "PUT",
            f"/v1/releases/{release_id}/kits/{name}/content",
            operator,
            data=io.BytesIO(content),  # streamed: megabytes as one bytes body would hold the event loop
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(content))},
        )
        assert uploaded.status in (200, 201), uploaded.body
    published = await updates.call("POST", f"/v1/releases/{release_id}/publish", operator)
    assert published.status == 200, published.body
    return kits


def files_under(directory: Path) -> dict[str, bytes]:
    """Every file under `directory`, by its path relative to it (POSIX)."""
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}
