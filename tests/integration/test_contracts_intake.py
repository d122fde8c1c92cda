"""A partner's POST is one statement (migration 0005's `receive_contract`, issue 19): what it stores together, and
that a refusal stores nothing, the key included."""

from __future__ import annotations

import uuid

from services.contracts.processing import PROCESS_JOB
from tests.integration.contracts_fixtures import World, contracts, keys, moscow, new_number, pool, publisher, world

__all__ = ["contracts", "keys", "pool", "publisher", "world"]  # fixtures


async def test_every_problem_is_refused_at_once_and_the_key_is_free_for_the_corrected_contract(world: World) -> None:
    partner = await world.partner()
    [main, additional] = await world.issued(count=2)
    unknown_main, unknown_additional = new_number(), new_number()
    key = uuid.uuid4().hex
    body = world.contract_body(main, period=("2026-12", "2027-11"), additional=[additional])
    async with world.clock_at(moscow("2026-12-01 10:00")):
        wrong = {
            **body,
            "organisation": {"name": "Romashka", "tin": "7707083894", "kpp": "773601001"},
            "period": {"from": "2025-01", "to": "2025-12"},
            "main_registration_number": unknown_main,
            "additional_registration_numbers": [unknown_additional, unknown_additional],
        }
        status, problem = await world.post_contract(partner, wrong, key)
        assert status == 422, problem
        assert [e["field"] for e in problem["errors"]] == [
            "period.to",
            "organisation.tin",
            "additional_registration_numbers",  # repeated
            "main_registration_number",  # unknown, in the order posted (as before: once for each time it is named)
            "additional_registration_numbers",
            "additional_registration_numbers",
        ]
        async with world.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM contracts WHERE number = $1", body["number"]) == 0
            assert await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = $1", key) == 0

        status, answer = await world.post_contract(partner, body, key)  # nothing was kept for the key
        assert status == 202, answer


async def test_an_accepted_contract_is_stored_with_its_numbers_job_event_and_kept_answer(world: World) -> None:
    partner = await world.partner()
    [main, additional, second] = await world.issued(count=3)
    async with world.clock_at(moscow("2026-12-01 10:00")):
        key = uuid.uuid4().hex
        body = world.contract_body(main, period=("2026-12", "2027-11"), additional=[additional])
        status, answer = await world.post_contract(partner, body, key)
        assert status == 202 and answer["state"] == "processing" and answer["processing_on"] == "2026-12-02"
        async with world.pool.acquire() as conn:
            numbers = await conn.fetch(
                "SELECT registration_number, is_main FROM contract_numbers WHERE contract_id = $1 "
                "ORDER BY registration_number",
                uuid.UUID(answer["id"]),
            )
            assert {(r["registration_number"], r["is_main"]) for r in numbers} == {(main, True), (additional, False)}
            kept = await conn.fetchrow(
                "SELECT status, response FROM idempotency_keys WHERE partner_id = $1 AND key = $2", partner.id, key
            )
            assert kept is not None and (kept["status"], kept["response"]) == (202, answer)
            moment = await conn.fetchval("SELECT effective_at FROM contracts WHERE id = $1", uuid.UUID(answer["id"]))
            job_key = f"process:{moment.astimezone(moscow('2026-12-01 10:00').tzinfo).isoformat()}"
            jobs = await conn.fetch("SELECT kind, state FROM deferred_jobs WHERE dedupe_key = $1", job_key)
            assert [(j["kind"], j["state"]) for j in jobs] == [(PROCESS_JOB, "pending")]
        [received] = await world.outbox("contracts.contract.received", answer["id"])
        assert received["data"]["number"] == body["number"] and received["producer"] == "contracts"
        assert received["data"]["additional_registration_numbers"] == [additional]

        # The same day's moment: the job is the same one. Once it has run, a contract due then re-arms it.
        status, answer = await world.post_contract(partner, world.contract_body(second, period=("2026-12", "2027-11")))
        assert status == 202
        async with world.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM deferred_jobs WHERE dedupe_key = $1", job_key) == 1
            await conn.execute("UPDATE deferred_jobs SET state = 'done' WHERE dedupe_key = $1", job_key)
        status, answer = await world.post_contract(partner, world.contract_body(second, period=("2027-01", "2027-12")))
        assert status == 202
        async with world.pool.acquire() as conn:
            assert await conn.fetchval("SELECT state FROM deferred_jobs WHERE dedupe_key = $1", job_key) == "pending"
