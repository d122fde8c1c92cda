"""PostgreSQL stopped under load, then started again, with every service and the portal running as processes.

A partner's system posts contracts (each with its Idempotency-Key) and a customer reads their contracts without
pause; PostgreSQL is stopped (fast shutdown: every session ended) for a few seconds and started again; no service
is restarted.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp

from services.contracts.app import SCHEMA as CONTRACTS_SCHEMA
from services.notifications.app import SCHEMA as NOTIFICATIONS_SCHEMA
from services.registration.app import SCHEMA as REGISTRATION_SCHEMA
from shared.db import RETRY_AFTER_SECONDS
from tests.e2e.contracts_flows import Contracts, contract_body
from tests.e2e.flows import Customer, Partner
from tests.faults.contracts_outbox import activation_events, all_active
from tests.faults.stack import FaultStack
from tests.infra import wait_for

PROBLEM = "application/problem+json"
UNAVAILABLE = "https://its-portal.dev/problems/unavailable"
OUTAGE_SECONDS = 4.0


@dataclass(frozen=True)
class Answer:
    at: float
    what: str  # "post" or "read"
    status: int
    content_type: str
    retry_after: str | None
    problem_type: str | None


@dataclass
class Load:
    """A partner posting contracts and a customer reading theirs, without pause, recording every answer."""

    flow: Contracts
    partner: Partner
    customer: Customer
    number: str
    period: tuple[str, str]
    answers: list[Answer] = field(default_factory=list)
    accepted: dict[str, str] = field(default_factory=dict)  # Idempotency-Key → contract id
    refused: dict[str, dict[str, Any]] = field(default_factory=dict)  # Idempotency-Key → the body to post again
    running: bool = True

    async def post(self) -> None:
        while self.running:
            key, body = uuid.uuid4().hex, contract_body(self.number, self.period)
            reply = await self.flow.post(self.partner, body, key)
            self._record("post", reply.status, reply.headers, reply.body)
            if reply.status == 202:
                self.accepted[key] = str(reply.body["id"])
            elif reply.status == 503:
                self.refused[key] = body
            await asyncio.sleep(0.02)

    async def read(self) -> None:
        while self.running:
            reply = await self.flow.call("GET", "/v1/contracts", self.customer.token)
            self._record("read", reply.status, reply.headers, reply.body)
            await asyncio.sleep(0.02)

    def _record(self, what: str, status: int, headers: Any, body: Any) -> None:
        problem_type = body.get("type") if isinstance(body, dict) else None
        content_type = str(headers.get("Content-Type", "")).split(";")[0]
        self.answers.append(
            Answer(time.monotonic(), what, status, content_type, headers.get("Retry-After"), problem_type)
        )

    def first_success_after(self, moment: float, what: str) -> float | None:
        return next((a.at for a in self.answers if a.at >= moment and a.what == what and a.status in (200, 202)), None)


async def test_a_stopped_database_is_503_everywhere_and_after_its_restart_every_accepted_contract_is_stored_and_activated_once(  # noqa: E501
    faults: FaultStack, flow: Contracts
) -> None:
    """Proves, with PostgreSQL stopped for OUTAGE_SECONDS under load and started again, no service restarted:
    - during the outage every answer is a 503 problem+json (type unavailable) with Retry-After, 0 answers are a
      500; every service's /readyz is 503 and each service and the portal answer a request that needs the database
      with 503 (the portal: its page); no traceback in any log;
    - contracts logs `db.unavailable` once and `db.recovered` once, counting exactly the requests it refused;
      every other service too logs the outage once and its end once;
    - once PostgreSQL is back, requests succeed again within seconds, without a restart;
    - each post refused with 503 succeeds when retried with its Idempotency-Key; every contract answered 202 is
      stored exactly once, and the next business day each is activated exactly once: one
      `contracts.contract.activated` each in contracts' outbox, handled once by registration's consumer and once
      by notifications' (one delivery each).
    """
    operator = await flow.portal.operator()
    partner = await flow.partner(operator)
    customer = await flow.customer()
    _, [issued] = await flow.product(operator, edition="PROF")
    period = faults.period()
    await flow.post_contract(partner, contract_body(issued.number, period))  # contracts knows the number
    load = Load(flow, partner, customer, issued.number, period)
    mark = faults.mark()
    probes: dict[str, tuple[int, str, str | None]] = {}
    tasks = [asyncio.create_task(load.post()) for _ in range(3)] + [asyncio.create_task(load.read())]
    try:
        await asyncio.sleep(1.5)
        stopped_at = time.monotonic()
        await faults.postgres.stop()
        try:
            await asyncio.sleep(1.0)
            probes = await _probe_every_service(faults, flow, operator, customer)
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped_at)))
        finally:
            started_at = time.monotonic()
            await faults.postgres.start()
        ready_at = time.monotonic()
        await wait_for(
            lambda: load.first_success_after(ready_at, "post") and load.first_success_after(ready_at, "read"),
            timeout=30,
            what="posts and reads succeeding again",
        )
    finally:
        load.running = False
        await asyncio.gather(*tasks)
    outage = [a for a in load.answers if stopped_at + 0.2 <= a.at <= started_at]
    refused = [a for a in load.answers if a.status == 503]

    # Every answer a success or a 503 problem with Retry-After; none a 500.
    assert {a.status for a in load.answers} <= {200, 202, 503}, sorted({a.status for a in load.answers})
    assert outage and all(a.status == 503 for a in outage)
    assert all(
        (a.content_type, a.problem_type, a.retry_after) == (PROBLEM, UNAVAILABLE, str(RETRY_AFTER_SECONDS))
        for a in refused
    )
    assert probes == {
        **{f"{service} /readyz": (503, "application/json", None) for service in faults.services},
        "identity": (503, PROBLEM, str(RETRY_AFTER_SECONDS)),
        "registration": (503, PROBLEM, str(RETRY_AFTER_SECONDS)),
        "updates": (503, PROBLEM, str(RETRY_AFTER_SECONDS)),
        "notifications": (503, PROBLEM, str(RETRY_AFTER_SECONDS)),
        "portal": (503, "text/html", str(RETRY_AFTER_SECONDS)),
    }

    # Retried with their keys, the refused posts are accepted (or replayed, had their commit made it).
    for key, body in load.refused.items():
        reply = await flow.post(partner, body, key)
        assert reply.status == 202, reply.body
        load.accepted[key] = str(reply.body["id"])

    # The outage, once in each log; no traceback, no 500. A process logs its recovery when its watcher's next check
    # connects (every RECOVERY_CHECK_SECONDS), which may come after the retries above are all answered.
    await wait_for(
        lambda: all(faults.events(mark, service, "db.recovered") for service in faults.services),
        timeout=15,
        what="every service's db.recovered line",
    )
    for service in faults.services:
        lines = faults.logged(mark, service)
        assert not [line for line in lines if "Traceback" in line or "unhandled_error" in line], service
        assert len(faults.events(mark, service, "db.unavailable")) == 1, service
        assert len(faults.events(mark, service, "db.recovered")) == 1, service
        warnings = Counter(entry.get("event") for entry in faults.warnings(mark, service))
        assert all(count == 1 for count in warnings.values()), (service, warnings)  # a line per outage, not per try
    [recovered] = faults.events(mark, "contracts", "db.recovered")
    refused_by_contracts = len(refused) + 1  # and the probe's request
    assert recovered["refused"] == refused_by_contracts

    # Stored exactly once.
    stored = await faults.fetch(
        CONTRACTS_SCHEMA,
        "SELECT id, count(*) OVER (PARTITION BY number) AS copies FROM contracts WHERE partner_id = $1",
        uuid.UUID(partner.id),
    )
    ids = {str(row["id"]) for row in stored}
    assert ids == set(load.accepted.values()) | {_first_contract(stored, load)}
    assert all(row["copies"] == 1 for row in stored)

    # Processed on the next business day, each exactly once, as far as every consumer.
    effective_at = await faults.fetchval(
        CONTRACTS_SCHEMA, "SELECT max(effective_at) FROM contracts WHERE partner_id = $1", uuid.UUID(partner.id)
    )
    await faults.move_clock_to(effective_at + timedelta(seconds=1))
    events = await wait_for(
        lambda: _activated_events(faults, ids), timeout=60, interval=0.5, what="every contract activated"
    )
    assert sorted(contract for contract, _ in events) == sorted(ids), "one activation event per contract"
    event_ids = [event_id for _, event_id in events]
    await wait_for(
        lambda: _handled(faults, REGISTRATION_SCHEMA, "inbox", event_ids), timeout=60, what="registration's inbox"
    )
    await wait_for(
        lambda: _handled(faults, NOTIFICATIONS_SCHEMA, "deliveries", event_ids), timeout=60, what="the deliveries"
    )
    print(  # the figures of the report (pytest -s)
        f"\ndatabase stop: outage {started_at - stopped_at:.1f} s, {len(refused)} requests refused (503), "
        f"{len(load.accepted)} contracts accepted; after the start: first post "
        f"{_since(load.first_success_after(ready_at, 'post'), started_at)} s, first read "
        f"{_since(load.first_success_after(ready_at, 'read'), started_at)} s; contracts' db.recovered after "
        f"{recovered['seconds']} s"
    )


async def _probe_every_service(
    faults: FaultStack, flow: Contracts, operator: str, customer: Customer
) -> dict[str, tuple[int, str, str | None]]:
    """Each service's /readyz, and a request of each that needs the database (the portal: its login page)."""
    urls = {service: process.url for service, process in faults.services.items()}
    requests: dict[str, tuple[str, str | None]] = {
        **{f"{service} /readyz": (f"{url}/readyz", None) for service, url in urls.items()},
        "identity": (f"{urls['identity']}/v1/subscriber", customer.token),
        "registration": (f"{urls['registration']}/v1/registrations", customer.token),
        "contracts": (f"{urls['contracts']}/v1/contracts", customer.token),
        "updates": (f"{urls['updates']}/v1/entitlements", customer.token),
        "notifications": (f"{urls['notifications']}/v1/deliveries", operator),
        "portal": (f"{urls['portal']}/login", None),
    }
    found = {}
    async with aiohttp.ClientSession() as http:
        for name, (url, token) in requests.items():
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with http.get(url, headers=headers) as response:
                found[name] = (response.status, response.content_type, response.headers.get("Retry-After"))
    contracts = found.pop("contracts")
    assert contracts == (503, PROBLEM, str(RETRY_AFTER_SECONDS))
    return found


def _first_contract(stored: Any, load: Load) -> str:
    """The contract posted before the load (to be sure contracts knew the number)."""
    others = {str(row["id"]) for row in stored} - set(load.accepted.values())
    assert len(others) == 1, others
    return others.pop()


async def _activated_events(faults: FaultStack, ids: set[str]) -> list[tuple[str, Any]] | None:
    if not await all_active(faults, ids):
        return None
    events = await activation_events(faults, ids)
    return [(contract, event_id) for contract, event_ids in events.items() for event_id in event_ids]


async def _handled(faults: FaultStack, schema: str, table: str, event_ids: list[Any]) -> bool:
    count = await faults.fetchval(schema, f"SELECT count(*) FROM {table} WHERE event_id = ANY($1)", event_ids)
    assert count <= len(event_ids)
    return bool(count == len(event_ids))


def _since(moment: float | None, start: float) -> str:
    return "-" if moment is None else f"{moment - start:.2f}"
