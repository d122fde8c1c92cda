"""The e2e stack: identity, registration, contracts, updates and notifications as real processes, with the real
SMTP sink."""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.infra import ServiceProcess, TestStack, free_port


@pytest.fixture(scope="session")
async def services(migrated: TestStack, smtp_sink: int) -> AsyncIterator[dict[str, ServiceProcess]]:
    identity_port, registration_port, contracts_port, updates_port, notifications_port = (free_port() for _ in range(5))
    identity_url = f"http://127.0.0.1:{identity_port}"
    env = migrated.env(
        ITS_PUBLIC_URL=identity_url,
        ITS_JWKS_URL=f"{identity_url}/.well-known/jwks.json",
        ITS_SMTP_PORT=str(smtp_sink),
        # identity believes the X-Forwarded-For of the portal (tests/e2e/browser_stack.py), as deployments do.
        ITS_TRUSTED_PROXIES="127.0.0.1",
    )
    logs = migrated.var_dir / "log"
    processes = {
        "identity": ServiceProcess("identity", env, identity_port, logs / "identity.log"),
        "registration": ServiceProcess("registration", env, registration_port, logs / "registration.log"),
        "contracts": ServiceProcess("contracts", env, contracts_port, logs / "contracts.log"),
        "updates": ServiceProcess(
            "updates",
            {
                **env,
                "ITS_DOWNLOAD_BASE_URL": f"http://127.0.0.1:{updates_port}",
                "ITS_KITS_DIR": str(migrated.var_dir / "kits"),
            },
            updates_port,
            logs / "updates.log",
        ),
        "notifications": ServiceProcess("notifications", env, notifications_port, logs / "notifications.log"),
    }
    try:
        for process in processes.values():
            await process.start()
        yield processes
    finally:
        for process in processes.values():
            await process.stop()


def read_mail(mail_dir: Path, to: str) -> list[EmailMessage]:
    messages = []
    for path in sorted(mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if to.lower() in str(message["To"]).lower():
            messages.append(message)
    return messages
