"""The stack a browser sees: the portal as a process behind TLS, and the gateway (deploy/nginx/gateway.conf with a
self-signed certificate) in front of it and the services. Import the fixtures into a browser test module:

    from tests.e2e.browser_stack import portal_fixture, site_fixture  # noqa: F401  (fixtures `portal`, `site`)
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from devtools.dev_cert import ensure_dev_cert
from devtools.gateway import Site, running
from tests.infra import ROOT, ServiceProcess, TestStack, free_port


@pytest.fixture(name="portal", scope="module")
async def portal_fixture(
    migrated: TestStack, smtp_sink: int, services: dict[str, ServiceProcess]
) -> AsyncIterator[ServiceProcess]:
    """The portal as a process behind the gateway, which it trusts: the client's address, and https (X-Forwarded-Proto)
    for the `__Host-` Secure session cookie."""
    env = migrated.env(
        ITS_SMTP_PORT=str(smtp_sink),
        ITS_TRUSTED_PROXIES="127.0.0.1",  # the gateway
        **{f"ITS_{name.upper()}_URL": process.url for name, process in services.items()},
    )
    migrate = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.portal", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    process = ServiceProcess("portal", env, free_port(), migrated.var_dir / "log" / "portal.log")
    try:
        await process.start()
        yield process
    finally:
        await process.stop()


@pytest.fixture(name="site", scope="module")
async def site_fixture(
    services: dict[str, ServiceProcess],
    portal: ServiceProcess,
    tmp_path_factory: pytest.TempPathFactory,
    gateway_port: int,
) -> AsyncIterator[str]:
    """The gateway in front of them: its https URL, the services' public address (ITS_PUBLIC_URL)."""
    directory = tmp_path_factory.mktemp("browser-gateway")
    cert, key = ensure_dev_cert(directory / "tls")
    upstreams = {name: f"127.0.0.1:{process.port}" for name, process in [*services.items(), ("portal", portal)]}
    site = Site(gateway_port, free_port(), cert, key, directory / "kits", directory / "log", upstreams)
    async with running(directory / "nginx", site) as url:
        yield url
