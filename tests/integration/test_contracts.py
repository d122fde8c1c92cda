"""contracts against the real PostgreSQL and RabbitMQ, on the shared test clock.

Rules ITS-1..7, CMS-1..7, MON-1. Registration's and identity's events are published to the broker
as those services would; the next-business-day processing runs as the service's own deferred job.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from aiohttp import web

from services.contracts.processing import PROCESS_JOB
from tests.infra import RunningApp, wait_for
from tests.integration.contracts_fixtures import World, contracts, keys, moscow, new_number, pool, publisher, world

__all__ = ["contracts", "keys", "pool", "publisher", "world"]  # fixtures

PROBLEM = "https://its-portal.dev/problems/"


async def count_contracts(world: World) -> int:
    async with world.pool.acquire() as conn:
        n: int = await conn.fetchval("SELECT count(*) FROM contracts")
        return n


# ---- ITS-2: the next business day ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "processed_on"),
    [
        ("2026-11-27 23:59", "2026-11-30"),  # Friday evening -> Monday
        ("2026-11-28 00:01", "2026-11-30"),  # Saturday (Friday 21:01 UTC) -> Monday as well
        ("2026-11-26 23:59", "2026-11-27"),  # Thursday 23:59 -> Friday
        ("2026-11-27 00:01", "2026-11-30"),  # Friday 00:01 (Thursday 21:01 UTC) -> Monday
        ("2026-12-30 12:00", "2027-01-11"),  # the eve of the New Year block -> its first working day
        ("2027-02-19 10:00", "2027-02-20"),  # Friday -> a Saturday that is a working day by decree
        ("2027-02-20 10:00", "2027-02-24"),  # that Saturday -> Wednesday (22 Feb day off, 23 Feb holiday)
    ],
)
async def test_a_contract_is_processed_at_the_start_of_the_next_business_day(
    world: World, received: str, processed_on: str
) -> None:
    partner = await world.partner()
    [main] = await world.issued()
    customer = await world.customer()
    await world.register(customer, main)
    effective = moscow(f"{processed_on} 00:00")
    async with world.clock_at(moscow(received)):
        period = (received[:7], f"{int(received[:4]) + 1}{received[4:7]}")
        status, answer = await world.post_contract(partner, world.contract_body(main, period=period))
        assert status == 202, answer
        assert answer == {"id": answer["id"], "state": "processing", "processing_on": processed_on}
        status, listed = await world.call("GET", "/v1/contracts", world.owner(customer))
        assert listed["items"] == []  # in processing: not in the list yet (ITS-2)

        await world.set_clock(effective - timedelta(seconds=2))
        await asyncio.sleep(1)
        assert await world.state(answer["id"]) == "processing"  # not a second early

        await world.set_clock(effective)
        await world.wait_state(answer["id"], "active")
        status, listed = await world.call("GET", "/v1/contracts", world.owner(customer))
        assert [c["id"] for c in listed["items"]] == [answer["id"]]
        assert listed["items"][0]["processing_on"] == processed_on and listed["items"][0]["partner"] == partner.name
        assert listed["items"][0]["partner_id"] == str(partner.id)  # for identity's partner directory
    [activated] = await world.outbox("contracts.contract.activated", answer["id"])
    assert activated["data"]["partner_email"] == partner.email
    assert activated["data"]["additional_registration_numbers"] == []


async def test_processing_is_one_batch_at_a_time_and_never_twice(world: World) -> None:
    partner = await world.partner()
    numbers = await world.issued(count=30)
    ids = []
    async with world.clock_at(moscow("2026-12-01 10:00")):  # a Tuesday
        for number in numbers:
            status, answer = await world.post_contract(
                partner, world.contract_body(number, period=("2026-12", "2027-11"))
            )
            assert status == 202
            ids.append(answer["id"])
        await world.set_clock(moscow("2026-12-02 00:00"))
        for contract_id in ids:
            await world.wait_state(contract_id, "active")
        # The day's job may run again (a crash before its commit, a second replica): nothing changes.
        async with world.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO deferred_jobs (kind, payload, run_at) VALUES ($1, '{}', now())", PROCESS_JOB
            )
        await asyncio.sleep(1.5)
    for contract_id in ids:
        assert len(await world.outbox("contracts.contract.activated", contract_id)) == 1


async def test_a_contract_expires_after_its_last_month(world: World) -> None:
    partner = await world.partner()
    [main] = await world.issued()
    async with world.clock_at(moscow("2026-12-01 10:00")):
        status, answer = await world.post_contract(partner, world.contract_body(main, period=("2026-12", "2026-12")))
        assert status == 202
        await world.set_clock(moscow("2026-12-02 00:00"))
        await world.wait_state(answer["id"], "active")
        await world.set_clock(moscow("2026-12-31 23:59"))
        await asyncio.sleep(1)
        assert await world.state(answer["id"]) == "active"  # the whole last month is covered
        await world.set_clock(moscow("2027-01-01 00:00"))
        await world.wait_state(answer["id"], "expired")
    [expired] = await world.outbox("contracts.contract.expired", answer["id"])
    assert expired["data"]["period_to"] == "2026-12"


# ---- ITS-1: what a partner may post -----------------------------------------------------------


async def test_idempotency_key_replays_refuses_another_body_and_a_concurrent_retry(world: World) -> None:
    partner = await world.partner()
    [main, other] = await world.issued(count=2)
    body = world.contract_body(main, period=("2026-12", "2027-11"))
    key = uuid.uuid4().hex
    async with world.clock_at(moscow("2026-12-01 10:00")):
        first = await world.post_contract(partner, body, key)
        again = await world.post_contract(partner, {**body}, key)
        assert first[0] == again[0] == 202 and first[1] == again[1]
        status, problem = await world.post_contract(partner, {**body, "main_registration_number": other}, key)
        assert status == 422 and problem["type"] == PROBLEM + "idempotency-key-reused"

        # A retry while the first is still being processed: 409 (the key's lock is held here meanwhile).
        busy_key = uuid.uuid4().hex
        async with world.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('idempotency:' || $1 || ':' || $2, 0))",
                str(partner.id),
                busy_key,
            )
            status, problem = await world.post_contract(
                partner, world.contract_body(other, period=("2026-12", "2027-11")), busy_key
            )
        assert status == 409 and problem["type"] == PROBLEM + "request-in-progress"

        # Keys are per partner: another partner's same key is a new request.
        stranger = await world.partner("Franchisee Two")
        status, _ = await world.post_contract(stranger, world.contract_body(other, period=("2026-12", "2027-11")), key)
        assert status == 202

        # Concurrent retries of one request: one contract, every answer the same or "in progress".
        racing_key, racing = uuid.uuid4().hex, world.contract_body(other, period=("2026-12", "2027-11"))
        answers = await asyncio.gather(*(world.post_contract(partner, racing, racing_key) for _ in range(8)))
        assert {status for status, _ in answers} <= {202, 409}
        assert len({a["id"] for status, a in answers if status == 202}) == 1
    async with world.pool.acquire() as conn:
        n = await conn.fetchval("SELECT count(*) FROM contracts WHERE number = $1", racing["number"])
    assert n == 1


BAD_CONTRACTS: list[tuple[str, dict[str, Any]]] = [
    ("organisation.tin", {"organisation": {"name": "Romashka", "tin": "7707083894", "kpp": "773601001"}}),
    ("organisation.tin", {"organisation": {"name": "Romashka", "tin": "77070838", "kpp": "773601001"}}),
    ("organisation.kpp", {"organisation": {"name": "Romashka", "tin": "7707083893", "kpp": "77360100"}}),
    ("organisation.kpp", {"organisation": {"name": "Romashka", "tin": "7707083893"}}),
    ("organisation.kpp", {"organisation": {"name": "Ivanov", "tin": "500100732259", "kpp": "773601001"}}),
    ("period.to", {"period": {"from": "2026-12", "to": "2026-13"}}),
    ("period.from", {"period": {"from": "2026-1", "to": "2027-01"}}),
    ("period", {"period": {"from": "2027-05", "to": "2027-01"}}),
    ("period.to", {"period": {"from": "2025-01", "to": "2025-12"}}),
    ("main_registration_number", {"main_registration_number": "12345678903"}),
    ("additional_registration_numbers", {"additional_registration_numbers": ["12345678903"]}),
    ("number", {"number": "has spaces"}),
    ("kind", {"kind": ""}),
    ("(body)", {"unexpected": "field"}),
]


@pytest.mark.parametrize(("field", "change"), BAD_CONTRACTS)
async def test_bad_contracts_are_refused_field_by_field_and_nothing_is_stored(
    world: World, field: str, change: dict[str, Any]
) -> None:
    partner = await world.partner()
    [main] = await world.issued()
    before = await count_contracts(world)
    async with world.clock_at(moscow("2026-12-01 10:00")):
        status, problem = await world.post_contract(
            partner, {**world.contract_body(main, period=("2026-12", "2027-11")), **change}
        )
    assert status == 422, problem
    assert field in {e["field"] for e in problem["errors"]} or field == "(body)"
    assert await count_contracts(world) == before


async def test_the_partner_api_needs_a_partner_a_key_and_a_new_number(world: World) -> None:
    partner = await world.partner()
    [main] = await world.issued()
    customer = await world.customer()
    body = world.contract_body(main, period=("2026-12", "2027-11"))
    async with world.clock_at(moscow("2026-12-01 10:00")):
        status, problem = await world.call("POST", "/v1/contracts", world.partner_token(partner), json=body)
        assert status == 400 and problem["type"] == PROBLEM + "idempotency-key-missing"
        status, problem = await world.call(
            "POST", "/v1/contracts", {**world.owner(customer), "Idempotency-Key": "k1"}, json=body
        )
        assert status == 403 and problem["type"] == PROBLEM + "partner-only"
        status, _ = await world.post_contract(partner, body)
        assert status == 202
        status, problem = await world.post_contract(partner, body)  # another key, the same contract number
        assert status == 409 and problem["type"] == PROBLEM + "contract-number-taken"
        status, problem = await world.post_contract(partner, body, key="has spaces in it")
        assert status == 400


async def test_a_partner_sees_and_corrects_only_its_own_contracts(world: World) -> None:
    partner, stranger = await world.partner(), await world.partner("Franchisee Two")
    [main] = await world.issued()
    async with world.clock_at(moscow("2026-12-01 10:00")):
        status, answer = await world.post_contract(partner, world.contract_body(main, period=("2026-12", "2027-11")))
        contract_id = answer["id"]
        status, own = await world.call("GET", "/v1/partner/contracts", world.partner_token(partner))
        assert [c["id"] for c in own["items"]] == [contract_id] and own["items"][0]["state"] == "processing"
        status, theirs = await world.call("GET", "/v1/partner/contracts", world.partner_token(stranger))
        assert theirs["items"] == []
        status, one = await world.call("GET", f"/v1/partner/contracts/{contract_id}", world.partner_token(partner))
        assert status == 200 and one == own["items"][0]
        for token, path in (
            (world.partner_token(stranger), f"/v1/partner/contracts/{contract_id}"),  # another partner's
            (world.partner_token(partner), f"/v1/partner/contracts/{uuid.uuid4()}"),
            (world.partner_token(partner), "/v1/partner/contracts/not-an-id"),
        ):
            status, _ = await world.call("GET", path, token)
            assert status == 404, path

        fixed = {"name": "Romashka JSC", "tin": "7736050003", "kpp": "773601001"}
        path = f"/v1/contracts/{contract_id}/organisation"
        status, _ = await world.call("PATCH", path, world.partner_token(stranger), json=fixed)
        assert status == 404
        status, problem = await world.call(
            "PATCH", path, world.partner_token(partner), json={**fixed, "tin": "7736050004"}
        )
        assert status == 422 and problem["errors"][0]["field"] == "tin"
        status, corrected = await world.call("PATCH", path, world.partner_token(partner), json=fixed)
        assert status == 200 and corrected["organisation"] == {
            "name": "Romashka JSC",
            "tin": "7736050003",
            "kpp": "773601001",
        }
    assert len(await world.outbox("contracts.contract.organisation_corrected", contract_id)) == 1


# ---- what subscribers see (ITS-3..7) ----------------------------------------------------------


async def test_why_a_contract_is_not_listed_has_an_answer_for_every_case(world: World) -> None:
    partner = await world.partner()
    owner, stranger = await world.customer(), await world.customer()
    [mine, unregistered, theirs] = await world.issued(count=3)
    await world.register(owner, mine)
    await world.register(stranger, theirs)

    async def why(customer: Any, number: str, **query: str) -> dict[str, Any]:
        status, answer = await world.call(
            "GET", "/v1/contracts/why-not-listed", world.owner(customer), params={"number": number, **query}
        )
        assert status == 200, answer
        result: dict[str, Any] = answer
        return result

    async with world.clock_at(moscow("2026-12-01 10:00")):
        listed = world.contract_body(mine, period=("2026-12", "2027-11"))
        needs_registration = world.contract_body(
            unregistered, period=("2026-12", "2027-11"), subscriber_code=owner.code
        )
        others = world.contract_body(theirs, period=("2026-12", "2027-11"))
        ids = {}
        for name, body in (("listed", listed), ("register", needs_registration), ("others", others)):
            status, answer = await world.post_contract(partner, body)
            assert status == 202, answer
            ids[name] = answer["id"]

        processing = await why(owner, listed["number"])
        assert processing["reason"] == "processing" and processing["processing_until"] == "2026-12-02"

        await world.set_clock(moscow("2026-12-02 00:00"))
        for contract_id in ids.values():
            await world.wait_state(contract_id, "active")
        assert (await why(owner, listed["number"]))["reason"] == "listed"
        answer = await why(owner, needs_registration["number"])
        assert answer["reason"] == "product_not_registered" and answer["register_numbers"] == [unregistered]
        assert (await why(owner, f"NO-SUCH-{uuid.uuid4().hex[:6]}"))["reason"] == "unknown"
        # Another subscriber's contract: the same answer as no contract at all, nothing of it told.
        probe = await why(owner, others["number"])
        assert probe == {**probe, "reason": "unknown", "register_numbers": [], "processing_until": None, "ended": None}
        probe = await why(owner, others["number"], registration_number=theirs)
        assert probe["reason"] == "unknown"

        await world.set_clock(moscow("2027-12-01 00:00"))
        await world.wait_state(ids["listed"], "expired")
        expired = await why(owner, listed["number"])
        assert expired["reason"] == "expired" and expired["ended"] == "2027-11-30"
        _status, now_listed = await world.call("GET", "/v1/contracts", world.owner(owner))
        assert now_listed["items"] == []  # ITS-3: only contracts valid now or later


async def test_free_period_and_contract_coverage(world: World) -> None:
    partner = await world.partner()
    customer = await world.customer()
    [prof] = await world.issued("PROF")
    [basic] = await world.issued("BASIC")
    await world.register(customer, prof, purchase_date=date(2026, 10, 20))
    await world.register(customer, basic, purchase_date=date(2020, 1, 1))

    async def covered(number: str, month: str) -> dict[str, Any]:
        status, answer = await world.call(
            "GET", "/v1/coverage", world.owner(customer), params={"registration_number": number, "month": month}
        )
        assert status == 200, answer
        result: dict[str, Any] = answer
        return result

    async with world.clock_at(moscow("2026-12-01 10:00")):
        free = await covered(prof, "2027-03")
        assert (free["covered"], free["by"], free["until"]) == (True, "free_period", "2027-03")
        assert free["free_period"] == {"from": "2026-10", "to": "2027-03"}
        assert (await covered(prof, "2027-04"))["covered"] is False
        assert (await covered(basic, "2031-01"))["by"] == "not_required"  # ITS-7: BASIC needs no contract

        status, answer = await world.post_contract(partner, world.contract_body(prof, period=("2027-04", "2028-03")))
        await world.set_clock(moscow("2026-12-02 00:00"))
        await world.wait_state(answer["id"], "active")
        paid = await covered(prof, "2027-04")
        assert (paid["covered"], paid["by"], paid["until"]) == (True, "contract", "2028-03")

    stranger = await world.customer()
    status, _ = await world.call(
        "GET", "/v1/coverage", world.owner(stranger), params={"registration_number": prof, "month": "2027-04"}
    )
    assert status == 404


async def test_a_subscriber_reports_wrong_organisation_data_to_the_partner(world: World) -> None:
    partner = await world.partner()
    owner, stranger = await world.customer(), await world.customer()
    [main] = await world.issued()
    await world.register(owner, main)
    async with world.clock_at(moscow("2026-12-01 10:00")):
        status, answer = await world.post_contract(partner, world.contract_body(main, period=("2026-12", "2027-11")))
        await world.set_clock(moscow("2026-12-02 00:00"))
        await world.wait_state(answer["id"], "active")
        path = f"/v1/contracts/{answer['id']}/report-organisation-error"
        status, _ = await world.call("POST", path, world.owner(stranger), json={"message": "not ours"})
        assert status == 404
        status, report = await world.call("POST", path, world.owner(owner), json={"message": "Our TIN is 7736050003"})
        assert status == 202 and report["partner"] == partner.name
    [event] = await world.outbox("contracts.organisation_error.reported", answer["id"])
    assert event["data"]["partner_email"] == partner.email and event["data"]["subscriber_code"] == owner.code
    assert event["data"]["message"] == "Our TIN is 7736050003"


# ---- webhooks -------------------------------------------------------------------------------------


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[RunningApp, list[web.Request], list[bytes]]]:
    """A partner system's endpoint: fails the first delivery, accepts the next."""
    requests: list[web.Request] = []
    bodies: list[bytes] = []

    async def hook(request: web.Request) -> web.Response:
        requests.append(request)
        bodies.append(await request.read())
        return web.Response(status=503 if len(requests) == 1 else 204)

    app = web.Application()
    app.router.add_post("/its-hook", hook)
    async with RunningApp(app) as running:
        yield running, requests, bodies


async def test_partner_systems_get_outcomes_by_signed_retried_webhook(
    world: World, receiver: tuple[RunningApp, list[web.Request], list[bytes]]
) -> None:
    endpoint, requests, bodies = receiver
    partner = await world.partner()
    [main] = await world.issued()
    status, hook = await world.call(
        "POST", "/v1/partner/webhook", world.partner_token(partner), json={"url": f"{endpoint.url}/its-hook"}
    )
    assert status == 200 and len(hook["secret"]) >= 32
    status, _problem = await world.call(
        "POST", "/v1/partner/webhook", world.partner_token(partner), json={"url": "http://example.com/hook"}
    )
    assert status == 422  # plain http only to this machine
    async with world.clock_at(moscow("2026-12-01 10:00")):
        status, answer = await world.post_contract(partner, world.contract_body(main, period=("2026-12", "2027-11")))
        await world.set_clock(moscow("2026-12-02 00:00"))
        await world.wait_state(answer["id"], "active")
        await wait_for(lambda: len(requests) >= 1, timeout=15, what="the first delivery")
        await world.set_clock(moscow("2026-12-02 00:01"))  # past the back-off of the failed first try
        await wait_for(lambda: len(requests) >= 2, timeout=15, what="the retried delivery")
        await world.set_clock(moscow("2026-12-02 01:00"))  # long past any further back-off
        await asyncio.sleep(1.5)
    assert len(requests) == 2  # accepted once: never sent again
    request, body = requests[1], bodies[1]
    assert request.headers["X-ITS-Event"] == "contracts.contract.activated"
    timestamp, mac = (part.split("=", 1)[1] for part in request.headers["X-ITS-Signature"].split(","))
    expected = hmac.new(hook["secret"].encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(mac, expected)
    assert bodies[0] == bodies[1]  # the same delivery, retried
    assert answer["id"] in body.decode()


# ---- maintenance services (CMS) and the support status (MON-1) --------------------------------


async def issue_code(world: World, category: int, months: int) -> str:
    status, batch = await world.call(
        "POST",
        "/v1/maintenance-services/codes",
        world.operator(),
        json={"category": category, "months": months, "count": 2},
    )
    assert status == 201, batch
    code: str = batch["codes"][0]
    return code


async def test_maintenance_activation_follows_cms_rules(world: World) -> None:
    partner = await world.partner()
    customer = await world.customer()
    first_category, second_category = await world.configuration(1), await world.configuration(2)
    [main, twin] = await world.issued("PROF", count=2, configurations=[first_category])
    [other] = await world.issued("PROF", configurations=[second_category])
    for number in (main, twin, other):
        await world.register(customer, number)
    code = await issue_code(world, category=1, months=3)
    status, _ = await world.call(
        "POST", "/v1/maintenance-services/codes", world.owner(customer), json={"category": 1, "months": 3, "count": 1}
    )
    assert status == 403

    async with world.clock_at(moscow("2026-12-01 10:00")):
        body = {"code": code, "registration_number": main, "period_from": "2026-12"}
        # CMS-2: a first-category code does not fit a second-category configuration.
        status, problem = await world.call(
            "POST",
            "/v1/maintenance-services/activate",
            world.owner(customer),
            json={**body, "registration_number": other},
        )
        assert status == 422 and problem["reason"] == "category-mismatch"
        # CMS-5: not before the current month.
        status, problem = await world.call(
            "POST", "/v1/maintenance-services/activate", world.owner(customer), json={**body, "period_from": "2026-11"}
        )
        assert status == 422 and problem["reason"] == "start-too-early"
        # SUB-4: owners only.
        status, _ = await world.call(
            "POST", "/v1/maintenance-services/activate", world.owner(customer, "user"), json=body
        )
        assert status == 403
        # CMS-6: no contract: activated, with a warning; CMS-3: it covers both products of the configuration.
        status, activation = await world.call(
            "POST", "/v1/maintenance-services/activate", world.owner(customer), json=body
        )
        assert status == 201, activation
        assert activation["period"] == {"from": "2026-12", "to": "2027-02"}
        assert sorted(activation["registration_numbers"]) == sorted([main, twin])
        assert activation["warning"] and activation["partner_choice"] == "choose-later"
        status, problem = await world.call(
            "POST", "/v1/maintenance-services/activate", world.owner(customer), json=body
        )
        assert status == 409  # a code works once

        # CMS-7: without a valid contract there is no partner to choose yet, later as at activation.
        choose = f"/v1/maintenance-services/{activation['id']}/partner"
        status, problem = await world.call("PUT", choose, world.owner(customer), json={"partner_id": str(partner.id)})
        assert status == 422 and problem["reason"] == "partner-not-accompanying", problem

        # A contract over the period arrives: the first activation's warning is gone when read (CMS-6).
        status, answer = await world.post_contract(partner, world.contract_body(main, period=("2026-12", "2027-11")))
        await world.set_clock(moscow("2026-12-02 00:00"))
        await world.wait_state(answer["id"], "active")
        status, listed = await world.call("GET", "/v1/maintenance-services", world.owner(customer))
        assert status == 200 and [i["warning"] for i in listed["items"]] == [None]

        # CMS-7: a partner that accompanies none of the subscriber's contracts is refused, later as at activation.
        stranger = await world.partner("Franchisee Elsewhere")
        for attempt in ("PUT", "POST"):
            if attempt == "PUT":
                status, problem = await world.call(
                    "PUT", choose, world.owner(customer), json={"partner_id": str(stranger.id)}
                )
            else:
                status, problem = await world.call(
                    "POST",
                    "/v1/maintenance-services/activate",
                    world.owner(customer),
                    json={
                        "code": await issue_code(world, category=1, months=1),
                        "registration_number": twin,
                        "period_from": "2027-01",
                        "partner_id": str(stranger.id),
                    },
                )
            assert status == 422 and problem["reason"] == "partner-not-accompanying", (attempt, problem)
            assert problem["choices"] == [str(partner.id)]
        status, chosen = await world.call("PUT", choose, world.owner(customer), json={"partner_id": str(partner.id)})
        assert status == 200 and chosen["partner"] == partner.name and chosen["warning"] is None
        status, _ = await world.call("PUT", choose, world.owner(customer), json={"partner_id": str(partner.id)})
        assert status == 409  # chosen once

        # With a contract over the period: no warning, its partner accompanies.
        second = await issue_code(world, category=1, months=2)
        status, covered = await world.call(
            "POST",
            "/v1/maintenance-services/activate",
            world.owner(customer),
            json={"code": second, "registration_number": twin, "period_from": "2027-03"},
        )
        assert status == 201 and covered["warning"] is None and covered["partner_choice"] == "contract"
        status, listed = await world.call("GET", "/v1/maintenance-services", world.owner(customer))
        assert len(listed["items"]) == 2
    async with world.pool.acquire() as conn:
        events = await conn.fetch(
            "SELECT envelope FROM outbox WHERE routing_key = 'contracts.maintenance.activated' "
            "AND envelope->'data'->>'subscriber_code' = $1 ORDER BY created_at",
            customer.code,
        )
    partners_told = [e["envelope"]["data"]["partner_email"] for e in events]
    assert partners_told == [None, partner.email, partner.email]


async def test_only_a_contract_on_a_product_of_the_configuration_covers_its_maintenance(world: World) -> None:
    """CMS-6, CMS-1 and MON-1 agree: a contract on the Accounting product does not cover Trade's maintenance;
    the warning is computed when read, so a contract that arrives later takes it away."""
    partner = await world.partner()
    customer = await world.customer()
    accounting, trade = await world.configuration(1), await world.configuration(1)
    [with_contract] = await world.issued("PROF", configurations=[accounting])
    [without] = await world.issued("PROF", configurations=[trade])
    long_ago = date(2024, 1, 10)  # the free periods (ITS-7) are over
    for number in (with_contract, without):
        await world.register(customer, number, purchase_date=long_ago)

    async def trade_status() -> dict[str, Any]:
        params = {"registration_number": without, "configuration": trade}
        status, answer = await world.call("GET", "/v1/support-status", world.owner(customer), params=params)
        assert status == 200, answer
        result: dict[str, Any] = answer
        return result

    async def warnings() -> list[str | None]:
        status, listed = await world.call("GET", "/v1/maintenance-services", world.owner(customer))
        assert status == 200, listed
        return [item["warning"] for item in listed["items"]]

    async with world.clock_at(moscow("2026-12-01 10:00")):
        status, answer = await world.post_contract(
            partner, world.contract_body(with_contract, period=("2026-12", "2027-11"))
        )
        assert status == 202, answer
        await world.set_clock(moscow("2026-12-02 00:00"))
        await world.wait_state(answer["id"], "active")

        status, activation = await world.call(
            "POST",
            "/v1/maintenance-services/activate",
            world.owner(customer),
            json={
                "code": await issue_code(world, category=1, months=3),
                "registration_number": without,
                "period_from": "2026-12",
            },
        )
        assert status == 201, activation
        assert activation["warning"] is not None and "2026-12..2027-02" in activation["warning"], activation
        assert activation["partner_choice"] == "contract"  # CMS-7: the subscriber's contract's partner
        assert (await trade_status())["its_contract"] == "NO_CONTRACT"  # MON-1 says the same of the product

        # The partner lists the Trade product as an additional number of a new contract for the period.
        status, answer = await world.post_contract(
            partner,
            world.contract_body(with_contract, period=("2026-12", "2027-02"), additional=[without]),
        )
        assert status == 202, answer
        await world.set_clock(moscow("2026-12-03 00:00"))
        await world.wait_state(answer["id"], "active")
        assert await warnings() == [None]
        assert (await trade_status())["its_contract"] == "OK"  # covered through 2027-02-28


async def test_support_status_for_client_programs(world: World) -> None:
    partner = await world.partner()
    customer = await world.customer()
    configuration = await world.configuration(1)
    [main] = await world.issued("PROF", configurations=[configuration])
    [basic] = await world.issued("BASIC", configurations=[configuration])
    await world.register(customer, main, purchase_date=date(2024, 1, 10))
    await world.register(customer, basic)

    async def status_of(number: str) -> dict[str, Any]:
        status, answer = await world.call(
            "GET",
            "/v1/support-status",
            world.owner(customer, "user"),
            params={"registration_number": number, "configuration": configuration},
        )
        assert status == 200, answer
        result: dict[str, Any] = answer
        return result

    async with world.clock_at(moscow("2026-12-01 10:00")):
        bare = await status_of(main)
        assert (bare["registration"], bare["its_contract"], bare["maintenance_service"], bare["overall"]) == (
            "REGISTERED",
            "NO_CONTRACT",
            "NO_ACTIVATIONS",
            "NOT_COMPLIED",
        )
        assert (await status_of(basic))["its_contract"] is None  # left out: BASIC needs no contract
        assert (await status_of(new_number()))["registration"] == "NOT_REGISTERED"
        assert bare["configuration"] == "INCLUDED"

        status, answer = await world.post_contract(partner, world.contract_body(main, period=("2026-12", "2026-12")))
        await world.set_clock(moscow("2026-12-02 00:00"))
        await world.wait_state(answer["id"], "active")
        code = await issue_code(world, category=1, months=6)
        status, _ = await world.call(
            "POST",
            "/v1/maintenance-services/activate",
            world.owner(customer),
            json={"code": code, "registration_number": main, "period_from": "2026-12"},
        )
        assert status == 201
        soon = await status_of(main)
        assert (soon["its_contract"], soon["maintenance_service"], soon["overall"]) == ("WARNING", "OK", "WARNING")
        assert soon["its_until"] == "2026-12-31" and soon["partner"]["name"] == partner.name
        assert [c["period"] for c in soon["contracts"]] == [{"from": "2026-12", "to": "2026-12"}]

        # REG-6: a configuration this product does not include (an Accounting number asked about Trade) is not
        # supported, whatever its contract and another configuration's maintenance say.
        trade = await world.configuration(1)
        for asked in (trade, "NoSuchConfiguration"):
            status, other = await world.call(
                "GET",
                "/v1/support-status",
                world.owner(customer, "user"),
                params={"registration_number": main, "configuration": asked},
            )
            assert status == 200, other
            assert (other["registration"], other["configuration"], other["overall"]) == (
                "REGISTERED",
                "NOT_INCLUDED",
                "NOT_COMPLIED",
            ), other
            assert other["maintenance_service"] is None and other["activations"] == []
            assert other["its_contract"] == "WARNING"  # the product's own contract is still told


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"number": null}', b"\xff\xfe", b'{"kind": "' + b"x" * 100_000 + b'"}'],
)
async def test_hostile_bodies_get_a_4xx_problem_and_store_nothing(world: World, body: bytes) -> None:
    partner = await world.partner()
    before = await count_contracts(world)
    headers = {**world.partner_token(partner), "Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"}
    status, problem = await world.call("POST", "/v1/contracts", headers, data=body)
    assert 400 <= status < 500 and problem["status"] == status
    assert await count_contracts(world) == before


async def test_subscriber_endpoints_check_their_input(world: World) -> None:
    customer = await world.customer()
    for path, params in (
        ("/v1/contracts/why-not-listed", {"number": "has spaces"}),
        ("/v1/contracts/why-not-listed", {}),
        ("/v1/coverage", {"registration_number": "abc"}),
        ("/v1/coverage", {"registration_number": "12345678903", "month": "2026-13"}),
        ("/v1/support-status", {"registration_number": "12345678903", "configuration": "bad code!"}),
    ):
        status, problem = await world.call("GET", path, world.owner(customer), params=params)
        assert status == 422, (path, params, problem)
    partner = await world.partner()
    for path in ("/v1/contracts", "/v1/maintenance-services"):
        status, _ = await world.call("GET", path, world.partner_token(partner))
        assert status == 403, path  # a partner's token has no subscriber
    status, _ = await world.call("GET", "/v1/partner/contracts", world.owner(customer))
    assert status == 403
    status, _ = await world.call(
        "POST",
        f"/v1/contracts/{uuid.uuid4()}/report-organisation-error",
        world.owner(customer),
        json={"message": "wrong"},
    )
    assert status == 404
    status, _ = await world.call(
        "POST", "/v1/contracts/not-a-uuid/report-organisation-error", world.owner(customer), json={"message": "wrong"}
    )
    assert status == 404


async def test_a_partners_contracts_are_paged_by_cursor_and_its_integers_are_bounded(world: World) -> None:
    """Keyset pagination: every contract once, newest first; `offset` is gone, and what asyncpg cannot hold (int64)
    or a cursor the list did not hand out is a 422, never a 500 (`?offset=9223372036854775808` was)."""
    partner = await world.partner()
    token = world.partner_token(partner)
    numbers = await world.issued(count=5)
    async with world.clock_at(moscow("2026-12-01 10:00")):
        posted = []
        for number in numbers:
            status, answer = await world.post_contract(
                partner, world.contract_body(number, period=("2026-12", "2027-11"))
            )
            assert status == 202, answer
            posted.append(answer["id"])
        seen: list[dict[str, Any]] = []
        cursor = None
        for _ in range(len(posted) + 1):
            query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
            status, page = await world.call("GET", f"/v1/partner/contracts?{query}", token)
            assert status == 200 and len(page["items"]) <= 2, page
            seen += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(c["id"] for c in seen) == sorted(posted)
        received = [c["received_at"] for c in seen]
        assert received == sorted(received, reverse=True)
        for query in ("offset=9223372036854775808", "limit=9223372036854775808", "limit=0", "cursor=bm90LW91cnM"):
            status, problem = await world.call("GET", f"/v1/partner/contracts?{query}", token)
            assert status == 422, (query, problem)
