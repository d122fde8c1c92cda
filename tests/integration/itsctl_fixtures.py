"""What the itsctl integration tests share: an operator account, identity and one more service as real
processes, and reading the CSV files the commands write."""

from __future__ import annotations

import contextlib
import csv
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from services.identity.bootstrap import ensure_account
from services.identity.settings import IdentitySettings
from tests.infra import ServiceProcess, TestStack, free_port

PASSWORD = "operator passphrase for itsctl tests"


async def new_account(login: str, *, operator: bool) -> None:
    outcome = await ensure_account(
        IdentitySettings(),
        login=login,
        password=PASSWORD,
        email=f"{login}@example.com",
        full_name=None,
        operator=operator,
    )
    assert outcome == "created"


@contextlib.asynccontextmanager
async def identity_and(
    stack: TestStack, service: str, **service_env: str
) -> AsyncIterator[tuple[ServiceProcess, ServiceProcess, str]]:
    """identity and `service` (with `service_env` too) running, verifying identity's tokens, and a new operator's
    login."""
    identity_port, service_port = free_port(), free_port()
    identity_url = f"http://127.0.0.1:{identity_port}"
    env = stack.env(ITS_PUBLIC_URL=identity_url, ITS_JWKS_URL=f"{identity_url}/.well-known/jwks.json")
    logs = stack.var_dir / "log"
    identity = ServiceProcess("identity", env, identity_port, logs / f"itsctl-{service}-identity.log")
    other = ServiceProcess(service, {**env, **service_env}, service_port, logs / f"itsctl-{service}.log")
    login = f"op{uuid.uuid4().hex[:10]}"
    await new_account(login, operator=True)
    try:
        await identity.start()
        await other.start()
        yield identity, other, login
    finally:
        await other.stop()
        await identity.stop()


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))
