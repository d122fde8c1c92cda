"""Test infrastructure: every test run gets its own PostgreSQL database and RabbitMQ vhost."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

PG_ADMIN_URL = os.environ.get("ITS_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_BASE = os.environ.get("ITS_TEST_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class TestStack:
    __test__ = False  # not a pytest test class
    run_id: str
    database_url: str
    amqp_url: str
    vhost: str
    var_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a service started as a process in this test run."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ITS_")}
        env.update(
            ITS_ENV="test",
            ITS_DATABASE_URL=self.database_url,
            ITS_AMQP_URL=self.amqp_url,
            ITS_VAR_DIR=str(self.var_dir),
            ITS_CONSUMER_RETRY_DELAYS_MS="[200,400]",
            ITS_JOBS_POLL_SECONDS="0.1",
            ITS_OUTBOX_POLL_SECONDS="0.2",
            ITS_LOG_LEVEL="INFO",
        )
        env.update(extra)
        return env


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


async def create_stack(var_dir: Path) -> TestStack:
    run_id = uuid.uuid4().hex[:10]
    name = f"its_test_{run_id}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await asyncio.to_thread(rabbitmqctl, "add_vhost", name)
    await asyncio.to_thread(rabbitmqctl, "set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return TestStack(
        run_id=run_id,
        database_url=f"postgresql://postgres@127.0.0.1:5432/{name}",
        amqp_url=f"{AMQP_BASE}/{name}",
        vhost=name,
        var_dir=var_dir,
    )


async def drop_stack(stack: TestStack) -> None:
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{stack.vhost}" WITH (FORCE)')
    finally:
        await admin.close()
    await asyncio.to_thread(rabbitmqctl, "delete_vhost", stack.vhost)


async def migrate_all(database_url: str) -> None:
    """Every service's schema, migrated in `database_url`."""
    from services.contracts.app import MIGRATIONS as CONTRACTS_MIGRATIONS
    from services.contracts.app import SCHEMA as CONTRACTS_SCHEMA
    from services.identity.app import MIGRATIONS as IDENTITY_MIGRATIONS
    from services.identity.app import SCHEMA as IDENTITY_SCHEMA
    from services.notifications.app import MIGRATIONS as NOTIFICATIONS_MIGRATIONS
    from services.notifications.app import SCHEMA as NOTIFICATIONS_SCHEMA
    from services.portal.app import MIGRATIONS as PORTAL_MIGRATIONS
    from services.portal.app import SCHEMA as PORTAL_SCHEMA
    from services.registration.app import MIGRATIONS as REGISTRATION_MIGRATIONS
    from services.registration.app import SCHEMA as REGISTRATION_SCHEMA
    from services.support.app import MIGRATIONS as SUPPORT_MIGRATIONS
    from services.support.app import SCHEMA as SUPPORT_SCHEMA
    from services.updates.app import MIGRATIONS as UPDATES_MIGRATIONS
    from services.updates.app import SCHEMA as UPDATES_SCHEMA
    from shared.migrate import migrate

    services = (
        (IDENTITY_MIGRATIONS, IDENTITY_SCHEMA),
        (NOTIFICATIONS_MIGRATIONS, NOTIFICATIONS_SCHEMA),
        (REGISTRATION_MIGRATIONS, REGISTRATION_SCHEMA),
        (CONTRACTS_MIGRATIONS, CONTRACTS_SCHEMA),
        (UPDATES_MIGRATIONS, UPDATES_SCHEMA),
        (SUPPORT_MIGRATIONS, SUPPORT_SCHEMA),
        (PORTAL_MIGRATIONS, PORTAL_SCHEMA),
    )
    for migrations, schema in services:
        await asyncio.to_thread(migrate, migrations, database_url, schema)


def service_processes(
    stack: TestStack, smtp_port: int, public_url: str = "http://127.0.0.1:8080", **extra_env: str
) -> dict[str, ServiceProcess]:
    """identity, registration, contracts, updates, support and notifications as processes of the stack (not started).

    `public_url` (ITS_PUBLIC_URL) is where the e-mails' links point: the gateway of a test that runs one. Download
    links point at updates itself, which serves `/dl/` as the gateway does, so that tests without a gateway follow
    them."""
    identity_port, registration_port, contracts_port, updates_port, notifications_port, support_port = (
        free_port() for _ in range(6)
    )
    identity_url = f"http://127.0.0.1:{identity_port}"
    env = stack.env(
        ITS_PUBLIC_URL=public_url,
        ITS_JWKS_URL=f"{identity_url}/.well-known/jwks.json",
        ITS_SMTP_PORT=str(smtp_port),
        **extra_env,
    )
    logs = stack.var_dir / "log"
    return {
        "identity": ServiceProcess("identity", env, identity_port, logs / "identity.log"),
        "registration": ServiceProcess("registration", env, registration_port, logs / "registration.log"),
        "contracts": ServiceProcess("contracts", env, contracts_port, logs / "contracts.log"),
        "updates": ServiceProcess(
            "updates",
            {
                **env,
                "ITS_PUBLIC_URL": f"http://127.0.0.1:{updates_port}",
                "ITS_KITS_DIR": str(stack.var_dir / "kits"),
            },
            updates_port,
            logs / "updates.log",
        ),
        "support": ServiceProcess(
            "support",
            {**env, "ITS_ATTACHMENTS_DIR": str(stack.var_dir / "attachments")},
            support_port,
            logs / "support.log",
        ),
        "notifications": ServiceProcess("notifications", env, notifications_port, logs / "notifications.log"),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServiceProcess:
    """A service started as its own process (`python -m services.<name>`), as in production."""

    def __init__(self, name: str, env: dict[str, str], port: int, log_path: Path) -> None:
        self.name, self.env, self.port, self.log_path = name, env, port, log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.process.pid

    async def start(self, timeout: float = 30.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}"],
            env={**self.env, "ITS_PORT": str(self.port)},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
                try:
                    async with session.get(f"{self.url}/readyz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready in {timeout}s: {self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    async def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            await asyncio.to_thread(self.process.wait, 15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            await asyncio.to_thread(self.process.wait, 5)


async def wait_for(predicate: Any, timeout: float = 15.0, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll `predicate` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


def have_rabbitmqctl() -> bool:
    return shutil.which("rabbitmqctl") is not None


class RunningApp:
    """An aiohttp app served on a real port in this process, with a client session."""

    def __init__(self, app: Any) -> None:
        from aiohttp import web

        self.app = app
        self.runner = web.AppRunner(app, access_log=None)
        self.port = free_port()
        self.session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> RunningApp:
        from aiohttp import web

        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        self.session = aiohttp.ClientSession(base_url=self.url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()
        await self.runner.cleanup()

    @property
    def http(self) -> aiohttp.ClientSession:
        assert self.session is not None
        return self.session
