"""nginx (the Debian package) as a test peer and a benchmark reference: its own master process on a free port
with a throwaway configuration under a temporary directory — no root paths, no system nginx touched.

`updates_site(...)` is deploy/nginx/updates.conf with its site-specific values (the SITE lines) replaced,
so that the tests and the benchmark run the configuration that is shipped, not a copy of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from devtools import gateway
from tests.infra import ROOT

UPDATES_CONF = ROOT / "deploy" / "nginx" / "updates.conf"

# The shipped values that a site changes, as they appear in deploy/nginx/updates.conf.
SHIPPED_UPSTREAM = "    server 127.0.0.1:8104;\n"
SHIPPED_LISTEN = "    listen 8080;\n"
SHIPPED_KITS_DIR = "/var/lib/its/kits/"
SHIPPED_ACCESS_LOG = "access_log /var/log/nginx/its-updates.log"


def updates_site(*, port: int, upstream: str, kits_dir: Path, log_dir: Path) -> str:
    """deploy/nginx/updates.conf listening on 127.0.0.1:`port`, passing to `upstream` (host:port), serving
    kits from `kits_dir`. Raises if a value to replace is no longer there (the test must notice)."""
    text = UPDATES_CONF.read_text()
    for shipped, local in (
        (SHIPPED_UPSTREAM, f"    server {upstream};\n"),
        (SHIPPED_LISTEN, f"    listen 127.0.0.1:{port};\n"),
        (SHIPPED_KITS_DIR, f"{kits_dir.resolve()}/"),
        (SHIPPED_ACCESS_LOG, f"access_log {log_dir / 'access.log'}"),
    ):
        if text.count(shipped) != 1:
            raise AssertionError(f"{UPDATES_CONF} should hold {shipped.strip()!r} exactly once")
        text = text.replace(shipped, local)
    return text


def static_site(*, port: int, root: Path) -> str:
    """The reference: a plain static location with sendfile, as a distribution's default site serves files."""
    return f"""
server {{
    listen 127.0.0.1:{port};
    access_log off;
    location / {{
        root {root.resolve()};
        sendfile on;
        tcp_nopush on;
        default_type application/octet-stream;
    }}
}}
"""


def main_conf(directory: Path, site: str, *, workers: int = 1) -> str:
    """A whole nginx.conf around `site` (http-level text); every path under `directory` (the gateway's own
    nginx.conf, without access logs and with room for the benchmark's thousands of connections)."""
    (directory / "site.conf").write_text(site)
    return gateway.conf_text(directory, workers=workers, worker_connections=8192, access_log=False)


class Nginx:
    """An nginx master process of its own (foreground, `daemon off`), ready when its port answers."""

    def __init__(self, directory: Path, site: str, port: int, *, workers: int = 1) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory, self.port = directory, port
        self.conf = directory / "nginx.conf"
        self.conf.write_text(main_conf(directory, site, workers=workers))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def master_pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def start(self, timeout: float = 10.0) -> None:
        checked = await asyncio.to_thread(gateway.check, self.conf)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t refused {self.conf}: {checked.stderr}")
        self.process = gateway.spawn(self.conf)
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"nginx exited: {self.error_log()}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.url}/nginx-ready-probe") as response:
                        await response.read()
                        return  # any answer: it listens
                await asyncio.sleep(0.05)
        await self.stop()
        raise TimeoutError(f"nginx not ready in {timeout}s: {self.error_log()}")

    def error_log(self) -> str:
        with contextlib.suppress(FileNotFoundError):
            return (self.directory / "error.log").read_text(errors="replace")[-3000:]
        return "(no error log)"

    async def stop(self) -> None:
        if self.process is not None:
            await asyncio.to_thread(gateway.stop, self.process)  # graceful: workers finish, then the master exits


@contextlib.asynccontextmanager
async def running_nginx(directory: Path, site: str, port: int, *, workers: int = 1) -> AsyncIterator[Nginx]:
    nginx = Nginx(directory, site, port, workers=workers)
    await nginx.start()
    try:
        yield nginx
    finally:
        await nginx.stop()
