"""A partner posts an ITS contract (ITS-1, ITS-2): checked field by field, stored in processing, processed on the
next business day; retried safely with an Idempotency-Key (draft-ietf-httpapi-idempotency-key-header)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.months import Month
from rules.refusal import Refusal, Refused
from services.contracts import domain, events, idempotency_store, read_models, store
from services.contracts.organisation import kpp_problem, tin_problem
from services.contracts.processing import schedule_processing
from services.contracts.settings import ContractsSettings
from shared.calendar import ProductionCalendar
from shared.clock import local_date
from shared.db import Connection, Pool
from shared.logging import get_logger
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
    Keys are per partner and kept `domain.IDEMPOTENCY_KEPT`."""
    async with pool.acquire() as conn, conn.transaction():
        try:
            stored = await idempotency_store.claim_idempotency_key(conn, partner_id, key)
        except idempotency_store.KeyBusy:
            raise Refused(
                Refusal(
                    "request-in-progress",
                    "the first request with this key has not finished: retry in a moment",
                    kind="conflict",
                )
            ) from None
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise Refused(Refusal("idempotency-key-reused", "use a new Idempotency-Key for a new contract"))
            return Receipt(stored.status, stored.response, replayed=True)
        refusals = await _refusals(conn, posted, Month.of(local_date(now, settings.vendor_zone)))
        if refusals:
            raise Refused(*refusals)  # nothing is stored
        contract = _new_contract(settings, calendar, now, partner_id, posted)
        try:
            await store.insert_contract(conn, contract)
        except store.NumberTaken:
            raise Refused(
                Refusal(
                    "contract-number-taken",
                    f"contract {posted.number} was posted before (with another key)",
                    "conflict",
                )
            ) from None
        await schedule_processing(conn, contract.effective_at)
        await outbox.add(conn, events.contract_received(contract))
        body = {"id": str(contract.id), "state": contract.state, "processing_on": contract.processing_on.isoformat()}
        await idempotency_store.store_answer(
            conn, partner_id, key, idempotency_store.StoredAnswer(fingerprint, ACCEPTED, body), now
        )
    return Receipt(ACCEPTED, body, replayed=False)


async def _refusals(conn: Connection, posted: domain.PostedContract, current: Month) -> list[Refusal]:
    """Every problem at once, field by field (ITS-1)."""
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
    for number in await read_models.unknown_numbers(conn, numbers):
        field = "main_registration_number" if number == posted.main_number else "additional_registration_numbers"
        message = f"{number} is not a registration number of the catalogue"
        refusals.append(Refusal("number_unknown", message, field=field, details={"input": number}))
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
