"""Alertmanager for the local stack: deploy/prometheus/alertmanager.yml with its mail going to the SMTP sink.

`python -m devtools.alertmanager run` is what `make run` starts where Alertmanager is installed (Debian's
`prometheus-alertmanager` package, which `make infra` installs): it writes var/alertmanager/alertmanager.yml (the
shipped file, its SITE smarthost the local sink) and runs Alertmanager in its foreground, alone (no cluster port),
until SIGTERM (devtools/foreground.py). `ITS_ALERTMANAGER_PORT` (9093); the sink's port is `ITS_SMTP_PORT` (1025).
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from devtools import foreground

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "deploy" / "prometheus" / "alertmanager.yml"
PORT = 9093
SMARTHOST = "  smtp_smarthost: 127.0.0.1:1025  # SITE smtp\n"


def binary() -> str | None:
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def available() -> bool:
    return binary() is not None


def render(smtp_port: int) -> str:
    """The shipped configuration, its mail sent to 127.0.0.1:`smtp_port`. Raises if the file no longer holds the
    SITE line to replace (it changed: the rendering must follow)."""
    text = SHIPPED.read_text()
    if text.count(SMARTHOST) != 1:
        raise ValueError(f"{SHIPPED} should hold {SMARTHOST.strip()!r} exactly once")
    return text.replace(SMARTHOST, f"  smtp_smarthost: 127.0.0.1:{smtp_port}\n")


def argv(directory: Path, port: int, host: str = "127.0.0.1") -> list[str]:
    alertmanager = binary()
    if alertmanager is None:
        raise FileNotFoundError("alertmanager is not installed (make infra installs Debian's package)")
    return [
        alertmanager,
        f"--config.file={directory / 'alertmanager.yml'}",
        f"--storage.path={directory / 'data'}",
        f"--web.listen-address={host}:{port}",
        "--cluster.listen-address=",  # one instance: no gossip port
    ]


def prepare(directory: Path, smtp_port: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "alertmanager.yml"
    path.write_text(render(smtp_port))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.alertmanager")
    parser.add_argument("command", choices=["run"])
    parser.parse_args()
    var = Path(os.environ.get("ITS_VAR_DIR") or ROOT / "var")
    directory = var / "alertmanager"
    prepare(directory, int(os.environ.get("ITS_SMTP_PORT") or 1025))
    port = int(os.environ.get("ITS_ALERTMANAGER_PORT") or PORT)
    command = argv(directory, port)
    print(f"alertmanager: http://127.0.0.1:{port}/ mailing through the SMTP sink", flush=True)
    raise SystemExit(foreground.run(command))


if __name__ == "__main__":
    main()
