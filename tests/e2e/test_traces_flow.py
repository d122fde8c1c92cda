"""Traces end to end (issue 20): a partner's contract followed in one trace, read from the span files the real
processes write (OTLP JSON lines, shared/tracing.py), from `POST /v1/contracts` through the outbox, RabbitMQ, the
next business day's processing job and the consumers of registration, updates and notifications to the e-mail sent.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from itsctl._traces import Span, last_trace, read_dir, trace_of, waterfall
from tests.e2e.contracts_flows import Contracts, contract_body, contracts_db, flow, moscow, registration_db
from tests.infra import wait_for

__all__ = ["contracts_db", "flow", "registration_db"]  # fixtures

SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5
CONSUMING = ("registration", "updates", "notifications")


def one(spans: list[Span], **match: object) -> Span:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in match.items())]
    assert len(found) == 1, (match, [(s.service, s.name) for s in found])
    return found[0]


async def test_one_trace_follows_a_contract_from_the_post_to_the_email_sent(flow: Contracts) -> None:
    operator = await flow.portal.operator()
    partner = await flow.partner(operator)
    _, [main] = await flow.product(operator, edition="PROF")
    customer = await flow.customer()
    await flow.authorise(partner, main.number, customer)
    traces_dir = flow.stack.var_dir / "traces"

    async with flow.clock_at(moscow("2026-12-01 10:00")):  # a Tuesday: processed on Wednesday
        body = contract_body(main.number, ("2026-12", "2027-11"))
        posted = await flow.post_contract(partner, body)
        contract_id = posted.body["id"]
        await flow.move_to(moscow("2026-12-02 00:00"))
        await flow.wait_state(partner, contract_id, "active")
        await flow.mail(partner.email, f"Contract {body['number']} is active")

    # The contract keeps its POST's trace context (contracts' migration 0008): the trace to follow.
    saved = await flow.db.fetchval("SELECT trace_context FROM contracts WHERE id = $1", uuid.UUID(contract_id))
    trace_id = saved["traceparent"].split("-")[1]

    def sent(directory: Path = traces_dir) -> list[Span] | None:
        spans = trace_of(read_dir(directory), trace_id)
        return spans if any(s.name == "send e-mail" for s in spans) else None

    spans: list[Span] = await wait_for(sent, timeout=15, what="the e-mail's span to be written")
    every = read_dir(traces_dir)
    by_id = {s.span_id: s for s in spans}

    def parent(span: Span) -> Span:
        assert span.parent_id in by_id, f"{span.service}: {span.name} has no parent in the trace"
        return by_id[span.parent_id]

    # The partner's POST is the root.
    post = one(spans, service="contracts", kind=SERVER, name="POST /v1/contracts")
    assert post.parent_id is None
    # The contract.received event: published by the relay in the POST's saved context.
    received = one(spans, kind=PRODUCER, name="its.events,contracts.contract.received send")
    assert received.service == "contracts" and parent(received) is post

    # A business day later: each activated contract's events continue its POST's trace, through a span linked to
    # the processing job's run, which is a trace of its own linking back to the POST.
    activate = one(spans, service="contracts", name="activate contract")
    assert parent(activate) is post
    [(run_trace, run_span)] = activate.links
    run = one(every, trace_id=run_trace, span_id=run_span)
    assert run.name == "job contracts.process" and run.service == "contracts" and run.trace_id != trace_id
    assert (trace_id, post.span_id) in run.links

    activated = one(spans, kind=PRODUCER, name="its.events,contracts.contract.activated send")
    assert activated.service == "contracts" and parent(activated) is activate

    # Every consumer receives it as the publish's child, and handles it in a span of its own below that.
    for service in CONSUMING:
        [receive] = [s for s in spans if s.service == service and s.kind == CONSUMER and parent(s) is activated]
        handle = one(spans, service=service, name="handle contracts.contract.activated")
        assert parent(handle) is receive
    # The database work is in the trace too (asyncpg's spans, children of the handlers').
    assert any(s.kind == CLIENT and s.service == "notifications" for s in spans)

    # notifications' send job: its run is a trace of its own linked to the handler that scheduled it, and the
    # sending continues the handler's trace.
    notified = one(spans, service="notifications", name="handle contracts.contract.activated")
    email = one(spans, service="notifications", name="send e-mail")
    assert parent(email) is notified
    [(job_trace, job_span)] = email.links
    send_run = one(every, trace_id=job_trace, span_id=job_span)
    assert send_run.name == "job send_email" and (trace_id, notified.span_id) in send_run.links

    assert {s.service for s in spans} >= {"contracts", *CONSUMING}
    # Log lines carry the ids of their span: the POST's access log line.
    logged = (flow.stack.var_dir / "log" / "contracts.log").read_text()
    assert f'"trace_id":"{trace_id}","span_id":"{post.span_id}"' in logged.replace(" ", "")

    # What `itsctl trace` draws: the waterfall, with the POST first and the e-mail in it.
    drawn = waterfall(spans, known=every)
    assert "POST /v1/contracts [server]" in drawn[1] and any("send e-mail" in line for line in drawn)
    assert any(f"↪ link {run_trace}/{run_span} (contracts: job contracts.process)" in line for line in drawn)
    assert last_trace(every, "/v1/contracts") is not None
