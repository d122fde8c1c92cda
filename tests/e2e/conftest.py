"""The e2e stack: identity, registration, contracts, updates and notifications as real processes, with the real
SMTP sink."""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.infra import ServiceProcess, TestStack, service_processes


@pytest.fixture(scope="session")
async def services(migrated: TestStack, smtp_sink: int) -> AsyncIterator[dict[str, ServiceProcess]]:
    # identity believes the X-Forwarded-For of the portal (tests/e2e/browser_stack.py), as deployments do.
    processes = service_processes(migrated, smtp_sink, ITS_TRUSTED_PROXIES="127.0.0.1")
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
