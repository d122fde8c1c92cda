"""A throw-away PostgreSQL cluster of a test's own, to stop, start and kill without touching the machine's.

Debian's binaries (`/usr/lib/postgresql/<version>/bin`), run as the `postgres` user (the server refuses to run as
root), trust authentication, TCP on 127.0.0.1 and a free port only. The data directory is a fresh directory in
/tmp owned by `postgres`, not in pytest's tmp dir: that one is mode 0700 and root's, so the server could not reach
it. `Postgres.removed()` always stops the server and deletes the directory, even when the test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from tests.infra import free_port

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name), reverse=True)
SERVER_USER = "postgres"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


class Postgres:
    """One cluster: `start()`, `stop()` (fast shutdown: sessions are ended), `kill()` (SIGKILL to every server
    process, as a crash), `freeze()`/`thaw()` (a server that does not answer), `url(database)`. The server runs in
    its own process group, so a kill reaches its backends too and the next start does not find them holding the
    shared memory."""

    def __init__(self, base: Path, port: int) -> None:
        self.base, self.port = base, port
        self.data = base / "data"
        self.log_path = base / "server.log"
        self.bin = BIN_DIRS[0]
        self.process: subprocess.Popen[bytes] | None = None
        self.user = SERVER_USER if os.geteuid() == 0 else None  # the server refuses to run as root

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        command = [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
        subprocess.run(
            [*command, "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
            user=self.user,
            group=self.user,
        )

    async def start(self) -> None:
        """Start the server and return once it accepts connections."""
        assert self.process is None or self.process.poll() is not None, "already running"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
                "-c",
                "fsync=off",  # the tests crash processes, never the machine
                "-c",
                "max_connections=200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() reaches the backends too
            user=self.user,
            group=self.user,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}: {self.log_tail()}")
            try:
                conn = await asyncpg.connect(self.admin_url, timeout=2)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"postgres not accepting connections in {START_TIMEOUT}s: {self.log_tail()}"
                    ) from None
                await asyncio.sleep(0.1)
                continue
            await conn.close()
            return

    async def stop(self, mode: signal.Signals = signal.SIGINT) -> None:
        """Shut the server down: SIGINT is PostgreSQL's fast shutdown (sessions are ended, work rolled back)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(mode)
        try:
            await asyncio.to_thread(self.process.wait, STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            await self.kill()

    async def kill(self) -> None:
        """SIGKILL to the postmaster and its backends: a crash; the next start recovers from the WAL."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await asyncio.to_thread(self.process.wait, STOP_TIMEOUT)
        # Backends may outlive the postmaster by an instant; wait until the group is empty.
        deadline = time.monotonic() + STOP_TIMEOUT
        while _group_alive(self.process.pid) and time.monotonic() < deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await asyncio.sleep(0.05)

    def freeze(self) -> None:
        """SIGSTOP to every server process: connections are accepted (by the kernel) and never answered."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    async def create_database(self, name: str) -> str:
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url(name)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.asynccontextmanager
async def running_postgres() -> AsyncIterator[Postgres]:
    """A new cluster, started; stopped (killed if need be) and deleted at the end, whatever happened."""
    if not BIN_DIRS:
        raise RuntimeError("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: apt-get install postgresql")
    base = Path(tempfile.mkdtemp(prefix="its-faults-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(base, SERVER_USER, SERVER_USER)
        server = Postgres(base, free_port())
        await asyncio.to_thread(server.init)
        await server.start()
        try:
            yield server
        finally:
            await server.stop()
            await server.kill()  # whatever is left of the group after a stop
    finally:
        shutil.rmtree(base, ignore_errors=True)
