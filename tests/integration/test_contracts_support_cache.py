"""The support statuses contracts keeps (issue 19, support_cache.py): a kept answer is dropped when anything it was
read from changes, announced by the tables' triggers (migration 0006), not when CACHE_SECONDS happen to pass."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import asyncpg
import pytest

from services.contracts.keys import SUPPORT_CACHE
from services.contracts.support_cache import CACHE_SECONDS, CHANNEL
from shared.events.identity import PartnerCreated
from tests.infra import TestStack, wait_for
from tests.integration.contracts_fixtures import VALID_TIN, World, contracts, keys, moscow, pool, publisher, world
from tests.integration.test_contracts_support_status import activate, status_of

__all__ = ["contracts", "keys", "pool", "publisher", "world"]  # fixtures

NOTICED_WITHIN = 5.0  # seconds: well inside CACHE_SECONDS, so only the notification can have dropped the answer
assert NOTICED_WITHIN < CACHE_SECONDS / 3


async def test_a_kept_status_follows_each_change_of_what_it_was_read_from(world: World) -> None:
    partner = await world.partner("Franchisee Kept")
    customer, other = await world.customer(), await world.customer()
    configuration = await world.configuration(1)
    [main] = await world.issued("PROF", configurations=[configuration])
    await world.register(customer, main, purchase_date=date(2024, 1, 10))  # the free months long over
    token = world.owner(customer, "user")
    kept = world.app.app[SUPPORT_CACHE]

    async def becomes(check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        async def changed() -> dict[str, Any] | None:
            answer = await status_of(world, token, main, configuration)
            return answer if check(answer) else None

        answer: dict[str, Any] = await wait_for(changed, timeout=NOTICED_WITHIN, interval=0.05, what=what)
        return answer

    async with world.clock_at(moscow("2026-12-01 10:00")):
        status, answer = await world.post_contract(partner, world.contract_body(main, period=("2026-12", "2027-11")))
        assert status == 202, answer
        await world.set_clock(moscow("2026-12-02 00:00"))
        await world.wait_state(answer["id"], "active")

        # Kept: the second poll of the day is answered from memory.
        first = await status_of(world, token, main, configuration)
        assert (first["its_contract"], first["maintenance_service"]) == ("OK", "NO_ACTIVATIONS")
        assert first["partner"] == {"name": "Franchisee Kept", "email": partner.email}
        assert await status_of(world, token, main, configuration) == first
        assert len(kept) > 0

        # An activation (the maintenance API): its subscriber's answers go.
        await activate(world, customer, main)
        await becomes(lambda s: s["maintenance_service"] == "OK", "the activation in the support status")

        # The partner renamed (identity's event): every answer may show it.
        await world.publish(
            PartnerCreated(
                partner_id=partner.id,
                name="Franchisee Renamed",
                tin=VALID_TIN,
                city="Kazan",
                contact_email=partner.email,
            ),
            "identity",
        )
        await becomes(lambda s: s["partner"]["name"] == "Franchisee Renamed", "the partner's new name")

        # The contract ends (what the expiry job's UPDATE does, to this contract alone).
        async with world.pool.acquire() as conn:
            await conn.execute(
                "UPDATE contracts SET state = 'expired', expired_at = now() WHERE id = $1", uuid.UUID(answer["id"])
            )
        await becomes(lambda s: s["its_contract"] == "NO_CONTRACT", "the contract's end")

        # The number transferred to another subscriber: the first one's answer goes too.
        await world.register(other, main, purchase_date=date(2024, 1, 10))
        await becomes(lambda s: s["registration"] == "NOT_REGISTERED", "the transfer")


@pytest.fixture
async def announced(migrated: TestStack) -> AsyncIterator[list[str]]:
    """The payloads on CHANNEL while the test runs."""
    payloads: list[str] = []
    conn = await asyncpg.connect(migrated.database_url)
    await conn.add_listener(CHANNEL, lambda _c, _p, _ch, payload: payloads.append(payload))
    try:
        yield payloads
    finally:
        await conn.close()


async def test_the_triggers_announce_whom_a_change_concerns(world: World, announced: list[str]) -> None:
    """A contract's organisation corrected changes no status: nothing announced. A statement that activates the
    contracts of more than 100 subscribers announces one empty payload (everyone) instead of one each."""
    subscribers = [uuid.uuid4() for _ in range(101)]
    numbers = [f"9{index:010d}{uuid.uuid4().int % 10**6:06d}" for index in range(101)]
    contract_ids = [uuid.uuid4() for _ in subscribers]
    async with world.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO numbers (number, article, edition, subscriber_id, registration) "
            "SELECT n, 'bulk', 'PROF', s, 'active' FROM unnest($1::text[], $2::uuid[]) AS t (n, s)",
            numbers,
            subscribers,
        )
        await conn.execute(
            "INSERT INTO contracts (id, partner_id, number, org_name, tin, main_number, period_from, period_to, kind,"
            " state, received_at, processing_on, effective_at, expires_at) "
            "SELECT c, $3, 'ITS-' || n, 'Romashka LLC', $4, n, '2026-12', '2027-11', 'ITS PROF', 'processing',"
            " now(), current_date, now(), now() + interval '1 year' FROM unnest($1::uuid[], $2::text[]) AS t (c, n)",
            contract_ids,
            numbers,
            uuid.uuid4(),
            VALID_TIN,
        )
        await conn.execute(
            "INSERT INTO contract_numbers (contract_id, registration_number, is_main) "
            "SELECT c, n, true FROM unnest($1::uuid[], $2::text[]) AS t (c, n)",
            contract_ids,
            numbers,
        )
    ours = {str(s) for s in subscribers}
    await wait_for(lambda: ours <= set(announced), timeout=5, what="each registration announced")
    announced.clear()

    async with world.pool.acquire() as conn:
        await conn.execute("UPDATE contracts SET state = 'active' WHERE id = ANY($1::uuid[])", contract_ids)
        await wait_for(lambda: "" in announced, timeout=5, what="the batch announced to everyone")
        assert not ours & set(announced)  # once for all, not 101 times

        announced.clear()
        await conn.execute("UPDATE contracts SET org_name = 'Romashka JSC' WHERE id = $1", contract_ids[0])
        await conn.execute("UPDATE contracts SET state = 'expired' WHERE id = $1", contract_ids[1])
        await wait_for(lambda: str(subscribers[1]) in announced, timeout=5, what="the expiry announced")
        await asyncio.sleep(0.2)
        assert str(subscribers[0]) not in announced  # the organisation is not in any status
