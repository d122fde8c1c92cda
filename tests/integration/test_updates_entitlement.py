"""updates' entitlement read model (UPD-3, UPD-4, ITS-7, SUB-5) fed by registration's and contracts' events on the
real bus, the per-replica cache dropped by PostgreSQL notifications, update plans (UPD-5) and signed download links,
with an updates app served in this process. Published releases are written straight into the catalogue tables
here: the operators' API that writes them has its own tests."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from rules.months import Month, Period
from services.updates import entitlement_store
from services.updates.api_models import UpdatePlan
from services.updates.versions import Version
from shared.bus import Bus
from shared.clock import TestClock
from shared.db import Pool
from shared.events import Envelope, Event, wrap
from shared.events.contracts import ContractActivated, ContractExpired, Organisation
from shared.events.registration import ProductActivated, ProductChanged, ProductRegistered, ProductTransferred
from tests.infra import RunningApp, TestStack, wait_for
from tests.integration.updates_fixtures import keys, kits_dir, new_number, pool, publisher, updates
from tests.tokens import TestKeys

__all__ = ["keys", "kits_dir", "pool", "publisher", "updates"]  # fixtures

PROBLEMS = "https://its-portal.dev/problems/"


@dataclass
class World:
    stack: TestStack
    keys: TestKeys
    app: RunningApp
    bus: Bus
    pool: Pool

    def headers(
        self, subscriber_id: uuid.UUID, *, role: str = "owner", rights: tuple[str, ...] = ("its_access",)
    ) -> dict[str, str]:
        now = TestClock(self.stack.var_dir).now().timestamp()
        sub = {"id": str(subscriber_id), "code": "CL-0000001", "role": role, "rights": list(rights)}
        token = self.keys.token(now=now, ttl=3600, account_id=uuid.uuid4(), role="customer", subscriber=sub)
        return {"Authorization": f"Bearer {token}"}

    async def call(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any
    ) -> tuple[int, Any, Any]:
        async with self.app.http.request(method, path, headers=headers, allow_redirects=False, **kw) as response:
            body = await response.json() if response.content_type.endswith("json") else await response.read()
            return response.status, body, response.headers

    async def publish(self, event: Event, producer: str, occurred_at: datetime | None = None) -> Envelope:
        envelope = wrap(event, producer=producer, occurred_at=occurred_at or datetime.now(UTC))
        await self.bus.publish(
            envelope.type, envelope.model_dump_json().encode(), message_id=str(envelope.id), message_type=envelope.type
        )
        return envelope

    async def product(
        self,
        subscriber_id: uuid.UUID,
        configuration: str,
        *,
        edition: str = "PROF",
        purchase_date: date = date(2025, 1, 10),
        active_from: datetime | None = None,
        event: type[ProductActivated] | type[ProductRegistered] = ProductActivated,
        number: str | None = None,
        occurred_at: datetime | None = None,
    ) -> str:
        number = number or new_number()
        await self.publish(
            event(
                registration_number=number,
                subscriber_id=subscriber_id,
                subscriber_code="CL-0000001",
                article="4601546041807",
                product_name=f"{configuration} {edition}",
                edition=edition,
                configurations=[configuration],
                its_required=edition != "BASIC",
                purchase_date=purchase_date,
                registered_by="partner",
                active_from=active_from or datetime.now(UTC) - timedelta(days=1),
            ),
            "registration",
            occurred_at,
        )
        return number

    async def contract(
        self, numbers: list[str], period: tuple[str, str], contract_id: uuid.UUID | None = None
    ) -> uuid.UUID:
        contract_id = contract_id or uuid.uuid4()
        await self.publish(
            ContractActivated(
                contract_id=contract_id,
                number=f"ITS-{contract_id.hex[:6]}",
                partner_id=uuid.uuid4(),
                organisation=Organisation(name="Romashka", tin="7707083893", kpp="773601001"),
                main_registration_number=numbers[0],
                additional_registration_numbers=numbers[1:],
                period_from=period[0],
                period_to=period[1],
                kind="ITS PROF",
                activated_at=datetime.now(UTC),
            ),
            "contracts",
        )
        return contract_id

    async def release(
        self,
        configuration: str,
        version: str,
        updates_from: list[str],
        *,
        content: bytes = b"",
        prerelease: bool = False,
    ) -> uuid.UUID:
        """A published release with one update kit, written as the catalogue would, and announced."""
        release_id, kit_id = uuid.uuid4(), uuid.uuid4()
        content = content or f"kit {configuration} {version}".encode()
        now = datetime.now(UTC)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO releases (id, kind, configuration, version, version_key, release_date, its_issue, "
                "prerelease, min_platform, updates_from, state, created_at, updated_at, published_at) "
                "VALUES ($1, 'configuration', $2, $3, $4, $5, 'ITS 2026/11', $6, '8.3.24.1342', $7, 'published', "
                "$8, $8, $8)",
                release_id,
                configuration,
                version,
                list(Version.parse(version).key),
                date(2026, 11, 20),
                prerelease,
                updates_from,
                now,
            )
            await conn.execute(
                "INSERT INTO kits (id, release_id, name, kind, size, sha256, uploaded_at) "
                "VALUES ($1, $2, $3, 'update', $4, $5, $6)",
                kit_id,
                release_id,
                f"{configuration}_{version.replace('.', '_')}.cfu",
                len(content),
                hashlib.sha256(content).hexdigest(),
                now,
            )
            await conn.execute("SELECT pg_notify('updates_catalogue', $1)", configuration)
        return release_id

    async def decision(self, headers: dict[str, str], configuration: str) -> dict[str, Any]:
        status, body, _ = await self.call("GET", "/v1/entitlements", headers)
        assert status == 200, body
        found: dict[str, dict[str, Any]] = {item["configuration"]: item for item in body["items"]}
        return found.get(configuration, {"visible": False, "download": {"allowed": False, "reason": None}})

    async def until(
        self, headers: dict[str, str], configuration: str, reason: str | None, allowed: bool
    ) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            item = await self.decision(headers, configuration)
            download = item["download"]
            return item if (download["allowed"], download["reason"]) == (allowed, reason) else None

        found: dict[str, Any] = await wait_for(reached, timeout=10, interval=0.1, what=f"{configuration}: {reason}")
        return found


@pytest.fixture
async def world(migrated: TestStack, keys: TestKeys, updates: RunningApp, publisher: Bus, pool: Pool) -> World:
    return World(migrated, keys, updates, publisher, pool)


def unique_configuration() -> str:
    return f"Cfg{uuid.uuid4().hex[:10]}"


def this_month(offset: int = 0) -> str:
    today = datetime.now(UTC).date()
    index = today.year * 12 + today.month - 1 + offset
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


async def test_coverage_follows_contracts_and_the_cache_follows_the_events(world: World) -> None:
    subscriber = uuid.uuid4()
    owner = world.headers(subscriber)
    configuration = unique_configuration()
    number = await world.product(subscriber, configuration)
    await world.until(owner, configuration, "its-contract-required", False)  # PROF, free period long over

    contract = await world.contract([number], (this_month(-1), this_month(1)))
    item = await world.until(owner, configuration, None, True)
    assert item["support_end"] == this_month(1)

    # A duplicate activation changes nothing; the expiry ends the coverage, and a late duplicate
    # activation does not bring it back.
    await world.contract([number], (this_month(-1), this_month(1)), contract_id=contract)
    await world.publish(
        ContractExpired(contract_id=contract, number="ITS", period_to=this_month(1), expired_at=datetime.now(UTC)),
        "contracts",
    )
    await world.until(owner, configuration, "its-contract-required", False)
    await world.contract([number], (this_month(-1), this_month(1)), contract_id=contract)
    await asyncio.sleep(1)
    assert (await world.decision(owner, configuration))["download"]["allowed"] is False


async def test_an_activation_racing_an_expiry_does_not_cover_the_expired_contract_again(pool: Pool) -> None:
    """The consumer runs several messages at once: an activation (a redelivered duplicate) that starts while the
    contract's expiry is being committed must not bring the coverage back (ITS-7: access ends when it is taken)."""
    contract, numbers = uuid.uuid4(), [new_number()]
    period = Period(Month(2026, 1), Month(2026, 12))
    async with pool.acquire() as conn:
        await entitlement_store.cover(conn, contract, numbers, period)
    async with pool.acquire() as expiring, pool.acquire() as activating:
        expiry = expiring.transaction()
        await expiry.start()
        await entitlement_store.uncover(expiring, contract, datetime.now(UTC))

        async def duplicate_activation() -> None:
            async with activating.transaction():
                await entitlement_store.cover(activating, contract, numbers, period)

        duplicate = asyncio.create_task(duplicate_activation())
        await asyncio.sleep(0.3)  # the activation is under way while the expiry is not yet committed
        await expiry.commit()
        await asyncio.wait_for(duplicate, timeout=10)
        covered = await activating.fetchval("SELECT count(*) FROM contract_coverage WHERE contract_id = $1", contract)
    assert covered == 0


async def test_pending_registration_transfer_and_the_member_right(world: World) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    configuration = unique_configuration()
    later = datetime.now(UTC) + timedelta(hours=1)
    number = await world.product(first, configuration, edition="BASIC", active_from=later, event=ProductRegistered)
    await world.until(world.headers(first), configuration, "registration-pending", False)

    activated_at = datetime.now(UTC)
    await world.product(first, configuration, edition="BASIC", number=number, occurred_at=activated_at)
    await world.until(world.headers(first), configuration, None, True)
    user = world.headers(first, role="user", rights=())
    await world.until(user, configuration, "its-access-right-missing", False)  # SUB-5

    # An operator's transfer moves it: the old subscriber loses it at once, the new one gets it.
    occurred = datetime.now(UTC)
    await world.publish(
        ProductTransferred(
            registration_number=number,
            subscriber_id=second,
            subscriber_code="CL-0000002",
            article="4601546041791",
            product_name="BASIC",
            edition="BASIC",
            configurations=[configuration],
            its_required=False,
            purchase_date=date(2025, 1, 10),
            registered_by="partner",
            active_from=occurred - timedelta(days=1),
            from_subscriber_id=first,
            from_subscriber_code="CL-0000001",
            reason="sold the business",
        ),
        "registration",
        occurred_at=occurred,
    )
    await world.until(world.headers(second), configuration, None, True)
    assert (await world.decision(world.headers(first), configuration))["visible"] is False
    # The old activation redelivered after the transfer does not move it back.
    await world.product(first, configuration, edition="BASIC", number=number, occurred_at=activated_at)
    await asyncio.sleep(1)
    assert (await world.decision(world.headers(second), configuration))["download"]["allowed"] is True


async def test_malformed_events_are_set_aside(world: World) -> None:
    subscriber = uuid.uuid4()
    configuration = unique_configuration()
    number = await world.product(subscriber, configuration, purchase_date=datetime.now(UTC).date())
    await world.publish(
        ProductChanged(
            article="4601546041807",
            name="Accounting PROF",
            edition="PROF",
            configurations=[configuration],
            pin_envelope=True,
            its_required=True,
        ),
        "registration",
    )
    # A contract whose period ends before it starts, and an event missing its fields.
    await world.contract([number], (this_month(1), this_month(-1)))
    await world.bus.publish(
        ContractActivated.TYPE, b'{"data": {}}', message_id=str(uuid.uuid4()), message_type=ContractActivated.TYPE
    )
    item = await world.until(world.headers(subscriber), configuration, None, True)  # the free period still counts
    assert item["support_end"] is not None


async def test_plans_links_and_isolation(world: World) -> None:
    subscriber, stranger = uuid.uuid4(), uuid.uuid4()
    configuration = unique_configuration()
    await world.product(subscriber, configuration, purchase_date=datetime.now(UTC).date())  # free period
    content = b"x" * 70_000
    await world.release(configuration, "3.0.40.10", [])
    await world.release(configuration, "3.0.41.20", ["3.0.40.10"])
    await world.release(configuration, "3.0.42.5", ["3.0.40.10", "3.0.41.20"], content=content)
    owner = world.headers(subscriber)
    await world.until(owner, configuration, None, True)

    body = {"configuration": configuration, "version": "3.0.40.10", "platform_version": "8.3.24.1342"}
    status, plan, _ = await world.call("POST", "/v1/update-plan", owner, json=body)
    assert status == 200, plan
    assert [(s["from_version"], s["version"]) for s in plan["steps"]] == [("3.0.40.10", "3.0.42.5")]
    [kit] = plan["steps"][0]["kits"]
    assert kit["sha256"] == hashlib.sha256(content).hexdigest() and kit["url"].startswith("http")
    # Written straight from plain values: exactly what the documented model writes (fields, order, formats).
    assert UpdatePlan.model_validate(plan).model_dump(mode="json") == plan
    assert list(UpdatePlan.model_validate(plan).model_dump(mode="json")) == list(plan)
    assert plan["link_expires_at"].endswith("Z")

    # A release published later is in the next plan at once (the catalogue notification drops the graph).
    await world.release(configuration, "3.0.43.1", ["3.0.42.5"])

    async def longer() -> bool:
        status, plan, _ = await world.call("POST", "/v1/update-plan", owner, json=body)
        return status == 200 and plan["target"] == "3.0.43.1"

    await wait_for(longer, timeout=5, interval=0.1, what="the new release in the plan")

    # The download endpoint: 303 to a signed link, or the link as JSON.
    status, _, headers = await world.call("GET", f"/v1/kits/{kit['id']}/download", owner)
    assert status == 303 and "/dl/" in headers["Location"] and headers["Cache-Control"] == "no-store"
    status, link, _ = await world.call("GET", f"/v1/kits/{kit['id']}/download", {**owner, "Prefer": "no-redirect"})
    assert status == 200 and link["sha256"] == kit["sha256"] and link["size"] == len(content)

    # Another subscriber: no plan, no link, no entitlement (UPD-3).
    other = world.headers(stranger)
    status, refused, _ = await world.call("POST", "/v1/update-plan", other, json=body)
    assert status == 403 and refused["type"] == PROBLEMS + "configuration-not-registered"
    status, refused, _ = await world.call("GET", f"/v1/kits/{kit['id']}/download", other)
    assert status == 403 and refused["type"] == PROBLEMS + "configuration-not-registered"
    status, refused, _ = await world.call("GET", f"/v1/kits/{uuid.uuid4()}/download", owner)
    assert status == 404
    status, refused, _ = await world.call("GET", "/v1/kits/..%2F..%2Fetc/download", owner)
    assert status == 404

    # Bad versions: 422 per field; an unreachable version: 422 saying what can be reached.
    for field, value in (("version", "3.0.x"), ("platform_version", "8,3"), ("target", "../../etc/passwd")):
        status, bad, _ = await world.call("POST", "/v1/update-plan", owner, json={**body, field: value})
        assert status == 422 and field in {e["field"] for e in bad["errors"]}, bad
    status, stuck, _ = await world.call(
        "POST", "/v1/update-plan", owner, json={**body, "version": "3.0.41.20", "target": "3.0.40.10"}
    )
    assert (
        status == 422
        and stuck["type"] == PROBLEMS + "no-update-chain"
        and stuck["reason"] == "target-older-than-current"
    )
    # Hostile bodies.
    for raw in (b"{", b"[]", b'{"configuration": 5}', b"\xff\xfe"):
        status, bad, _ = await world.call(
            "POST", "/v1/update-plan", {**owner, "Content-Type": "application/json"}, data=raw
        )
        assert 400 <= status < 500, bad
