"""An updates app served in this test process, and what the catalogue and page tests share: operators' and
subscribers' tokens, kits as bytes, releases declared, uploaded and published through the API, and
registration's events published to the broker as registration would, so that updates' own consumers build
the entitlement read model (UPD-3, UPD-4)."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from services.registration.domain import luhn_digit
from services.updates.app import SCHEMA, UpdatesSettings, create_app
from shared.bus import Bus
from shared.clock import TestClock
from shared.db import Pool
from shared.events import Envelope, Event, wrap
from shared.events.registration import ConfigurationChanged, ProductActivated, ProductChanged
from tests.infra import RunningApp, TestStack, wait_for
from tests.integration.service_fixtures import pool_fixture, publisher_fixture
from tests.tokens import TestKeys

PROBLEM = "https://its-portal.dev/problems/"
MAX_KIT_BYTES = 2 * 1024 * 1024  # small, so that the over-size test sends little


@pytest.fixture(scope="module")
def keys() -> TestKeys:
    return TestKeys()


@pytest.fixture(scope="module")
def kits_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kits")


@pytest.fixture(scope="module")
async def updates(migrated: TestStack, keys: TestKeys, kits_dir: Path) -> AsyncIterator[RunningApp]:
    settings = UpdatesSettings(kits_dir=kits_dir, max_kit_bytes=MAX_KIT_BYTES)
    async with RunningApp(create_app(settings, keys=keys)) as running:
        yield running


publisher = publisher_fixture("updates")
pool = pool_fixture(SCHEMA)


def new_number() -> str:
    body = str(10**9 + uuid.uuid4().int % (9 * 10**9))
    return body + luhn_digit(body)


def kit_bytes(seed: str, size: int) -> bytes:
    """Deterministic bytes of a kit."""
    return hashlib.shake_256(seed.encode()).digest(size)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def kit(name: str, data: bytes, kind: str = "full", **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "size": len(data), "sha256": sha(data), **extra}


def configuration_release(**overrides: Any) -> dict[str, Any]:
    """A complete UPD-1 body (kits to be given)."""
    return {
        "release_date": "2026-02-10",
        "its_issue": "ITS 2026/02",
        "prerelease": False,
        "whats_new": "New **VAT return** form. <script>alert(1)</script>",
        "changes": "* Fixed posting of [invoices](https://its.example/kb/1)\n* [bad](javascript:alert(1))",
        "major_changes": ["VAT return 2026", "Faster *closing* of the month"],
        "update_procedure": "1. Back up the infobase.\n2. Apply the update.",
        "min_platform": "8.3.24.1342",
        "updates_from": [],
        **overrides,
    }


def platform_release(**overrides: Any) -> dict[str, Any]:
    """A complete UPD-2 body (kits to be given)."""
    return {
        "release_date": "2026-01-20",
        "its_issue": "ITS 2026/01",
        "grade": "recommended",
        "differences": "Faster **reports**.",
        "migration_notes": "Convert infobases after installing.",
        "fixed_bugs": [{"id": "10045", "title": "Slow report on Linux"}, {"id": "10046", "title": "Crash on exit"}],
        "readme": "ReadMe.txt\n<b>plain text</b>",
        **overrides,
    }


@dataclass(frozen=True)
class Customer:
    subscriber_id: uuid.UUID
    code: str
    account_id: uuid.UUID


class World:
    def __init__(self, stack: TestStack, keys: TestKeys, app: RunningApp, bus: Bus, pool: Pool) -> None:
        self.stack, self.keys, self.app, self.bus, self.pool = stack, keys, app, bus, pool
        self.clock = TestClock(stack.var_dir)

    # ---- callers --------------------------------------------------------------------------

    def token(self, **claims: Any) -> dict[str, str]:
        token = self.keys.token(now=self.clock.now().timestamp(), ttl=400 * 86400, **claims)
        return {"Authorization": f"Bearer {token}"}

    def operator(self) -> dict[str, str]:
        return self.token(scope="operator", role="operator")

    def member(
        self, customer: Customer, role: str = "owner", rights: tuple[str, ...] = ("its_access",)
    ) -> dict[str, str]:
        sub = {"id": str(customer.subscriber_id), "code": customer.code, "role": role, "rights": list(rights)}
        return self.token(account_id=customer.account_id, role="customer", subscriber=sub)

    async def call(self, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> tuple[int, Any]:
        async with self.app.http.request(method, path, headers=headers, **kw) as response:
            body = await response.json() if response.content_type.endswith("json") else await response.text()
            if response.status >= 400:
                assert response.content_type == "application/problem+json", (response.status, body)
            return response.status, body

    # ---- the catalogue through the API ------------------------------------------------------

    async def declare(self, configuration: str, version: str, body: dict[str, Any]) -> tuple[int, Any]:
        return await self.call(
            "PUT", f"/v1/configurations/{configuration}/releases/{version}", self.operator(), json=body
        )

    async def upload(self, release_id: str, name: str, data: bytes | Any, **kw: Any) -> tuple[int, Any]:
        """PUT the kit's content: bytes (with their Content-Length) or an async iterator (chunked)."""
        headers = {**self.operator(), "Content-Type": "application/octet-stream"}
        body = io.BytesIO(data) if isinstance(data, bytes) else data
        return await self.call("PUT", f"/v1/releases/{release_id}/kits/{name}/content", headers, data=body, **kw)

    async def publish_release(self, release_id: str) -> tuple[int, Any]:
        return await self.call("POST", f"/v1/releases/{release_id}/publish", self.operator())

    async def released(
        self, configuration: str, version: str, *, kits: dict[str, bytes] | None = None, **fields: Any
    ) -> dict[str, Any]:
        """A configuration release declared, its kits uploaded and published; the published release."""
        kits = kits if kits is not None else {f"{configuration}_{version}.cfu": kit_bytes(version, 4096)}
        body = configuration_release(
            kits=[kit(n, d, "update" if n.endswith(".cfu") else "full") for n, d in kits.items()], **fields
        )
        status, draft = await self.declare(configuration, version, body)
        assert status in (200, 201), draft
        for name, data in kits.items():
            status, answer = await self.upload(draft["id"], name, data)
            assert status in (200, 201), answer
        status, published = await self.publish_release(draft["id"])
        assert status == 200 and published["state"] == "published", published
        return dict(published)

    async def platform_released(self, version: str, *, grade: str = "recommended") -> dict[str, Any]:
        linux, windows = kit_bytes(f"{version}-linux", 8192), kit_bytes(f"{version}-windows", 6000)
        body = platform_release(
            grade=grade,
            kits=[
                kit(f"platform_{version}_linux.tar.gz", linux, "platform", os="linux", arch="x86_64"),
                kit(f"platform_{version}_windows.zip", windows, "platform", os="windows", arch="x86_64"),
            ],
        )
        status, draft = await self.call("PUT", f"/v1/platform/releases/{version}", self.operator(), json=body)
        assert status in (200, 201), draft
        for name, data in ((f"platform_{version}_linux.tar.gz", linux), (f"platform_{version}_windows.zip", windows)):
            status, answer = await self.upload(draft["id"], name, data)
            assert status in (200, 201), answer
        status, published = await self.publish_release(draft["id"])
        assert status == 200, published
        return dict(published)

    # ---- registration's events (the entitlement read model) -------------------------------------

    async def publish(self, event: Event, producer: str = "registration") -> Envelope:
        envelope = wrap(event, producer=producer, occurred_at=datetime.now(UTC))
        await self.bus.publish(
            envelope.type, envelope.model_dump_json().encode(), message_id=str(envelope.id), message_type=envelope.type
        )
        return envelope

    async def configuration(self, name: str | None = None) -> str:
        """A new configuration, announced by registration (its name reaches updates' read model)."""
        code = f"Conf{uuid.uuid4().hex[:8]}"
        await self.publish(
            ConfigurationChanged(code=code, name=name or f"Configuration {code}", maintenance_category=1, vendor="ITS")
        )
        await self.wait_for_row("SELECT 1 FROM configurations WHERE code = $1", code)
        return code

    async def product(self, configurations: list[str], edition: str = "PROF") -> str:
        article = f"460{uuid.uuid4().int % 10**10:010d}"
        await self.publish(
            ProductChanged(
                article=article,
                name=f"Product {edition} {article}",
                edition=edition,
                configurations=configurations,
                pin_envelope=True,
                its_required=edition != "BASIC",
            )
        )
        await self.wait_for_row("SELECT 1 FROM products WHERE article = $1", article)
        return article

    async def customer(self) -> Customer:
        return Customer(uuid.uuid4(), f"CL-{uuid.uuid4().int % 10**7:07d}", uuid.uuid4())

    async def register(
        self,
        customer: Customer,
        configurations: list[str],
        *,
        edition: str = "PROF",
        purchase_date: date | None = None,
    ) -> str:
        """A product with these configurations registered to the customer and active, as registration says."""
        article = await self.product(configurations, edition)
        number = new_number()
        await self.publish(
            ProductActivated(
                registration_number=number,
                subscriber_id=customer.subscriber_id,
                subscriber_code=customer.code,
                article=article,
                product_name=f"Product {edition}",
                edition=edition,
                configurations=configurations,
                its_required=edition != "BASIC",
                purchase_date=purchase_date or self.clock.now().date(),
                registered_by="self",
                active_from=self.clock.now(),
            )
        )
        await self.wait_for_row("SELECT 1 FROM registered_products WHERE registration_number = $1", number)
        return number

    async def wait_for_row(self, sql: str, *args: Any, timeout: float = 15) -> None:
        async def found() -> bool:
            async with self.pool.acquire() as conn:
                return bool(await conn.fetchval(sql, *args))

        await wait_for(found, timeout=timeout, what=sql)

    # ---- what was stored ------------------------------------------------------------------------

    async def outbox(self, event_type: str, release_id: str) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT envelope FROM outbox WHERE routing_key = $1 AND envelope->'data'->>'release_id' = $2 "
                "ORDER BY created_at",
                event_type,
                release_id,
            )
        return [row["envelope"] for row in rows]

    async def releases_count(self, configuration: str) -> int:
        async with self.pool.acquire() as conn:
            n: int = await conn.fetchval("SELECT count(*) FROM releases WHERE configuration = $1", configuration)
            return n


@pytest.fixture(scope="module")
def world(migrated: TestStack, keys: TestKeys, updates: RunningApp, publisher: Bus, pool: Pool) -> World:
    return World(migrated, keys, updates, publisher, pool)


__all__ = [
    "MAX_KIT_BYTES",
    "PROBLEM",
    "Customer",
    "World",
    "configuration_release",
    "keys",
    "kit",
    "kit_bytes",
    "kits_dir",
    "platform_release",
    "pool",
    "publisher",
    "sha",
    "updates",
    "world",
]
