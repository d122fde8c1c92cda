"""The stack the database and service-kill experiments break: every service and the portal as processes (as in
production), on a PostgreSQL cluster of the experiments' own (`postgres.py`), a vhost of their own on the machine's
RabbitMQ, an SMTP sink and a shared test clock of their own.

State is read straight from the database, on a new connection each time, so a read works on either side of an
outage; each service's log is read as the JSON lines it writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from devtools.smtp_sink import start_sink
from services.contracts.app import SCHEMA as CONTRACTS_SCHEMA
from services.notifications.app import NotificationsSettings
from shared.clock import RELOAD_SECONDS, TestClock
from tests.faults.postgres import Postgres
from tests.infra import AMQP_BASE, ServiceProcess, TestStack, free_port, migrate_all, rabbitmqctl

# Every service and the portal (started together: the others fetch identity's keys only when a token comes).
SERVICES = ("identity", "registration", "contracts", "updates", "notifications", "portal")
VENDOR_ZONE = ZoneInfo("Europe/Moscow")  # the services' default ITS_VENDOR_TIMEZONE


@dataclass
class LogMark:
    """Where each service's log ended at some moment: what it wrote since is `FaultStack.logged(mark, …)`."""

    offsets: dict[str, int] = field(default_factory=dict)


# E-mails a notifications process sends at once (ITS_SEND_WORKERS): each in flight at a kill may go out again, with
# the same Message-ID (SMTP has no transaction to join), so a kill may double at most this many.
SEND_WORKERS: int = NotificationsSettings.model_fields["send_workers"].default


@dataclass
class FaultStack:
    postgres: Postgres
    stack: TestStack
    services: dict[str, ServiceProcess]
    mail_dir: Path
    _mail: dict[str, tuple[str, str]] = field(default_factory=dict)  # file name → (To, Message-ID)

    @property
    def clock(self) -> TestClock:
        return TestClock(self.stack.var_dir)

    async def move_clock_to(self, when: datetime) -> None:
        """The shared test clock moves forward only, so work scheduled at a moment stays due (an e-mail's job is
        due when its event was handled); every process follows within RELOAD_SECONDS."""
        clock = self.clock
        assert when > clock.now(), "the experiments' clock only moves forward"
        clock.set(when)
        await asyncio.sleep(2 * RELOAD_SECONDS)

    def period(self, months: int = 12) -> tuple[str, str]:
        """A contract period (YYYY-MM, the vendor's months) from this month on the shared clock, `months` long."""
        today = self.clock.now().astimezone(VENDOR_ZONE).date()
        first = today.year * 12 + today.month - 1
        last = first + months - 1
        return f"{first // 12:04d}-{first % 12 + 1:02d}", f"{last // 12:04d}-{last % 12 + 1:02d}"

    # ---- the database, read directly --------------------------------------------------------------

    async def fetch(self, schema: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.stack.database_url, server_settings={"search_path": schema}, timeout=10)
        try:
            return await conn.fetch(sql, *args, timeout=60)
        finally:
            await conn.close()

    async def fetchval(self, schema: str, sql: str, *args: Any) -> Any:
        rows = await self.fetch(schema, sql, *args)
        return rows[0][0] if rows else None

    async def count_when(self, schema: str, sql: str, args: list[Any], at_least: int, timeout: float = 60) -> int:
        """Polls `sql` (a count) every 20 ms until it reaches `at_least`; returns the count it saw."""
        deadline = time.monotonic() + timeout
        while (count := int(await self.fetchval(schema, sql, *args))) < at_least:
            assert time.monotonic() < deadline, f"{count} < {at_least} after {timeout} s: {sql}"
            await asyncio.sleep(0.02)
        return count

    async def activate_day(self, contract_ids: set[str]) -> None:
        """The shared clock to the moment these contracts are processed (ITS-2: the next business day)."""
        effective_at = await self.fetchval(
            CONTRACTS_SCHEMA,
            "SELECT max(effective_at) FROM contracts WHERE id = ANY($1)",
            [*map(uuid.UUID, contract_ids)],
        )
        await self.move_clock_to(effective_at + timedelta(seconds=1))

    # ---- processes ------------------------------------------------------------------------------------

    async def kill(self, name: str) -> None:
        """SIGKILL: the process ends where it stands, its transactions uncommitted, its messages unacked."""
        process = self.services[name].process
        assert process is not None and process.poll() is None, f"{name} is not running"
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 10)

    async def restart(self, name: str) -> None:
        """Start a killed service again, with the same settings; returns once it is ready."""
        await self.services[name].start(timeout=60)

    # ---- e-mail ------------------------------------------------------------------------------------------

    def message_ids_to(self, address: str) -> list[str]:
        """The Message-ID of every e-mail the sink received for `address`, one entry per e-mail (a copy sent twice
        is there twice). Headers only, each file read once."""
        for path in sorted(self.mail_dir.glob("*.eml")):
            if path.name not in self._mail:
                with path.open("rb") as message:
                    headers = email.parser.BytesHeaderParser(policy=email.policy.default).parse(message)
                self._mail[path.name] = (str(headers["To"]).lower(), str(headers["Message-ID"]))
        return [message_id for to, message_id in self._mail.values() if address.lower() in to]

    # ---- logs -------------------------------------------------------------------------------------------

    def mark(self) -> LogMark:
        return LogMark({name: _size(process.log_path) for name, process in self.services.items()})

    def logged(self, mark: LogMark, name: str) -> list[str]:
        """The lines `name` has logged since `mark`."""
        path = self.services[name].log_path
        with path.open("rb") as log:
            log.seek(mark.offsets.get(name, 0))
            return log.read().decode(errors="replace").splitlines()

    def events(self, mark: LogMark, name: str, event: str) -> list[dict[str, Any]]:
        """The JSON log lines of `event` that `name` has written since `mark`."""
        return [entry for entry in self._entries(mark, name) if entry.get("event") == event]

    def warnings(self, mark: LogMark, name: str) -> list[dict[str, Any]]:
        """The JSON log lines at warning level or above that `name` has written since `mark`."""
        return [entry for entry in self._entries(mark, name) if entry.get("level") in ("warning", "error", "critical")]

    def _entries(self, mark: LogMark, name: str) -> list[dict[str, Any]]:
        found = []
        for line in self.logged(mark, name):
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    found.append(entry)
        return found


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def service_env(stack: TestStack, ports: dict[str, int], smtp_port: int, **extra: str) -> dict[str, str]:
    identity = f"http://127.0.0.1:{ports['identity']}"
    return stack.env(
        ITS_JWKS_URL=f"{identity}/.well-known/jwks.json",
        ITS_SMTP_PORT=str(smtp_port),
        ITS_KITS_DIR=str(stack.var_dir / "kits"),
        ITS_PUBLIC_URL=f"http://127.0.0.1:{ports['updates']}",  # updates serves /dl/ as the gateway does
        **{f"ITS_{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in ports.items()},
        **extra,
    )


@contextlib.asynccontextmanager
async def migrated_stack(
    postgres: Postgres, var_dir: Path, run_id: str, name: str
) -> AsyncIterator[tuple[TestStack, int]]:
    """A database `name` on `postgres` and a vhost `name` on the machine's RabbitMQ, every schema migrated, this
    process's ITS_* pointing at them (settings built here, e.g. an operator account made directly, read the same
    database), and an SMTP sink into var_dir/mail: (the stack, the sink's port). The vhost and ITS_* undone after."""
    stack = TestStack(run_id, await postgres.create_database(name), f"{AMQP_BASE}/{name}", name, var_dir)
    await asyncio.to_thread(rabbitmqctl, "add_vhost", name)
    saved = dict(os.environ)
    try:
        await asyncio.to_thread(rabbitmqctl, "set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        os.environ.update({k: v for k, v in stack.env().items() if k.startswith("ITS_")})
        await migrate_all(stack.database_url)
        smtp_port = free_port()
        sink = start_sink(var_dir / "mail", "127.0.0.1", smtp_port)
        try:
            yield stack, smtp_port
        finally:
            sink.stop()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        await asyncio.to_thread(rabbitmqctl, "delete_vhost", name)
