"""An identity app served in this test process, against this run's database and vhost."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from services.identity.app import SCHEMA, IdentitySettings, create_app
from shared.keys import POOL
from tests.infra import RunningApp, TestStack

# The system's public address in these tests: identity's e-mail links open the portal's pages there.
PUBLIC_URL = "https://its.test"
# The portal's page behind each e-mail link → identity's API the page calls with the link's token.
API_OF_PAGE = {"/verify-email": "/v1/email-verifications", "/invitation": "/v1/invitations"}


def link_token(link: str, page: str) -> str:
    """The token of an e-mail link to the portal's `page` (e.g. '/reset-password'), checked to be one."""
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL and parts.path == page, link
    [token] = parse_qs(parts.query)["token"]
    return token


def api_path(link: str) -> str:
    """identity's API path for an e-mail link (what the portal's page calls): `/v1/invitations/<token>`, …"""
    page = urlsplit(link).path
    return f"{API_OF_PAGE[page]}/{link_token(link, page)}"


@pytest.fixture(scope="module")
async def identity(migrated: TestStack) -> AsyncIterator[RunningApp]:
    # Each test names its own client address (X-Forwarded-For) so throttling never leaks between tests.
    settings = IdentitySettings(trusted_proxies=["127.0.0.1"], public_url=PUBLIC_URL)
    async with RunningApp(create_app(settings)) as running:
        yield running


def unique(prefix: str = "user") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def new_account(**overrides: Any) -> dict[str, Any]:
    login = unique()
    return {
        "login": login,
        "password": "a-long-passphrase-" + login,
        "email": f"{login}@example.com",
        "full_name": "Ivan Petrov",
        **overrides,
    }


def address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


async def count_accounts(app: RunningApp) -> int:
    async with app.app[POOL].acquire() as conn:
        n: int = await conn.fetchval("SELECT count(*) FROM accounts")
        return n


async def outbox_events(app: RunningApp, event_type: str, account_id: str) -> list[dict[str, Any]]:
    async with app.app[POOL].acquire() as conn:
        rows = await conn.fetch(
            "SELECT envelope FROM outbox WHERE routing_key = $1 AND envelope->'data'->>'account_id' = $2 "
            "ORDER BY created_at",
            event_type,
            account_id,
        )
    return [row["envelope"] for row in rows]


__all__ = ["SCHEMA", "address", "count_accounts", "identity", "new_account", "outbox_events", "unique"]
