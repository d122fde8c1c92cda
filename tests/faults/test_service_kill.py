"""Services killed (SIGKILL) in the middle of a batch of work and started again: every item is done exactly once.

Each test starts the work through the services' own APIs, waits until part of it is committed, kills the service
that does it (its transaction rolled back, its messages unacknowledged, its jobs' row locks released), starts it
again with the same settings, and counts what was done, in the producer's outbox and in the consumers' effects.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from services.contracts.app import SCHEMA as CONTRACTS_SCHEMA
from services.notifications.app import SCHEMA as NOTIFICATIONS_SCHEMA
from services.registration.app import SCHEMA as REGISTRATION_SCHEMA
from tests.e2e.contracts_flows import Contracts, contract_body
from tests.e2e.flows import Partner
from tests.faults.conftest import PROCESS_BATCH
from tests.faults.contracts_outbox import activation_events, all_active
from tests.faults.stack import SEND_WORKERS, FaultStack
from tests.infra import wait_for

PRODUCT_ACTIVATED = "registration.product.activated"
CONTRACTS_KILLED_BATCH = 2_000
REGISTRATIONS = 300
LETTERS = 300


async def gather_bounded(calls: list[Callable[[], Awaitable[Any]]], concurrency: int = 8) -> list[Any]:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await call()

    return await asyncio.gather(*(one(call) for call in calls))


async def post_contracts(faults: FaultStack, flow: Contracts, partner: Partner, number: str, count: int) -> set[str]:
    """`count` contracts of `partner` on `number`, posted through the API; their ids."""
    period = faults.period()
    await flow.post_contract(partner, contract_body(number, period))  # contracts knows the number

    async def post() -> str:
        reply = await flow.post(partner, contract_body(number, period))
        assert reply.status == 202, reply.body
        return str(reply.body["id"])

    return set(await gather_bounded([post] * (count - 1))) | set(await _partner_contract_ids(flow, partner))


async def _partner_contract_ids(flow: Contracts, partner: Partner) -> list[str]:
    rows = await flow.db.fetch("SELECT id FROM contracts WHERE partner_id = $1", uuid.UUID(partner.id))
    return [str(row["id"]) for row in rows]


async def test_registration_killed_while_activating_activates_every_registration_once(
    faults: FaultStack, flow: Contracts
) -> None:
    """Proves: REGISTRATIONS self-registrations with PIN (REG-2), pending until their access begins (REG-3), each
    activated by its own deferred job at the same moment; registration killed (SIGKILL) after some activations
    committed and before the last; started again: every registration is active, activated exactly once (one
    `registration.product.activated` each in registration's outbox), and each event is handled exactly once by
    contracts' consumer (its inbox; its read model says active)."""
    operator = await flow.portal.operator()
    customer = await flow.customer()
    _, issued = await flow.product(operator, edition="CORP", pin=True, count=REGISTRATIONS)
    numbers = [item.number for item in issued]

    def register(number: str, pin: str | None) -> Callable[[], Awaitable[None]]:
        async def call() -> None:
            assert pin is not None
            reply = await flow.register_with_pin(customer, number, pin)
            assert reply.status == 202 and reply.body["state"] == "pending", reply.body

        return call

    await gather_bounded([register(item.number, item.pin) for item in issued], concurrency=4)
    active_from = await faults.fetchval(
        REGISTRATION_SCHEMA, "SELECT max(active_from) FROM registration_numbers WHERE number = ANY($1)", numbers
    )
    active = "SELECT count(*) FROM registration_numbers WHERE number = ANY($1) AND state = 'active'"
    await faults.move_clock_to(active_from + timedelta(seconds=1))
    await faults.count_when(REGISTRATION_SCHEMA, active, [numbers], at_least=10)
    await faults.kill("registration")
    done_before = await faults.fetchval(REGISTRATION_SCHEMA, active, numbers)
    assert 0 < done_before < REGISTRATIONS, "the kill landed mid-batch"

    await faults.restart("registration")
    await faults.count_when(REGISTRATION_SCHEMA, active, [numbers], at_least=REGISTRATIONS)
    rows = await faults.fetch(
        REGISTRATION_SCHEMA,
        "SELECT envelope->'data'->>'registration_number' AS number, id FROM outbox "
        "WHERE routing_key = $1 AND envelope->'data'->>'registration_number' = ANY($2)",
        PRODUCT_ACTIVATED,
        numbers,
    )
    assert sorted(row["number"] for row in rows) == sorted(numbers), "one activation event per registration"
    event_ids = [row["id"] for row in rows]
    await faults.count_when(
        CONTRACTS_SCHEMA, "SELECT count(*) FROM inbox WHERE event_id = ANY($1)", [event_ids], REGISTRATIONS
    )
    assert (
        await faults.fetchval(CONTRACTS_SCHEMA, "SELECT count(*) FROM inbox WHERE event_id = ANY($1)", event_ids)
        == REGISTRATIONS
    )
    assert (
        await faults.fetchval(
            CONTRACTS_SCHEMA, "SELECT count(*) FROM numbers WHERE number = ANY($1) AND registration = 'active'", numbers
        )
        == REGISTRATIONS
    )
    print(
        f"\nregistration killed after {done_before} of {REGISTRATIONS} activations; "
        f"all {REGISTRATIONS} activated once after the restart"
    )


async def test_notifications_killed_while_sending_sends_every_letter(faults: FaultStack, flow: Contracts) -> None:
    """Proves: LETTERS contracts activated at once, so notifications records LETTERS deliveries (one per
    `contracts.contract.activated`, ITS-2's letter to the partner) and its send job sends them over SMTP to the sink;
    notifications killed (SIGKILL) after some were sent and before the last; started again: every delivery is sent,
    exactly one per event, and the sink holds an e-mail for each (its Message-ID derived from the event): at most
    SEND_WORKERS e-mails sent twice, with the same Message-ID (the sends in flight at the kill: SMTP is at-least-once),
    none lost."""
    operator = await flow.portal.operator()
    partner = await flow.partner(operator)
    _, [issued] = await flow.product(operator, edition="PROF")
    ids = await post_contracts(faults, flow, partner, issued.number, LETTERS)
    await faults.activate_day(ids)
    events = await wait_for(
        lambda: _all_activated(faults, ids), timeout=60, interval=0.2, what="every contract activated"
    )
    event_ids = [event for contract_events in events.values() for event in contract_events]
    sent = "SELECT count(*) FROM deliveries WHERE event_id = ANY($1) AND status = 'sent'"
    await faults.count_when(NOTIFICATIONS_SCHEMA, sent, [event_ids], at_least=20)
    await faults.kill("notifications")
    sent_before = await faults.fetchval(NOTIFICATIONS_SCHEMA, sent, event_ids)
    assert 0 < sent_before < LETTERS, "the kill landed mid-batch"

    await faults.restart("notifications")
    await faults.count_when(NOTIFICATIONS_SCHEMA, sent, [event_ids], at_least=LETTERS, timeout=120)
    deliveries = await faults.fetchval(
        NOTIFICATIONS_SCHEMA, "SELECT count(*) FROM deliveries WHERE event_id = ANY($1)", event_ids
    )
    assert deliveries == LETTERS, "one delivery per event"
    expected = {f"<{event_id}@" for event_id in event_ids}
    mail = await wait_for(lambda: _letters(faults, partner.email, LETTERS), timeout=30, what="every letter in the sink")
    assert {message_id.split("@")[0] + "@" for message_id in mail} == expected
    duplicates = len(mail) - len(set(mail))
    assert duplicates <= SEND_WORKERS, f"{duplicates} e-mails sent twice"
    print(
        f"\nnotifications killed after {sent_before} of {LETTERS} letters sent; "
        f"{len(set(mail))} delivered, {duplicates} of them twice"
    )


async def test_contracts_killed_mid_batch_activates_every_contract_once(faults: FaultStack, flow: Contracts) -> None:
    """Proves: CONTRACTS_KILLED_BATCH contracts due at the same moment, activated by contracts' processing job in
    transactions of PROCESS_BATCH (state change and events together); contracts killed (SIGKILL) after some
    batches committed and before the last; started again (the job runs again): every contract is active, activated
    exactly once (one `contracts.contract.activated` each in contracts' outbox, all published), and each event is
    handled exactly once by registration's consumer (its inbox; REG-4 coverage for each contract) and by
    notifications' (one delivery each)."""
    operator = await flow.portal.operator()
    partner = await flow.partner(operator)
    _, [issued] = await flow.product(operator, edition="PROF")
    started = time.monotonic()
    ids = await post_contracts(faults, flow, partner, issued.number, CONTRACTS_KILLED_BATCH)
    posted_in = time.monotonic() - started
    contract_ids = [*map(uuid.UUID, ids)]
    active = "SELECT count(*) FROM contracts WHERE id = ANY($1) AND state = 'active'"
    await faults.activate_day(ids)
    await faults.count_when(CONTRACTS_SCHEMA, active, [contract_ids], at_least=PROCESS_BATCH)
    await faults.kill("contracts")
    done_before = await faults.fetchval(CONTRACTS_SCHEMA, active, contract_ids)
    assert 0 < done_before < CONTRACTS_KILLED_BATCH, "the kill landed mid-batch"
    assert done_before % PROCESS_BATCH == 0, "batches commit whole"

    await faults.restart("contracts")
    events = await wait_for(
        lambda: _all_activated(faults, ids), timeout=120, interval=0.2, what="every contract activated"
    )
    assert all(len(contract_events) == 1 for contract_events in events.values()), "one event per contract"
    event_ids = [contract_events[0] for contract_events in events.values()]
    await faults.count_when(
        CONTRACTS_SCHEMA,
        "SELECT count(*) FROM outbox WHERE id = ANY($1) AND published_at IS NOT NULL",
        [event_ids],
        CONTRACTS_KILLED_BATCH,
    )
    handled = "SELECT count(*) FROM inbox WHERE event_id = ANY($1)"
    await faults.count_when(REGISTRATION_SCHEMA, handled, [event_ids], CONTRACTS_KILLED_BATCH, timeout=120)
    assert await faults.fetchval(REGISTRATION_SCHEMA, handled, event_ids) == CONTRACTS_KILLED_BATCH
    assert (
        await faults.fetchval(
            REGISTRATION_SCHEMA,
            "SELECT count(DISTINCT contract_id) FROM contract_coverage WHERE contract_id = ANY($1)",
            contract_ids,
        )
        == CONTRACTS_KILLED_BATCH
    )
    deliveries = "SELECT count(*) FROM deliveries WHERE event_id = ANY($1)"
    await faults.count_when(NOTIFICATIONS_SCHEMA, deliveries, [event_ids], CONTRACTS_KILLED_BATCH, timeout=120)
    assert await faults.fetchval(NOTIFICATIONS_SCHEMA, deliveries, event_ids) == CONTRACTS_KILLED_BATCH
    print(
        f"\ncontracts: {CONTRACTS_KILLED_BATCH} posted in {posted_in:.1f} s; killed after {done_before} activations "
        f"(batches of {PROCESS_BATCH}); every contract activated once after the restart"
    )


async def _all_activated(faults: FaultStack, ids: set[str]) -> dict[str, list[uuid.UUID]] | None:
    if not await all_active(faults, ids):
        return None
    events = await activation_events(faults, ids)
    assert set(events) == ids
    return events


def _letters(faults: FaultStack, address: str, count: int) -> list[str] | None:
    found = faults.message_ids_to(address)
    return found if len(set(found)) >= count else None
