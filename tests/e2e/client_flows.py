"""What the its-client e2e tests share: the client pointed at the e2e stack's services (no gateway: each service's own
address, `Routes.per_service`); releases are published with `Updates.release`, its update package large enough
for a download to be interrupted where a test needs one."""

from __future__ import annotations

from pathlib import Path

from its_client import ItsClient, Routes

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


def files_under(directory: Path) -> dict[str, bytes]:
    """Every file under `directory`, by its path relative to it (POSIX)."""
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}
