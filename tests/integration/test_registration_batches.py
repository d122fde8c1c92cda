"""A large batch of registration numbers is a deferred job with progress, its PINs shown once (REG-1, REG-2).

The app here issues at most 10 numbers in a request and 7 per chunk of a deferred batch, so that a batch of 25
is deferred and issued in four chunks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.registration import batches, store
from services.registration.app import RegistrationSettings, create_app
from services.registration.pins import pin_hasher
from shared.events.registration import NumbersIssued
from shared.jobs import Job
from tests.infra import RunningApp, TestStack, wait_for
from tests.integration.registration_fixtures import World, keys, pool, publisher
from tests.tokens import TestKeys

__all__ = ["keys", "pool", "publisher"]  # fixtures

AT_ONCE, CHUNK = 10, 7


@pytest.fixture(scope="module")
async def registration(migrated: TestStack, keys: TestKeys) -> AsyncIterator[RunningApp]:
    settings = RegistrationSettings(issue_at_once=AT_ONCE, issue_chunk=CHUNK, jobs_poll_seconds=0.05)
    async with RunningApp(create_app(settings, keys=keys)) as running:
        yield running


@pytest.fixture(scope="module")
def world(migrated: TestStack, keys: TestKeys, registration: RunningApp, publisher: Any, pool: Any) -> World:
    return World(migrated, keys, registration, publisher, pool)


async def ask(world: World, article: str, count: int) -> tuple[int, Any, dict[str, str]]:
    async with world.app.http.post(
        f"/v1/products/{article}/registration-numbers", headers=world.operator(), json={"count": count}
    ) as response:
        return response.status, await response.json(), dict(response.headers)


async def progress(world: World, url: str) -> dict[str, Any]:
    status, batch = await world.call("GET", url, world.operator())
    assert status == 200, batch
    result: dict[str, Any] = batch
    return result


async def test_a_large_batch_is_deferred_shows_its_progress_and_its_pins_once(world: World) -> None:
    article = await world.product("BASIC")
    started = time.monotonic()
    status, accepted, headers = await ask(world, article, 25)
    answered_in = time.monotonic() - started
    assert status == 202, accepted
    assert headers["Location"] == accepted["url"] == f"/v1/number-batches/{accepted['batch_id']}"
    assert (accepted["count"], accepted["with_pin"], accepted["article"]) == (25, True, article)
    assert len(accepted["key"]) == 43 and "items" not in accepted
    assert answered_in < 2.0, answered_in  # nothing hashed in the request

    seen: list[int] = []

    async def done() -> dict[str, Any] | None:
        batch = await progress(world, accepted["url"])
        seen.append(batch["issued"])
        return batch if batch["state"] == "done" else None

    batch = await wait_for(done, timeout=60, interval=0.02, what="the batch to be issued")
    assert batch["issued"] == 25 and batch["finished_at"] is not None
    assert set(seen) <= {0, 7, 14, 21, 25} and seen == sorted(seen)  # chunk by chunk, committed with progress

    # Not with another key (another operator's, or none of this batch's): nothing is shown, nothing lost.
    status, problem = await world.call("POST", f"{accepted['url']}/delivery", world.operator(), json={"key": "A" * 43})
    assert status == 403, problem
    status, shown = await world.call(
        "POST", f"{accepted['url']}/delivery", world.operator(), json={"key": accepted["key"]}
    )
    assert status == 200, shown
    items = shown["items"]
    assert (shown["batch_id"], shown["article"], len(items)) == (accepted["batch_id"], article, 25)
    assert len({i["registration_number"] for i in items}) == 25 and all(len(i["pin"]) == 12 for i in items)

    # Once: the sealed numbers are gone with the answer.
    status, problem = await world.call(
        "POST", f"{accepted['url']}/delivery", world.operator(), json={"key": accepted["key"]}
    )
    assert status == 410 and problem["type"].endswith("/batch-delivered"), problem
    assert (await progress(world, accepted["url"]))["state"] == "delivered"
    async with world.pool.acquire() as conn:
        sealed = await conn.fetchval(
            "SELECT count(*) FROM sealed_numbers WHERE batch_id = $1", uuid.UUID(accepted["batch_id"])
        )
        stored = await conn.fetch(
            "SELECT number, pin_hash FROM registration_numbers WHERE batch_id = $1", uuid.UUID(accepted["batch_id"])
        )
    assert sealed == 0
    hashes = {row["number"]: row["pin_hash"] for row in stored}
    assert set(hashes) == {i["registration_number"] for i in items}
    hasher = pin_hasher()
    assert all(hasher.verify(hashes[i["registration_number"]], i["pin"]) for i in items[:5])

    # Every number is announced, by the chunk that issued it.
    announced = await world.outbox(NumbersIssued.TYPE, article)
    assert sorted(n for e in announced for n in e["data"]["registration_numbers"]) == sorted(hashes)
    assert {e["data"]["batch_id"] for e in announced} == {accepted["batch_id"]}

    # The PINs work: the owner registers with one.
    customer = await world.customer()
    status, registered = await world.register_with_pin(customer, items[0]["registration_number"], items[0]["pin"])
    assert status == 202, registered


async def test_a_small_batch_stays_in_its_answer(world: World) -> None:
    article = await world.product("BASIC")
    status, answer, _ = await ask(world, article, AT_ONCE)
    assert status == 201 and len(answer["items"]) == AT_ONCE and all(i["pin"] for i in answer["items"])


async def test_a_batch_being_issued_is_not_shown_and_nobody_but_operators_sees_batches(world: World) -> None:
    article = await world.product("BASIC")
    async with world.pool.acquire() as conn, conn.transaction():
        product = await store.product(conn, article)
        assert product is not None
        # Its first chunk due in the far future: the batch stays "issuing" for this test.
        pending = await batches.start(
            conn,
            product,
            with_pin=True,
            count=50,
            requested_by=uuid.uuid4(),
            now=datetime(2100, 1, 1, tzinfo=UTC),
        )
    batch = await progress(world, pending.url)
    assert (batch["state"], batch["issued"], batch["count"]) == ("issuing", 0, 50)
    status, problem = await world.call("POST", f"{pending.url}/delivery", world.operator(), json={"key": pending.key})
    assert status == 409 and "0 of 50" in problem["detail"], problem

    customer = await world.customer()
    for method, path, body in (("GET", pending.url, None), ("POST", f"{pending.url}/delivery", {"key": pending.key})):
        status, _ = await world.call(method, path, world.owner(customer), json=body)
        assert status == 403, (method, path)
    for path in (f"/v1/number-batches/{uuid.uuid4()}", "/v1/number-batches/not-an-id"):
        status, _ = await world.call("GET", path, world.operator())
        assert status == 404, path
    status, problem = await world.call("POST", f"{pending.url}/delivery", world.operator(), json={})
    assert status == 422, problem


async def test_undelivered_pins_are_purged_after_a_week(world: World) -> None:
    article = await world.product("BASIC", pin_envelope=False)
    status, accepted, _ = await ask(world, article, 12)
    assert status == 202 and accepted["with_pin"] is False

    async def done() -> bool:
        return bool((await progress(world, accepted["url"]))["state"] == "done")

    await wait_for(done, timeout=60, interval=0.05, what="the batch to be issued")
    batch_id = uuid.UUID(accepted["batch_id"])
    async with world.pool.acquire() as conn:
        finished = await conn.fetchval("SELECT finished_at FROM number_batches WHERE id = $1", batch_id)
        await batches.SEALED_PINS_PURGE.handle(conn, _job(run_at=finished + batches.KEEP_SEALED + timedelta(seconds=1)))
        assert await conn.fetchval("SELECT count(*) FROM sealed_numbers WHERE batch_id = $1", batch_id) == 0
    assert (await progress(world, accepted["url"]))["state"] == "purged"
    status, problem = await world.call(
        "POST", f"{accepted['url']}/delivery", world.operator(), json={"key": accepted["key"]}
    )
    assert status == 410, problem


def _job(run_at: datetime) -> Job:
    return Job(id=0, kind=batches.PURGE_JOB, payload={}, run_at=run_at, attempts=0, max_attempts=1)
