"""RabbitMQ nodes of a test's own, never the machine's broker on 5672 that everyone uses.

`RabbitNode` runs `rabbitmq-server` with its own node name (`its-fault-<n>@localhost`), AMQP and
distribution ports, config, data and log directories under the test's tmp dir, no plugins (streams and
quorum queues are built in since RabbitMQ 3.9), and the Erlang cookie the machine already has (a copy
in the nodes' own HOME, so `rabbitmqctl -n <node>` reaches them). It can be killed (`kill -9` of its
beam process), stopped and started (`stop_app`/`start_app`) and started again on the same data.
`rabbit_nodes()` starts several, joins them into one cluster if asked, and always stops them and
removes their directories at the end, even when the test fails. A run that could not (pytest killed for
a hang) leaves its nodes in a registry that the next run reads to end them.

On Debian `/usr/sbin/rabbitmq-server` is a wrapper that switches to the `rabbitmq` user and its fixed
directories; the real scripts in `/usr/lib/rabbitmq/bin` are used instead when they are there.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.infra import free_port

DEBIAN_SCRIPTS = Path("/usr/lib/rabbitmq/bin")
# Nodes running, by node name: the pytest process that owns them and their process group.
REGISTRY = Path(tempfile.gettempdir()) / "its-fault-rabbitmq"
MACHINE_COOKIE = Path("/var/lib/rabbitmq/.erlang.cookie")
BOOT_TIMEOUT = 90.0
CTL_TIMEOUT = 60.0
_numbers = itertools.count(1)


def script(name: str) -> str | None:
    """The path of a RabbitMQ script (`rabbitmq-server`, `rabbitmqctl`), or None if not installed."""
    debian = DEBIAN_SCRIPTS / name
    if debian.exists():
        return str(debian)
    return shutil.which(name)


def have_rabbitmq_server() -> bool:
    return script("rabbitmq-server") is not None and script("rabbitmqctl") is not None


def _prepare_home(base: Path) -> Path:
    """The nodes' HOME, with the machine's Erlang cookie if this user can read it, else a new one."""
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    cookie = home / ".erlang.cookie"
    try:
        value = MACHINE_COOKIE.read_text().strip()
    except OSError:
        value = secrets.token_hex(16).upper()
    cookie.write_text(value)
    cookie.chmod(0o400)
    return home


def _register(node: RabbitNode, pgid: int) -> None:
    REGISTRY.mkdir(exist_ok=True)
    (REGISTRY / f"{node.nodename}.json").write_text(json.dumps({"owner": os.getpid(), "pgid": pgid}))


def _unregister(node: RabbitNode) -> None:
    (REGISTRY / f"{node.nodename}.json").unlink(missing_ok=True)


def end_abandoned_nodes() -> None:
    """End the nodes of earlier runs whose pytest process is gone (killed before it could stop them)."""
    for entry in REGISTRY.glob("*.json") if REGISTRY.is_dir() else []:
        nodename = entry.name.removesuffix(".json")
        record = json.loads(entry.read_text())
        try:
            os.kill(record["owner"], 0)
            continue  # its run is still going
        except ProcessLookupError:
            pass
        try:  # the group is still that node's (its leader's environment names it), not a reused id
            environ = Path(f"/proc/{record['pgid']}/environ").read_bytes().split(b"\0")
            if f"RABBITMQ_NODENAME={nodename}".encode() in environ:
                os.killpg(record["pgid"], signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass
        entry.unlink(missing_ok=True)


class RabbitNode:
    """One RabbitMQ node on free ports, its files under `base/<name>`."""

    def __init__(self, name: str, base: Path, home: Path) -> None:
        self.name = name
        self.nodename = f"{name}@localhost"
        self.dir = base / name
        self.home = home
        self.port = free_port()
        self.dist_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def url_with(self, *, reconnect_interval: float) -> str:
        """The URL with aio-pika's connection option (seconds between reconnection attempts)."""
        return f"{self.url}?reconnect_interval={reconnect_interval}"

    @property
    def log_path(self) -> Path:
        return self.dir / "server.log"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(self.home),
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_CONFIG_FILE=str(self.dir / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.dir / "advanced.config"),
            # Our own (empty) env file, not /etc/rabbitmq/rabbitmq-env.conf with the machine node's name.
            RABBITMQ_CONF_ENV_FILE=str(self.dir / "rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.dir / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(self.dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.dir / "log"),
            RABBITMQ_PID_FILE=str(self.dir / "beam.pid"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        return env

    def _write_files(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            # A node of the test is small: no alarm because the test machine's disk or memory is shared.
            "disk_free_limit.absolute = 10MB\n"
            "vm_memory_high_watermark.relative = 0.8\n"
        )
        (self.dir / "rabbitmq-env.conf").write_text("")
        (self.dir / "enabled_plugins").write_text("[].\n")

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self, timeout: float = BOOT_TIMEOUT) -> None:
        """Start the node (again, on its data and ports, if it ran before) and wait until it serves."""
        server = script("rabbitmq-server")
        assert server is not None, "rabbitmq-server is not installed"
        self._write_files()
        (self.dir / "beam.pid").unlink(missing_ok=True)
        with self.log_path.open("ab") as log:
            # A session of its own: the node's process group is ours to end, whatever happens.
            self.process = subprocess.Popen(
                [server],
                env=self._env(),
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _register(self, self.process.pid)
        await self.await_startup(timeout)

    async def await_startup(self, timeout: float = BOOT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.nodename} exited while booting: {self.log_tail()}")
            try:
                await self.ctl("await_startup", "--timeout", "10", timeout=20)
                return
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.nodename} did not boot in {timeout}s: {self.log_tail()}") from None
                await asyncio.sleep(0.5)  # not registered with epmd yet

    async def ctl(self, *args: str, timeout: float = CTL_TIMEOUT) -> str:
        """`rabbitmqctl -n <this node> args…`; raises CalledProcessError on failure."""
        ctl = script("rabbitmqctl")
        assert ctl is not None, "rabbitmqctl is not installed"
        result = await asyncio.to_thread(
            subprocess.run,
            [ctl, "-q", "-n", self.nodename, *args],
            env=self._env(),
            cwd=self.dir,
            capture_output=True,
            check=True,
            timeout=timeout,
        )
        return result.stdout.decode(errors="replace")

    def beam_pid(self) -> int:
        return int((self.dir / "beam.pid").read_text().strip())

    async def kill(self) -> None:
        """`kill -9` of the node's Erlang VM: no goodbye to clients or to the other nodes."""
        os.kill(self.beam_pid(), signal.SIGKILL)
        await self._reap(10)

    async def stop_app(self) -> None:
        """The RabbitMQ application stops (connections closed by the broker); the Erlang VM stays."""
        await self.ctl("stop_app")

    async def start_app(self, timeout: float = BOOT_TIMEOUT) -> None:
        await self.ctl("start_app", timeout=timeout)
        await self.await_startup(timeout)

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def ensure_running(self) -> None:
        """Whatever a test did to it, the node serves again (its VM started, its application too)."""
        if not self.is_running:
            await self.start()
            return
        try:
            await self.ctl("await_startup", "--timeout", "1", timeout=15)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            await self.start_app()

    async def stop(self) -> None:
        """Stop the node however it is: politely, then by killing its process group."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(Exception):
                await self.ctl("stop", timeout=30)
            if not await self._reap(15):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                await self._reap(10)
        _unregister(self)

    async def _reap(self, timeout: float) -> bool:
        """Wait (bounded) for the node's script to exit once its VM is gone; True if it did."""
        if self.process is None:
            return True
        try:
            await asyncio.to_thread(self.process.wait, timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


class RabbitCluster:
    """Nodes joined into one cluster."""

    def __init__(self, nodes: list[RabbitNode]) -> None:
        self.nodes = nodes

    @property
    def urls(self) -> str:
        """Every node's URL, comma-separated: the value of `ITS_AMQP_URL` for this cluster."""
        return ",".join(node.url for node in self.nodes)

    async def leader_of(self, queue: str) -> RabbitNode:
        """The node leading quorum queue (or stream) `queue`, as a running node sees it."""
        running = next(node for node in self.nodes if node.is_running)
        listing = json.loads(await running.ctl("list_queues", "name", "leader", "--formatter", "json"))
        [leader] = [row["leader"] for row in listing if row["name"] == queue]
        return next(node for node in self.nodes if node.nodename == leader)

    async def members_of(self, queue: str) -> set[str]:
        """The nodes (their names) holding a replica of quorum queue `queue`."""
        running = next(node for node in self.nodes if node.is_running)
        listing = json.loads(await running.ctl("list_queues", "name", "members", "--formatter", "json"))
        [members] = [row["members"] for row in listing if row["name"] == queue]
        return set(members)


async def join_cluster(nodes: list[RabbitNode]) -> None:
    """Join every node to the first one's cluster (`rabbitmqctl join_cluster`)."""
    first = nodes[0]
    for node in nodes[1:]:
        await node.stop_app()
        await node.ctl("join_cluster", first.nodename)
        await node.start_app()
    status = await first.ctl("cluster_status", "--formatter", "json")
    for node in nodes:
        assert node.nodename in status, f"{node.nodename} is not in the cluster: {status}"


@contextlib.asynccontextmanager
async def rabbit_nodes(base: Path, count: int, *, cluster: bool = False) -> AsyncIterator[list[RabbitNode]]:
    """`count` nodes of this test's own (joined into one cluster if `cluster`), always removed at the end."""
    run = next(_numbers)
    end_abandoned_nodes()
    home = _prepare_home(base)
    nodes = [RabbitNode(f"its-fault-{os.getpid()}-{run}-{n}", base, home) for n in range(1, count + 1)]
    try:
        # One at a time: two cores, and a node booting beside another takes longer than twice as long.
        for node in nodes:
            await node.start()
        if cluster and count > 1:
            await join_cluster(nodes)
        yield nodes
    finally:
        for node in nodes:
            await node.stop()
        shutil.rmtree(base, ignore_errors=True)


# ---- fixtures (a module's tests share its nodes: they boot in seconds, not milliseconds) ----------------


@pytest.fixture(scope="module")
async def rabbit_node(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RabbitNode]:
    """One node of the module's own; a test that kills or stops it starts it again (`ensure_running`)."""
    async with rabbit_nodes(tmp_path_factory.mktemp("rabbit"), 1) as [node]:
        yield node


@pytest.fixture(scope="module")
async def rabbit_cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RabbitCluster]:
    """Three nodes joined into one cluster, for the module."""
    async with rabbit_nodes(tmp_path_factory.mktemp("rabbit-cluster"), 3, cluster=True) as nodes:
        yield RabbitCluster(nodes)
