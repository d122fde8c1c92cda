"""Two replicas of every service behind the gateway, under load, one replica of each killed (SIGKILL) and started
again, twice: nothing is lost and nothing is done twice.

Proves (issue 20): with two processes of each service sharing one database and one broker — two outbox relays, two
job workers, two consumers of each queue — and nginx in front passing requests between them:

1. While partners' systems post CONTRACTS contracts (each with its Idempotency-Key, sent again on a failed connection,
   502/503 or 409, as such a system would) and REGISTRATIONS authorisations (REG-5), and people read through every
   service, replica 2 of every service is killed and started again: every contract posted is stored exactly once
   (none lost, none doubled, its id the one the partner was answered), every authorisation once, no read failed
   (the gateway passes a GET on to the live replica).
2. The processing day of those contracts (ITS-2), in transactions of PROCESS_BATCH, during which replica 1 of every
   service is killed and started again: every contract activated exactly once (one `contracts.contract.activated`
   each), each event's effect exactly once (registration's inbox and coverage; notifications' delivery), every job
   done once and none failed, every e-mail in the SMTP sink (at most SEND_WORKERS sent twice per notifications
   replica killed: SMTP is at-least-once, a send in flight at the kill goes out again with the same Message-ID).

The figures are printed as one line, `scale: …`, for the CI log. CONTRACTS is 10,000 (ITS_SCALE_CONTRACTS to vary).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from services.contracts.app import SCHEMA as CONTRACTS_SCHEMA
from services.notifications.app import SCHEMA as NOTIFICATIONS_SCHEMA
from services.registration.app import SCHEMA as REGISTRATION_SCHEMA
from tests.e2e.contracts_flows import BOUGHT, Contracts, contract_body
from tests.e2e.flows import Customer, Partner
from tests.faults.contracts_outbox import activation_events, all_active
from tests.faults.stack import SEND_WORKERS, FaultStack
from tests.infra import wait_for
from tests.scale.conftest import CONTRACTS, PROCESS_BATCH, SERVICES, ScaleStack
from tests.scale.load import Client, Tally

REGISTRATIONS = max(CONTRACTS // 25, 20)
PARTNERS = 4
CONCURRENCY = 16  # requests in flight through the gateway
KILL_AFTER = 0.3  # of the contracts accepted, when replica 2 of every service is killed
SCHEMAS = {service: service for service in SERVICES}  # each service's schema is named after it


# The suite's 240 s is for one test of a few steps; this one is the whole run (about 3 minutes at 10,000).
@pytest.mark.timeout(480)
async def test_two_replicas_of_each_service_lose_nothing_and_do_nothing_twice(
    scale: ScaleStack, flow: Contracts
) -> None:
    faults = scale.faults
    operator = await flow.portal.operator()
    partners = [await flow.partner(operator) for _ in range(PARTNERS)]
    _, [main] = await flow.product(operator, edition="PROF")
    _, to_register = await flow.product(operator, edition="PROF", count=REGISTRATIONS)
    customer = await flow.customer()
    numbers = [main.number, *(issued.number for issued in to_register)]
    known = "SELECT count(*) FROM numbers WHERE number = ANY($1)"
    await faults.count_when(CONTRACTS_SCHEMA, known, [numbers], at_least=len(numbers))  # contracts learnt them

    period = faults.period()
    bodies = [(partners[i % PARTNERS], contract_body(main.number, period)) for i in range(CONTRACTS)]
    posts, authorisations, reads = Tally(), Tally(), Tally()
    answered: dict[str, str] = {}  # contract number → the id the partner was answered
    started = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY + 2)) as http:
        client = Client(http, scale.gateway)

        async def post(partner: Partner, body: dict[str, Any]) -> None:
            headers = {"Idempotency-Key": uuid.uuid4().hex}
            reply = await client.send(
                posts,
                "POST",
                "/api/contracts/v1/contracts",
                partner.token,
                ok=202,
                retry=True,
                headers=headers,
                json=body,
            )
            if reply is not None:
                answered[body["number"]] = str(reply["id"])

        async def authorise(number: str) -> None:
            body = {"registration_number": number, "subscriber_code": customer.code, "purchase_date": str(BOUGHT)}
            partner = partners[0]
            path = "/api/registration/v1/registrations/partner"
            await client.send(authorisations, "POST", path, partner.token, ok=200, retry=True, json=body)

        work: list[Callable[[], Awaitable[None]]] = [functools.partial(post, p, b) for p, b in bodies]
        every = max(CONTRACTS // REGISTRATIONS, 1)
        for n, issued in enumerate(to_register):  # spread among the contracts
            work.insert(n * (every + 1), functools.partial(authorise, issued.number))
        stop_reading = asyncio.Event()
        reader = asyncio.create_task(read_until(client, reads, customer, partners[0], stop_reading))
        load = asyncio.create_task(run_all(work, CONCURRENCY))
        await wait_for(lambda: posts.accepted >= CONTRACTS * KILL_AFTER or load.done(), timeout=300, what="load")
        first_kill = await kill_all(faults, scale.replicas(2))
        accepted_at_kill = posts.accepted
        await restart_all(faults, first_kill)
        await load
        stop_reading.set()
        await reader
    posted_in = time.monotonic() - started
    assert accepted_at_kill < CONTRACTS, "the kill landed while contracts were posted"
    assert not posts.failed, f"{len(posts.failed)} contracts never accepted, e.g. {posts.failed[:3]}"
    assert not authorisations.failed, f"authorisations failed: {authorisations.failed[:3]}"
    assert not reads.failed, f"{len(reads.failed)} reads failed through the gateway: {reads.failed[:3]}"

    # Every contract posted is stored exactly once, with the id its partner was answered.
    rows = await faults.fetch(
        CONTRACTS_SCHEMA,
        "SELECT number, id FROM contracts WHERE partner_id = ANY($1)",
        [uuid.UUID(partner.id) for partner in partners],
    )
    stored: dict[str, list[str]] = {}
    for row in rows:
        stored.setdefault(row["number"], []).append(str(row["id"]))
    sent = {body["number"] for _, body in bodies}
    lost = len(sent - stored.keys())
    doubled = sum(len(ids) - 1 for ids in stored.values())
    assert (lost, doubled, len(stored.keys() - sent)) == (0, 0, 0), "every contract stored once, nothing else"
    assert answered == {number: ids[0] for number, ids in stored.items()}, "each partner answered with its contract"
    ids = {ids[0] for ids in stored.values()}
    received = await faults.fetchval(
        CONTRACTS_SCHEMA,
        "SELECT count(*) FROM outbox WHERE routing_key = 'contracts.contract.received' "
        "AND envelope->'data'->>'contract_id' = ANY($1)",
        list(ids),
    )
    assert received == CONTRACTS, "one contracts.contract.received per contract"
    registered = await registrations_once(faults, customer, [issued.number for issued in to_register])

    # The processing day, replica 1 of every service killed during it.
    day_started = time.monotonic()
    await faults.activate_day(ids)
    active = "SELECT count(*) FROM contracts WHERE id = ANY($1) AND state = 'active'"
    contract_ids = [*map(uuid.UUID, ids)]
    await faults.count_when(CONTRACTS_SCHEMA, active, [contract_ids], at_least=PROCESS_BATCH, timeout=120)
    second_kill = await kill_all(faults, scale.replicas(1))
    active_at_kill = await faults.fetchval(CONTRACTS_SCHEMA, active, contract_ids)
    await restart_all(faults, second_kill)
    assert 0 < active_at_kill < CONTRACTS, "the kill landed during the processing day"
    await wait_for(lambda: all_active(faults, ids), timeout=180, interval=0.5, what="every contract activated")
    activated_in = time.monotonic() - day_started
    events = await activation_events(faults, ids)
    assert set(events) == ids and all(len(e) == 1 for e in events.values()), "each contract activated once"
    event_ids = [e[0] for e in events.values()]
    effects = await effects_once(faults, event_ids, contract_ids)
    mailed = await mail_once(faults, partners, event_ids, customer, registered)
    failed_jobs, jobs_again = await jobs_once(faults)
    print(
        f"\nscale: {CONTRACTS} contracts sent, {posts.accepted} accepted, {posts.retried} retried "
        f"({posts.attempts - posts.sent} attempts again, {posts.replayed} replayed), {lost} lost, {doubled} doubled, "
        f"posted in {posted_in:.0f} s; {REGISTRATIONS} authorisations, {authorisations.retried} retried; "
        f"{reads.accepted} reads, {len(reads.failed)} failed; replica 2 of each killed at {accepted_at_kill} "
        f"accepted, recovered in {first_kill.recovered:.1f} s, {last_retry([posts, authorisations], first_kill)}; "
        f"processing day {activated_in:.0f} s, replica 1 of each killed at {active_at_kill} "
        f"active, recovered in {second_kill.recovered:.1f} s; effects: {effects} each once; e-mails: {mailed}; "
        f"jobs failed {failed_jobs}, done after an earlier attempt {jobs_again}"
    )


# ---- load ---------------------------------------------------------------------------------------------------------


async def run_all(work: list[Callable[[], Awaitable[None]]], concurrency: int) -> None:
    pending = iter(work)

    async def worker() -> None:
        for call in pending:  # one iterator shared: each call taken once
            await call()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def read_until(client: Client, reads: Tally, customer: Customer, partner: Partner, stop: asyncio.Event) -> None:
    """A person's and a partner's reads through every service, one at a time, until `stop`."""
    paths = itertools.cycle(
        [
            ("/api/identity/v1/me", customer.token),
            ("/api/registration/v1/registrations", customer.token),
            ("/api/contracts/v1/partner/contracts", partner.token),
            ("/api/updates/v1/entitlements", customer.token),
            ("/api/support/v1/questions", customer.token),
            ("/api/notifications/v1/preferences", customer.token),
        ]
    )
    while not stop.is_set():
        path, token = next(paths)
        await client.send(reads, "GET", path, token, ok=200, retry=False)
        await asyncio.sleep(0.02)


@dataclass
class Kill:
    replicas: list[str]
    killed_at: float  # monotonic
    recovered: float = 0.0  # seconds from the kill until every replica was ready again


async def kill_all(faults: FaultStack, replicas: list[str]) -> Kill:
    """SIGKILL to `replicas` at once."""
    killed_at = time.monotonic()
    await asyncio.gather(*(faults.kill(name) for name in replicas))
    return Kill(replicas, killed_at)


async def restart_all(faults: FaultStack, kill: Kill) -> None:
    """Each killed replica started again, identity's first (the others ask it for its keys)."""
    first, *rest = kill.replicas
    await faults.restart(first)
    await asyncio.gather(*(faults.restart(name) for name in rest))
    kill.recovered = time.monotonic() - kill.killed_at


def last_retry(tallies: list[Tally], kill: Kill) -> str:
    """How long after the kill a partner's system last had to send a request again."""
    last = max(tally.last_retry_at for tally in tallies)
    return f"last client retry {last - kill.killed_at:.1f} s after the kill" if last else "no client retry"


# ---- counts -------------------------------------------------------------------------------------------------------


async def registrations_once(faults: FaultStack, customer: Customer, numbers: list[str]) -> list[uuid.UUID]:
    """Every number authorised once to the customer (one `registration.partner.authorised` each) and known so to
    contracts (its read model, each event in its inbox once); the events' ids (each an e-mail to the customer)."""
    rows = await faults.fetch(
        REGISTRATION_SCHEMA,
        "SELECT id, product->>'registration_number' AS number FROM outbox, "
        "jsonb_array_elements(envelope->'data'->'products') AS product "
        "WHERE routing_key = 'registration.partner.authorised' AND product->>'registration_number' = ANY($1)",
        numbers,
    )
    assert sorted(row["number"] for row in rows) == sorted(numbers), "one authorisation event per number"
    authorised: list[uuid.UUID] = [row["id"] for row in rows]
    held = "SELECT count(*) FROM numbers WHERE number = ANY($1) AND subscriber_code = $2"
    await faults.count_when(CONTRACTS_SCHEMA, held, [numbers, customer.code], at_least=len(numbers), timeout=60)
    return authorised


async def effects_once(faults: FaultStack, event_ids: list[uuid.UUID], contract_ids: list[uuid.UUID]) -> int:
    """Each activation event handled once by registration (its inbox, the contract's coverage) and by notifications
    (one delivery, sent)."""
    n = len(event_ids)
    handled = "SELECT count(*) FROM inbox WHERE event_id = ANY($1)"
    await faults.count_when(REGISTRATION_SCHEMA, handled, [event_ids], n, timeout=180)
    assert await faults.fetchval(REGISTRATION_SCHEMA, handled, event_ids) == n
    covered = "SELECT count(DISTINCT contract_id) FROM contract_coverage WHERE contract_id = ANY($1)"
    assert await faults.fetchval(REGISTRATION_SCHEMA, covered, contract_ids) == n
    await faults.count_when(NOTIFICATIONS_SCHEMA, handled, [event_ids], n, timeout=180)
    sent = "SELECT count(*) FROM deliveries WHERE event_id = ANY($1) AND status = 'sent'"
    await faults.count_when(NOTIFICATIONS_SCHEMA, sent, [event_ids], n, timeout=240)
    assert (
        await faults.fetchval(
            NOTIFICATIONS_SCHEMA, "SELECT count(*) FROM deliveries WHERE event_id = ANY($1)", event_ids
        )
        == n
    )
    return n


async def mail_once(
    faults: FaultStack,
    partners: list[Partner],
    activations: list[uuid.UUID],
    customer: Customer,
    authorisations: list[uuid.UUID],
) -> str:
    """Every e-mail in the sink (its Message-ID derived from its event): the partners' letters are exactly the
    activations'; the customer's include the authorisations' (beside identity's, e.g. the address's verification). At
    most SEND_WORKERS sent twice per notifications replica killed (the sends in flight at the kill)."""
    expected = {f"<{event_id}@" for event_id in [*activations, *authorisations]}

    def prefix(message_id: str) -> str:
        return message_id.split("@")[0] + "@"

    def received() -> list[str] | None:
        to_partners = [m for p in partners for m in faults.message_ids_to(p.email)]
        assert {prefix(m) for m in to_partners} <= {f"<{event_id}@" for event_id in activations}, "partners' letters"
        found = to_partners + [m for m in faults.message_ids_to(customer.email) if prefix(m) in expected]
        return found if {prefix(m) for m in found} == expected else None

    found = await wait_for(received, timeout=120, interval=1.0, what="every e-mail in the sink")
    twice = len(found) - len(set(found))
    assert twice <= 2 * SEND_WORKERS, f"{twice} e-mails sent twice"  # two kills of a notifications replica
    return f"{len(set(found))} sent, {twice} twice"


async def jobs_once(faults: FaultStack) -> tuple[int, int]:
    """No job failed or is left due in any service; (failed, done after an earlier failed attempt)."""
    failed = again = 0
    now = faults.clock.now()
    for schema in SCHEMAS.values():
        row = (
            await faults.fetch(
                schema,
                "SELECT count(*) FILTER (WHERE state = 'failed') AS failed, "
                "count(*) FILTER (WHERE state = 'done' AND attempts > 1) AS again, "
                "count(*) FILTER (WHERE state = 'pending' AND run_at <= $1) AS due FROM deferred_jobs",
                now,
            )
        )[0]
        assert row["due"] == 0, f"{schema}: {row['due']} jobs left due"
        failed, again = failed + row["failed"], again + row["again"]
    assert failed == 0
    return failed, again
