"""A partner posts an ITS contract (ITS-1, ITS-2): checked field by field, stored in processing, processed on the
next business day; retried safely with an Idempotency-Key (draft-ietf-httpapi-idempotency-key-header)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from rules.months import Month
from rules.refusal import Refusal, Refused
from services.contracts import domain, events, store
from services.contracts.organisation import kpp_problem, tin_problem
from services.contracts.processing import processing_job
from services.contracts.settings import ContractsSettings
from shared import tracing
from shared.calendar import ProductionCalendar
from shared.clock import local_date
from shared.db import Pool
from shared.events import wrap
from shared.logging import get_contextvars_ids, get_logger
from shared.outbox import Outbox

log = get_logger(__name__)

# The answer kept for replay is the one the partner got: "accepted, processed on the next business day".
ACCEPTED = 202


@dataclass(frozen=True)
class Receipt:
    """The answer to the post: the first one again (`replayed`) for a retry with the same key and request."""

    status: int
    body: dict[str, Any]
    replayed: bool


async def receive_contract(
    pool: Pool,
    outbox: Outbox,
    *,
    settings: ContractsSettings,
    calendar: ProductionCalendar,
    now: datetime,
    partner_id: uuid.UUID,
    key: str,
    fingerprint: bytes,
    posted: domain.PostedContract,
) -> Receipt:
    """`key` is the partner's Idempotency-Key, `fingerprint` its request's (`domain.fingerprint`): the same key and
    request replay the first answer; another request is refused, and so is a retry while the first is processed.
    Keys are per partner and kept `domain.IDEMPOTENCY_KEPT`.

    One statement (migration 0005's `receive_contract`, its own transaction): the key locked and looked up, the
    numbers checked, and the contract, its numbers, the processing job, the `contracts.contract.received` event and
    the answer kept for the key stored together. What needs no data is checked here first."""
    refusals = _refusals(posted, Month.of(local_date(now, settings.vendor_zone)))
    numbers = [posted.main_number, *posted.additional_numbers]
    if refusals:  # only the key's answer and the unknown numbers are asked; nothing is stored
        args: tuple[Any, ...] = (None,) * _STORING_ARGUMENTS
    else:
        args = _stored(outbox, _new_contract(settings, calendar, now, partner_id, posted), now)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_RECEIVE, partner_id, key, fingerprint, numbers, bool(refusals), *args)
    assert row is not None
    outcome = row["r_outcome"]
    if outcome == "accepted":
        outbox.committed()  # the event is committed without a NOTIFY (migration 0005): the relay publishes it now
    if outcome in ("accepted", "replayed"):
        return Receipt(row["r_status"], row["r_response"], replayed=outcome == "replayed")
    if outcome == "busy":
        raise Refused(
            Refusal(
                "request-in-progress",
                "the first request with this key has not finished: retry in a moment",
                kind="conflict",
            )
        )
    if outcome == "key-reused":
        raise Refused(Refusal("idempotency-key-reused", "use a new Idempotency-Key for a new contract"))
    if outcome == "number-taken":
        message = f"contract {posted.number} was posted before (with another key)"
        raise Refused(Refusal("contract-number-taken", message, "conflict"))
    for number in row["r_unknown"]:
        field = "main_registration_number" if number == posted.main_number else "additional_registration_numbers"
        message = f"{number} is not a registration number of the catalogue"
        refusals.append(Refusal("number_unknown", message, field=field, details={"input": number}))
    raise Refused(*refusals)  # nothing is stored


# receive_contract's arguments: the key's and the checks' five, then what stores the contract (`_stored`).
_STORING_ARGUMENTS = 11
_RECEIVE = (
    "SELECT r_outcome, r_status, r_response, r_unknown FROM receive_contract($1, $2, $3, $4::text[], $5, "
    "$6::text::jsonb, $7, $8, $9, $10, $11, $12::text::jsonb, $13::text::jsonb, $14, $15::text::jsonb, $16)"
)


def _stored(outbox: Outbox, contract: store.Contract, now: datetime) -> tuple[Any, ...]:
    """receive_contract's arguments that store the contract: its row, the processing job, the outbox row (as
    Outbox.add writes it, but for the NOTIFY) and the answer kept for the key."""
    ids = get_contextvars_ids()
    envelope = wrap(
        events.contract_received(contract),
        producer=outbox.producer,
        occurred_at=outbox.clock.now(),
        correlation_id=ids.correlation_id,
        causation_id=ids.causation_id,
    )
    headers = {"x-request-id": ids.request_id} if ids.request_id else {}
    row: dict[str, Any] = vars(contract)
    if tracing.ENABLED and (trace := tracing.trace_headers()):
        # The POST's trace: its event's, and the contract's own and its processing job's (migration 0008), which
        # the activation a business day later continues.
        headers = {**headers, **trace}
        row = {**row, "trace_context": trace}
    body = {"id": str(contract.id), "state": contract.state, "processing_on": contract.processing_on.isoformat()}
    job_kind, job_key, job_at = processing_job(contract.effective_at)
    return (
        orjson.dumps(row).decode(),
        job_kind,
        job_key,
        job_at,
        envelope.id,
        envelope.type,
        envelope.model_dump_json(),
        orjson.dumps(headers).decode(),
        ACCEPTED,
        orjson.dumps(body).decode(),
        now,
    )


def _refusals(posted: domain.PostedContract, current: Month) -> list[Refusal]:
    """Every problem at once, field by field (ITS-1); the numbers unknown to the catalogue are added by the
    statement."""
    refusals = domain.period_problems(posted.period_from, posted.period_to, current)
    for refusal in (
        tin_problem(posted.tin, field="organisation.tin"),
        kpp_problem(posted.kpp, posted.tin, field="organisation.kpp"),
    ):
        if refusal:
            refusals.append(refusal)
    numbers = [posted.main_number, *posted.additional_numbers]
    if len(set(numbers)) != len(numbers):
        refusals.append(
            Refusal("number_repeated", "a registration number is repeated", field="additional_registration_numbers")
        )
    return refusals


def _new_contract(
    settings: ContractsSettings,
    calendar: ProductionCalendar,
    now: datetime,
    partner_id: uuid.UUID,
    posted: domain.PostedContract,
) -> store.Contract:
    zone = settings.vendor_zone
    effective_at = domain.effective_moment(calendar, now, zone)  # rule ITS-2: the next business day
    if not calendar.covers(effective_at.date()):
        log.warning("calendar.not_covered", day=str(effective_at.date()), calendar=settings.calendar)
    return store.Contract(
        **vars(posted),
        id=uuid.uuid4(),
        partner_id=partner_id,
        state="processing",
        received_at=now,
        processing_on=effective_at.astimezone(zone).date(),
        effective_at=effective_at,
        expires_at=domain.expiry_moment(Month.parse(posted.period_to), zone),
        activated_at=None,
        expired_at=None,
    )
