"""The gateway (deploy/nginx/gateway.conf) on a developer's machine and in tests: nginx's own master process,
with its prefix, configuration, logs and a self-signed certificate under one directory — no root paths, no
system nginx touched.

`render(...)` is the shipped file with its SITE values (see the file) replaced, so that what runs locally is
what is deployed. `python -m devtools.gateway run` is what `make run` starts: it renders the configuration
for the local stack under var/gateway/, runs nginx in the foreground and stops it on SIGTERM/SIGINT.

`ITS_GATEWAY_PORT` (8443) is the HTTPS port, `ITS_GATEWAY_HTTP_PORT` (8088) the redirecting plain one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devtools import foreground

ROOT = Path(__file__).resolve().parent.parent
GATEWAY_CONF = ROOT / "deploy" / "nginx" / "gateway.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HTTPS_PORT = 8443
HTTP_PORT = 8088

# The shipped upstream of each backend, as gateway.conf holds it ("server <this>;  # SITE <name>").
SHIPPED_UPSTREAMS = {
    "portal": "127.0.0.1:8080",
    "identity": "127.0.0.1:8101",
    "registration": "127.0.0.1:8102",
    "contracts": "127.0.0.1:8103",
    "updates": "127.0.0.1:8104",
    "notifications": "127.0.0.1:8105",
    "support": "127.0.0.1:8106",
}


@dataclass(frozen=True)
class Site:
    """The values a site sets in gateway.conf, here for a local copy."""

    https_port: int
    http_port: int
    cert: Path
    key: Path
    kits_dir: Path
    log_dir: Path
    # name → host:port, or the host:port of each replica: one `server` line each in the backend's upstream.
    upstreams: Mapping[str, str | Sequence[str]] = field(default_factory=lambda: dict(SHIPPED_UPSTREAMS))
    # The cache of the signed update metadata (/tuf/); default: beside the logs.
    cache_dir: Path | None = None


def render(site: Site) -> str:
    """deploy/nginx/gateway.conf for `site`, listening on 127.0.0.1 only. Raises if a value to replace is no
    longer in the file exactly once (the file changed: the rendering must follow)."""
    text = GATEWAY_CONF.read_text()
    kits = site.kits_dir.resolve()
    cache = site.cache_dir or site.log_dir / "tuf-cache"
    replacements = [
        ("    listen 80;  # SITE http\n", f"    listen 127.0.0.1:{site.http_port};\n"),
        ("    listen 443 ssl http2;  # SITE https\n", f"    listen 127.0.0.1:{site.https_port} ssl http2;\n"),
        (
            "return 301 https://$host$request_uri;  # SITE redirect",
            f"return 301 https://$host:{site.https_port}$request_uri;",
        ),
        ("/etc/ssl/its/fullchain.pem;  # SITE certificate", f"{site.cert.resolve()};"),
        ("/etc/ssl/its/privkey.pem;  # SITE key", f"{site.key.resolve()};"),
        ("alias /var/lib/its/kits/$dl_ab/$dl_cd/$dl_sha256;  # SITE kits", f"alias {kits}/$dl_ab/$dl_cd/$dl_sha256;"),
        ("root /var/www/acme;  # SITE acme", f"root {site.log_dir.resolve()}/acme;"),
        ("proxy_cache_path /var/cache/nginx/its-tuf ", f"proxy_cache_path {cache.resolve()} "),
        ("use_temp_path=off;  # SITE tuf-cache\n", "use_temp_path=off;\n"),
    ]
    for name, shipped in SHIPPED_UPSTREAMS.items():
        upstream = site.upstreams.get(name, shipped)
        servers = "".join(f"server {address};\n    " for address in _addresses(upstream)).rstrip(" ")
        replacements.append((f"server {shipped};  # SITE {name}\n", servers))
    for shipped, local in replacements:
        if text.count(shipped) != 1:
            raise ValueError(f"{GATEWAY_CONF} should hold {shipped.strip()!r} exactly once")
        text = text.replace(shipped, local)
    log = "access_log /var/log/nginx/its-gateway.log"
    if log not in text:
        raise ValueError(f"{GATEWAY_CONF} should hold {log!r}")
    return text.replace(log, f"access_log {site.log_dir.resolve() / 'access.log'}")


def _addresses(upstream: str | Sequence[str]) -> list[str]:
    return [upstream] if isinstance(upstream, str) else list(upstream)


def main_conf(directory: Path, site_text: str) -> Path:
    """Write nginx.conf (and site.conf) under `directory`, every path in it under `directory`; return it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "site.conf").write_text(site_text)
    conf = directory / "nginx.conf"
    conf.write_text(conf_text(directory))
    return conf


def conf_text(directory: Path, *, workers: int = 1, worker_connections: int = 1024, access_log: bool = True) -> str:
    """An nginx.conf around `directory`/site.conf, its pid, logs and temporary files under `directory` (the
    gateway's, and the tests' nginx peers')."""
    temp = {name: directory / "temp" / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(parents=True, exist_ok=True)
    # As root (a container), workers would run as `nobody`, who cannot read a private directory.
    user = "user root root;" if os.geteuid() == 0 else ""
    return f"""
{user}
worker_processes {workers};
daemon off;
master_process on;
pid {directory / "nginx.pid"};
error_log {directory / "error.log"} warn;
events {{ worker_connections {worker_connections}; }}
http {{
{"" if access_log else "    access_log off;"}
    client_body_temp_path {temp["client_body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    default_type application/octet-stream;
    include {directory / "site.conf"};
}}
"""


def check(conf: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` of a configuration written by main_conf."""
    return subprocess.run(
        [NGINX, "-t", "-q", "-p", str(conf.parent), "-e", str(conf.parent / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def prepare(directory: Path, site: Site) -> Path:
    """Render and check the configuration under `directory`; return nginx.conf. Raises if nginx refuses it."""
    site.log_dir.mkdir(parents=True, exist_ok=True)
    conf = main_conf(directory, render(site))
    checked = check(conf)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t refused {conf}: {checked.stderr.strip()}")
    return conf


def spawn(conf: Path) -> subprocess.Popen[bytes]:
    """nginx's master in the foreground (daemon off), its output into the configuration's directory."""
    with (conf.parent / "stderr.log").open("ab") as log:
        return subprocess.Popen(
            [NGINX, "-p", str(conf.parent), "-e", str(conf.parent / "error.log"), "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def listening(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def local_site(
    var: Path, https_port: int, http_port: int, upstreams: Mapping[str, Sequence[str]] | None = None
) -> tuple[Path, Site]:
    """The gateway of the local stack: (its directory, its site) under `var`; `upstreams` (name → the replicas'
    host:port) replaces the shipped ones it names."""
    from devtools.dev_cert import ensure_dev_cert  # cryptography: only here (the stack's `down` runs without it)

    directory = var / "gateway"
    cert, key = ensure_dev_cert(directory / "tls")
    kits = Path(os.environ.get("ITS_KITS_DIR") or var / "kits")
    kits.mkdir(parents=True, exist_ok=True)
    site = Site(
        https_port, http_port, cert, key, kits, var / "log" / "gateway", {**SHIPPED_UPSTREAMS, **(upstreams or {})}
    )
    return directory, site


def run(var: Path, https_port: int, http_port: int, upstreams: Mapping[str, Sequence[str]]) -> int:
    """Run the local gateway until SIGTERM or SIGINT; nginx stops gracefully (SIGQUIT) with this process."""
    directory, site = local_site(var, https_port, http_port, upstreams)
    nginx = spawn(prepare(directory, site))
    print(f"gateway: https://127.0.0.1:{https_port}/ (nginx pid {nginx.pid}, logs {site.log_dir})", flush=True)
    return foreground.wait_stopping_with(nginx, signal.SIGQUIT)


def wait_listening(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listening(port):
            return True
        time.sleep(0.05)
    return False


def stop(nginx: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Graceful (SIGQUIT: workers finish their requests), killed after `timeout`."""
    if nginx.poll() is not None:
        return
    nginx.send_signal(signal.SIGQUIT)
    try:
        nginx.wait(timeout)
    except subprocess.TimeoutExpired:
        nginx.kill()
        nginx.wait(5)


@contextlib.asynccontextmanager
async def running(directory: Path, site: Site) -> AsyncIterator[str]:
    """The gateway for `site` under `directory` while the block runs (tests); yields its https URL."""
    nginx = spawn(await asyncio.to_thread(prepare, directory, site))
    try:
        if not await asyncio.to_thread(wait_listening, site.https_port):
            raise TimeoutError(f"nginx not listening on {site.https_port}: see {directory / 'error.log'}")
        yield f"https://127.0.0.1:{site.https_port}"
    finally:
        await asyncio.to_thread(stop, nginx)


def available() -> bool:
    """nginx is installed (the local stack then starts the gateway)."""
    return Path(NGINX).is_file() and os.access(NGINX, os.X_OK)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.gateway", description=__doc__)
    parser.add_argument("command", choices=["run", "render"])
    parser.add_argument(
        "--upstream", action="append", default=[], metavar="NAME=HOST:PORT", help="a replica of a backend (repeatable)"
    )
    args = parser.parse_args(argv)
    upstreams: dict[str, list[str]] = {}
    for upstream in args.upstream:
        name, address = upstream.split("=", 1)
        upstreams.setdefault(name, []).append(address)
    var = Path(os.environ.get("ITS_VAR_DIR") or ROOT / "var").resolve()
    https_port = int(os.environ.get("ITS_GATEWAY_PORT") or HTTPS_PORT)
    http_port = int(os.environ.get("ITS_GATEWAY_HTTP_PORT") or HTTP_PORT)
    if args.command == "render":  # print the local configuration, e.g. to read or diff it
        print(render(local_site(var, https_port, http_port, upstreams)[1]), end="")
        return
    sys.exit(run(var, https_port, http_port, upstreams))


if __name__ == "__main__":
    main()
