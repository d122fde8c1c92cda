"""The local stack: `python -m devtools.stack up|down|status` (what `make run`/`make stop` call).

`up`     creates the database if missing, migrates every service, starts the SMTP sink and every service in the
         background (logs in var/log/, pids in var/run/), waits until each is ready, loads demo data and prints
         the URLs. Running it again leaves running processes alone.
`down`   stops what `up` started, by the pids it recorded.
`status` tells what runs.

`ITS_STACK_SERVICES=identity` (comma-separated) limits the stack to some services;
`ITS_STACK_REPLICAS=2` (`make run REPLICAS=2`) starts that many processes of every service (devtools/replicas.py:
their names and ports), all in the gateway's upstream of each and scraped by Prometheus;
`ITS_VAR_DIR` moves var/; `ITS_SMTP_PORT` moves the mail sink from 1025.
Where nginx is installed, the gateway (deploy/nginx/gateway.conf, devtools/gateway.py) runs in front:
https://127.0.0.1:8443/ (`ITS_GATEWAY_PORT`; `ITS_STACK_GATEWAY=0` leaves it out).
Where Prometheus is installed, it scrapes every service and the broker's plugin (`ITS_RABBITMQ_PROMETHEUS`)
with deploy/prometheus/rules.yml loaded (devtools/prometheus.py): http://127.0.0.1:9090/ (`ITS_PROMETHEUS_PORT`;
`ITS_STACK_PROMETHEUS=0` leaves it out), its alerts going to Alertmanager (devtools/alertmanager.py,
http://127.0.0.1:9093/), which mails them to the sink.
`ITS_PUBLIC_URL`, the address every link the services give out starts with (e-mails, downloads), is the
gateway's, or without it the portal's (`public_url()`); set it to override.
The signed update metadata's keys (TUF) are made once under var/tuf/ (`itsctl tuf init`, one root key, threshold 1):
updates signs with var/tuf/online/ (ITS_TUF_KEYS_DIR), and the demo data installs var/tuf/metadata/'s roots.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from devtools import alertmanager, gateway, prometheus
from devtools import replicas as replicas_of
from devtools.database import admin_url, create_database, drop_database
from devtools.pids import is_alive, is_ours, read_pid, signal_group

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ["identity", "portal", "registration", "contracts", "updates", "support", "notifications"]  # in start order
SERVICE_PORTS = {
    "portal": 8080,
    "identity": 8101,
    "registration": 8102,
    "contracts": 8103,
    "updates": 8104,
    "notifications": 8105,
    "support": 8106,
}
# identity believes the X-Forwarded-For of the gateway and the portal, the portal the gateway's (all on this
# machine): logins are throttled per client address (shared.forwarded), and the portal's session cookie is
# `__Host-` and Secure when the gateway says the browser came over https (X-Forwarded-Proto).
LOCAL_PROXIES = "127.0.0.1,::1"
SERVICE_ENV = {
    "identity": {"ITS_TRUSTED_PROXIES": LOCAL_PROXIES},
    "portal": {"ITS_TRUSTED_PROXIES": LOCAL_PROXIES},
}
SINK_NAME = "smtp-sink"
GATEWAY_NAME = "gateway"
PROMETHEUS_NAME = "prometheus"
ALERTMANAGER_NAME = "alertmanager"
HOST = "127.0.0.1"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/its"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
MIGRATE_TIMEOUT = 300.0
LOG_TAIL_LINES = 40

# Where each log stood when this run started its process: its tail is shown from there.
_log_offsets: dict[str, int] = {}


@dataclass(frozen=True)
class Proc:
    """One background process of the stack."""

    name: str
    module: str
    port: int
    args: tuple[str, ...] = ()

    @property
    def is_service(self) -> bool:
        return self.name not in (SINK_NAME, GATEWAY_NAME, PROMETHEUS_NAME, ALERTMANAGER_NAME)

    @property
    def service(self) -> str:
        """The service a replica runs (`identity` for `identity-2`)."""
        return self.module.removeprefix("services.")

    @property
    def url(self) -> str:
        if self.name == GATEWAY_NAME:
            return f"https://{HOST}:{self.port}/"
        if self.name in (PROMETHEUS_NAME, ALERTMANAGER_NAME):
            return f"http://{HOST}:{self.port}/"
        return f"http://{HOST}:{self.port}/" if self.is_service else f"smtp://{HOST}:{self.port}"

    @property
    def argv(self) -> list[str]:
        return [sys.executable, "-m", self.module, *self.args]


@dataclass(frozen=True)
class Paths:
    var: Path

    @property
    def log(self) -> Path:
        return self.var / "log"

    @property
    def run(self) -> Path:
        return self.var / "run"

    @property
    def mail(self) -> Path:
        return self.var / "mail"

    @property
    def replicas(self) -> Path:
        return self.run / "replicas"

    @property
    def tuf(self) -> Path:
        return self.var / "tuf"

    def pid_file(self, proc: Proc) -> Path:
        return self.run / f"{proc.name}.pid"

    def log_file(self, proc: Proc) -> Path:
        return self.log / f"{proc.name}.log"


def var_dir() -> Path:
    configured = os.environ.get("ITS_VAR_DIR")
    return Path(configured).resolve() if configured else ROOT / "var"


def sink_port() -> int:
    return int(os.environ.get("ITS_SMTP_PORT") or 1025)


def services() -> list[str]:
    chosen = os.environ.get("ITS_STACK_SERVICES")
    if chosen is None:
        return list(SERVICES)
    names = [n.strip() for n in chosen.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SERVICES))
    if unknown:
        raise SystemExit(f"ITS_STACK_SERVICES: unknown {unknown}; known: {SERVICES}")
    return [n for n in SERVICES if n in names]


def replicas() -> int:
    return replicas_of.count(Paths(var_dir()).replicas)


def service_procs() -> list[Proc]:
    """Every replica of every service: replica 1 as `<service>` on its base port, replica n as `<service>-n`."""
    return [
        Proc(replicas_of.name(name, n), f"services.{name}", replicas_of.port(SERVICE_PORTS[name], n))
        for name in services()
        for n in range(1, replicas() + 1)
    ]


def processes() -> list[Proc]:
    port = sink_port()
    sink = Proc(SINK_NAME, "devtools.smtp_sink", port, ("--host", HOST, "--port", str(port)))
    procs = [sink, *service_procs()]
    if os.environ.get("ITS_STACK_GATEWAY", "1") != "0" and gateway.available():
        gateway_port = int(os.environ.get("ITS_GATEWAY_PORT") or gateway.HTTPS_PORT)
        upstreams = [arg for proc in service_procs() for arg in ("--upstream", f"{proc.service}={HOST}:{proc.port}")]
        procs.append(Proc(GATEWAY_NAME, "devtools.gateway", gateway_port, ("run", *upstreams)))
    if os.environ.get("ITS_STACK_PROMETHEUS", "1") != "0" and prometheus.available():
        args = [arg for proc in service_procs() for arg in ("--target", f"{proc.service}={HOST}:{proc.port}")]
        args += ["--broker", os.environ.get("ITS_RABBITMQ_PROMETHEUS") or f"{HOST}:{prometheus.BROKER_PORT}"]
        if alertmanager.available():
            alertmanager_port = int(os.environ.get("ITS_ALERTMANAGER_PORT") or alertmanager.PORT)
            procs.append(Proc(ALERTMANAGER_NAME, "devtools.alertmanager", alertmanager_port, ("run",)))
            args += ["--alertmanager", f"{HOST}:{alertmanager_port}"]
        prometheus_port = int(os.environ.get("ITS_PROMETHEUS_PORT") or prometheus.PORT)
        procs.append(Proc(PROMETHEUS_NAME, "devtools.prometheus", prometheus_port, ("run", *args)))
    return procs


def public_url() -> str:
    """The system's address as people reach it (ITS_PUBLIC_URL): the gateway when it runs, else the portal."""
    configured = os.environ.get("ITS_PUBLIC_URL")
    if configured:
        return configured
    for proc in processes():
        if proc.name == GATEWAY_NAME:
            return proc.url.rstrip("/")
    return f"http://{HOST}:{SERVICE_PORTS['portal']}"


def child_env(paths: Paths, port: int | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["ITS_VAR_DIR"] = str(paths.var)
    env.setdefault("ITS_TUF_KEYS_DIR", str(paths.tuf / "online"))  # updates' online keys (ensure_tuf_keys)
    env["ITS_PUBLIC_URL"] = public_url()
    env["ITS_SMTP_PORT"] = str(sink_port())
    env.setdefault("ITS_SMTP_HOST", HOST)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("OTEL_TRACES_EXPORTER", "otlp_json_file")  # var/traces/, for `itsctl trace` (shared/tracing.py)
    env.setdefault("OTEL_BSP_SCHEDULE_DELAY", "500")  # spans written 0.5 s after they end, not 5 s
    if port is not None:
        env["ITS_PORT"] = str(port)
    return env


# ------------------------------------------------------------------ processes


def running_pid(paths: Paths, proc: Proc) -> int | None:
    pid = read_pid(paths.pid_file(proc))
    return pid if pid is not None and is_ours(pid, proc) else None


def port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ready(port: int, path: str = "/readyz", timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=timeout) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def is_ready(proc: Proc) -> bool:
    return http_ready(proc.port) if proc.is_service else port_open(proc.port)


def log_tail(path: Path, offset: int = 0, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return "(no log)"
    text = data.decode(errors="replace").strip("\n").splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in text) or "    (log is empty)"


def start(paths: Paths, proc: Proc) -> int:
    """Start `proc` in its own session with output to its log; record and return its pid."""
    log = paths.log_file(proc)
    offset = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S%z')} starting {proc.name}\n".encode())
        out.flush()
        child = subprocess.Popen(
            proc.argv,
            cwd=ROOT,
            env={**child_env(paths, proc.port if proc.is_service else None), **SERVICE_ENV.get(proc.service, {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_file = paths.pid_file(proc)
    tmp = pid_file.with_suffix(".tmp")
    tmp.write_text(f"{child.pid}\n")
    os.replace(tmp, pid_file)
    _log_offsets[proc.name] = offset
    return child.pid


# ------------------------------------------------------------------- commands


def say(message: str = "") -> None:
    print(message, flush=True)


def run_step(title: str, argv: Sequence[str], env: dict[str, str], *, show_output: bool = False) -> None:
    """Run a one-shot command; on failure print its output and exit."""
    say(f"{title} ...")
    try:
        result = subprocess.run(
            list(argv),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=MIGRATE_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        raise SystemExit(f"{title}: timed out after {MIGRATE_TIMEOUT:.0f}s") from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr).rstrip()
        say(f"{title}: FAILED (exit {result.returncode}): {' '.join(argv)}")
        say(output)
        raise SystemExit(1)
    if show_output and result.stdout.strip():
        say("\n".join(f"    {line}" for line in result.stdout.rstrip().splitlines()))


def wait_ready(paths: Paths, started: dict[str, int]) -> None:
    """Wait until every process answers; exit with its log's tail if one dies or times out."""
    pending = {proc.name: proc for proc in processes()}
    deadline = time.monotonic() + READY_TIMEOUT
    while pending:
        for name, proc in list(pending.items()):
            if is_ready(proc):
                say(f"  {name}: ready")
                del pending[name]
                continue
            pid = started.get(name) or running_pid(paths, proc)
            if pid is None or not is_alive(pid):
                paths.pid_file(proc).unlink(missing_ok=True)
                log = paths.log_file(proc)
                say(f"  {name}: DIED during start; the end of {log}:")
                say(log_tail(log, _log_offsets.get(name, 0)))
                say("Stop the rest with `make stop`.")
                raise SystemExit(1)
        if pending and time.monotonic() > deadline:
            for name, proc in pending.items():
                log = paths.log_file(proc)
                what = "/readyz" if proc.is_service else "its port"
                say(f"  {name}: NOT READY ({what}) after {READY_TIMEOUT:.0f}s; the end of {log}:")
                say(log_tail(log, _log_offsets.get(name, 0)))
            say("Stop the stack with `make stop`.")
            raise SystemExit(1)
        if pending:
            time.sleep(0.3)


def up() -> None:
    paths = Paths(var_dir())
    for directory in (paths.var, paths.log, paths.run, paths.mail):
        directory.mkdir(parents=True, exist_ok=True)
    record_replicas(paths)
    env = child_env(paths)

    database_url = os.environ.get("ITS_DATABASE_URL") or DEFAULT_DATABASE_URL
    created = asyncio.run(create_database(database_url))
    say(f"database {admin_url(database_url)[1]}: {'created' if created else 'exists'}")

    for name in services():
        run_step(f"migrate {name}", [sys.executable, "-m", f"services.{name}", "migrate"], env)
    ensure_tuf_keys(paths)

    to_start: list[Proc] = []
    for proc in processes():
        pid = running_pid(paths, proc)
        if pid is not None:
            say(f"{proc.name}: already running (pid {pid})")
            continue
        paths.pid_file(proc).unlink(missing_ok=True)  # stale
        if port_open(proc.port):
            raise SystemExit(
                f"{proc.name}: port {proc.port} is taken by a process this stack did not "
                f"start (find it with `ss -ltnp 'sport = :{proc.port}'`)"
            )
        to_start.append(proc)
    started: dict[str, int] = {}
    for proc in to_start:
        started[proc.name] = start(paths, proc)
        say(f"{proc.name}: started (pid {started[proc.name]}), log {paths.log_file(proc)}")

    say("waiting until ready ...")
    wait_ready(paths, started)

    for name in services():
        if (ROOT / "devtools" / "demo" / f"{name}.py").is_file():
            run_step(f"demo data {name}", [sys.executable, "-m", f"devtools.demo.{name}"], env, show_output=True)

    say()
    say("The ITS Portal runs:")
    for proc in processes():
        if proc.name == GATEWAY_NAME:
            say(f"  {proc.name:<15} {proc.url}   (self-signed certificate: {paths.var}/gateway/tls/cert.pem)")
        elif proc.name == PROMETHEUS_NAME:
            say(f"  {proc.name:<15} {proc.url}   (every service's /metrics, deploy/prometheus/rules.yml's alerts)")
        elif proc.name == ALERTMANAGER_NAME:
            say(f"  {proc.name:<15} {proc.url}   (the alerts, e-mailed through the SMTP sink)")
        elif proc.service == "portal":
            say(f"  {proc.name:<15} {proc.url}   (in a browser: sign up, or log in as demo / demo-password-2026)")
        elif proc.is_service:
            say(f"  {proc.name:<15} {proc.url}   (API: {proc.url}openapi.json)")
        else:
            say(f"  {proc.name:<15} {proc.url}   (mail kept in {paths.mail}/)")
    say(f"  logs           {paths.log}/")
    say()
    say("  itsctl mail list          the mail sent so far   (.venv/bin/itsctl or python -m itsctl)")
    say("  itsctl clock advance 1d   move the test clock")
    say("  itsctl trace last --path /v1/contracts   the newest request's trace (spans in var/traces/)")
    say("  make status · make stop")


def ensure_tuf_keys(paths: Paths) -> None:
    """The local stack's TUF keys and first root, made once (one root key, threshold 1: production has 2 or more, on
    separate tokens); updates reads var/tuf/online/, the demo data installs var/tuf/metadata/'s roots."""
    from itsctl.tuf_root import KeyDirectory, init, now  # cryptography and tuf: `down` and `status` run without them

    keys = KeyDirectory(paths.tuf)
    if keys.roots():
        say(f"tuf keys: exist ({keys.path})")
        return
    init(keys, root_keys=1, threshold=1, expires=now() + timedelta(days=365))
    say(f"tuf keys: created ({keys.path}; root's key in {keys.root_keys}, offline in production)")


def stop_all(paths: Paths) -> None:
    targets: dict[str, int] = {}
    for proc in reversed(processes()):  # services first, the mail sink last
        pid_file = paths.pid_file(proc)
        pid = read_pid(pid_file)
        if pid is None or not is_ours(pid, proc):
            if pid_file.exists():
                say(f"{proc.name}: not running (stale pid file removed)")
                pid_file.unlink(missing_ok=True)
            continue
        targets[proc.name] = pid
        signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while any(is_alive(pid) for pid in targets.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for proc in reversed(processes()):
        pid = targets.get(proc.name)
        if pid is None:
            continue
        if is_alive(pid):
            signal_group(pid, signal.SIGKILL)
            say(f"{proc.name}: killed (pid {pid}) after {STOP_TIMEOUT:.0f}s")
        else:
            say(f"{proc.name}: stopped (pid {pid})")
        paths.pid_file(proc).unlink(missing_ok=True)
    if not targets:
        say("nothing was running")


def record_replicas(paths: Paths) -> None:
    """Remember how many replicas run, for `down` and `status`; refuse another number while the stack runs (the
    gateway's upstreams and the replicas already started would not follow)."""
    chosen, recorded = replicas(), replicas_of.recorded(paths.replicas)
    if recorded is not None and recorded != chosen:
        os.environ[replicas_of.ENV] = str(recorded)
        if any(running_pid(paths, proc) for proc in processes()):
            raise SystemExit(
                f"the stack runs with {recorded} replica(s): `make stop` first, then `make run REPLICAS=…`"
            )
        os.environ[replicas_of.ENV] = str(chosen)
    paths.replicas.write_text(f"{chosen}\n")


def down() -> None:
    paths = Paths(var_dir())
    recorded = replicas_of.recorded(paths.replicas)
    if recorded is not None and recorded > replicas():
        os.environ[replicas_of.ENV] = str(recorded)  # every replica `up` started, whatever the environment says now
    stop_all(paths)
    paths.replicas.unlink(missing_ok=True)


def clean() -> None:
    """Stop the stack and drop its database: its kits, roots and attachments are under var/, which goes next."""
    down()
    url = os.environ.get("ITS_DATABASE_URL") or DEFAULT_DATABASE_URL
    say(f"database {admin_url(url)[1]}: {'dropped' if asyncio.run(drop_database(url)) else 'none'}")


def status() -> None:
    paths = Paths(var_dir())
    for proc in processes():
        pid = running_pid(paths, proc)
        if pid is None:
            say(f"{proc.name:<15} stopped  pid -        {proc.url}")
        else:
            ready = "ready" if is_ready(proc) else "NOT READY"
            say(f"{proc.name:<15} running  pid {pid:<8} {proc.url}  ({ready})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.stack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "clean"])
    args = parser.parse_args(argv)
    {"up": up, "down": down, "status": status, "clean": clean}[args.command]()


if __name__ == "__main__":
    main()
