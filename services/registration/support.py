"""The vendor's support desk: a registration number's story, and moving a registered product to another
subscriber (audited)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.refusal import Refusal, Refused
from services.registration import events, store
from services.registration.registrations import registered, subscriber_and_number
from shared.db import Pool
from shared.events.registration import ProductTransferred
from shared.outbox import Outbox


@dataclass(frozen=True)
class NumberStory:
    registration: store.Registration
    issued_at: datetime
    card: dict[str, Any] | None  # the registration card (REG-2)
    partner_name: str | None
    transfers: list[dict[str, Any]]


NUMBER_UNKNOWN = Refusal("not-found", "no product has this registration number", kind="not-found")
NOT_REGISTERED = Refusal("conflict", "the product is not registered to anyone: nothing to transfer", kind="conflict")
ALREADY_THERE = Refusal("conflict", "the product is registered to this subscriber already", kind="conflict")


async def number_story(pool: Pool, number: str) -> NumberStory:
    async with pool.acquire() as conn:
        record = await store.number_record(conn, number)
        if record is None:
            raise Refused(NUMBER_UNKNOWN)
        r, issued_at, card = record
        partners = await store.partner_names(conn, [r.partner_id] if r.partner_id else [])
        transfers = await store.transfers(conn, number)
    partner_name = partners.get(r.partner_id) if r.partner_id else None
    return NumberStory(r, issued_at, card, partner_name, [dict(t) for t in transfers])


async def transfer(
    pool: Pool,
    outbox: Outbox,
    *,
    now: datetime,
    operator_id: uuid.UUID,
    number: str,
    subscriber_code: str,
    reason: str,
) -> tuple[store.Registration, dict[uuid.UUID, str]]:
    """The moved registration and its partner's name, the transfer recorded with its reason."""
    async with pool.acquire() as conn, conn.transaction():
        target, registration = await subscriber_and_number(conn, subscriber_code, number, NUMBER_UNKNOWN)
        if registration.subscriber_id is None or registration.subscriber_code is None:
            raise Refused(NOT_REGISTERED)
        if registration.subscriber_id == target.id:
            raise Refused(ALREADY_THERE)
        await store.transfer(
            conn,
            number,
            to_subscriber_id=target.id,
            to_subscriber_code=target.code,
            from_subscriber_id=registration.subscriber_id,
            operator_id=operator_id,
            reason=reason,
            now=now,
        )
        moved = await registered(conn, number)
        await outbox.add(
            conn,
            events.product_event(
                ProductTransferred,
                moved,
                from_subscriber_id=registration.subscriber_id,
                from_subscriber_code=registration.subscriber_code,
                reason=reason,
            ),
        )
        partners = await store.partner_names(conn, [moved.partner_id] if moved.partner_id else [])
    return moved, partners
