"""The e2e stack: identity, registration, contracts, updates and notifications as real processes, with the real
SMTP sink."""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.infra import ROOT, ServiceProcess, TestStack, free_port, service_processes


@pytest.fixture(scope="session")
def gateway_port() -> int:
    """The https port of the browser tests' gateway (tests/e2e/browser_stack.py), chosen before the services start:
    their e-mails' links point there (ITS_PUBLIC_URL)."""
    return free_port()


# Written 0.2 s after they end (the SDK's default is 5 s), so that a test finds them soon.
TRACED = {"OTEL_TRACES_EXPORTER": "otlp_json_file", "OTEL_BSP_SCHEDULE_DELAY": "200"}


@pytest.fixture(scope="session")
def tuf_keys(migrated: TestStack) -> Path:
    """The signed update metadata's keys as an operator makes them (`itsctl tuf init`: three root keys, two needed):
    updates signs with online/ (ITS_TUF_KEYS_DIR); tests/e2e/test_updates_tuf_flow.py installs the root."""
    directory = migrated.var_dir / "tuf"
    init = ["tuf", "init", "--dir", str(directory), "--root-keys", "3", "--threshold", "2"]
    made = subprocess.run(
        [sys.executable, "-m", "itsctl", *init],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    return directory


@pytest.fixture(scope="session")
async def services(
    migrated: TestStack, smtp_sink: int, gateway_port: int, tuf_keys: Path
) -> AsyncIterator[dict[str, ServiceProcess]]:
    # identity believes the X-Forwarded-For of the portal (tests/e2e/browser_stack.py), as deployments do.
    public_url = f"https://127.0.0.1:{gateway_port}"
    # Traces on, as in the local stack: every process's spans in <var>/traces/ (tests/e2e/test_traces_flow.py).
    processes = service_processes(
        migrated,
        smtp_sink,
        public_url,
        ITS_TRUSTED_PROXIES="127.0.0.1",
        ITS_TUF_KEYS_DIR=str(tuf_keys / "online"),
        **TRACED,
    )
    try:
        for process in processes.values():
            await process.start()
        yield processes
    finally:
        for process in processes.values():
            await process.stop()


def link_token(text: str, page: str) -> str:
    """The token of the one e-mail link to the portal's `page` ("/verify-email", "/invitation", "/reset-password")
    in `text`: what the portal's page passes on to identity's API."""
    [token] = re.findall(rf"https?://\S+{re.escape(page)}\?token=([A-Za-z0-9_-]+)", text)
    return str(token)


# Each .eml file parsed once, with its recipients: the sink renames a message into place whole and never changes it,
# while the session's mail directory grows to hundreds of messages that every poll of every test would parse again
# (the invitation flow took 31 s in the whole suite against 1.5 s alone).
_PARSED: dict[Path, tuple[str, EmailMessage]] = {}


def read_mail(mail_dir: Path, to: str) -> list[EmailMessage]:
    """The messages to `to` in the sink's directory, oldest first."""
    messages = []
    for path in sorted(mail_dir.glob("*.eml")):
        parsed = _PARSED.get(path)
        if parsed is None:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            parsed = _PARSED[path] = (str(message["To"]).lower(), message)
        recipients, message = parsed
        if to.lower() in recipients:
            messages.append(message)
    return messages
