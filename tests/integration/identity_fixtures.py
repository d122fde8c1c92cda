"""An identity app served in this test process, against this run's database and vhost."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.identity.app import SCHEMA, IdentitySettings, create_app
from shared.keys import POOL
from tests.infra import RunningApp, TestStack


@pytest.fixture(scope="module")
async def identity(migrated: TestStack) -> AsyncIterator[RunningApp]:
    # Each test names its own client address (X-Forwarded-For) so throttling never leaks between tests.
    settings = IdentitySettings(trusted_proxies=["127.0.0.1"], public_url="http://identity.test")
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
