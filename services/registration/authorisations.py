"""A partner registers a product to a subscriber's code (REG-5): active at once, and the owner is told."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from rules.refusal import Refusal, Refused
from services.registration import domain, events, store
from services.registration.registrations import registered, subscriber_and_number
from shared.clock import local_date
from shared.db import Pool
from shared.events.registration import ProductActivated, ProductRegistered
from shared.logging import get_logger
from shared.outbox import Outbox

log = get_logger(__name__)

PRODUCT_UNKNOWN = Refusal("product_unknown", "no product has this number", field="registration_number")
REGISTERED_ELSEWHERE = Refusal(
    "registered-to-another-subscriber",
    "This number is registered to another subscriber. Moving it is done by the vendor's support (an audited transfer).",
    kind="conflict",
)


async def authorise(
    pool: Pool,
    outbox: Outbox,
    *,
    now: datetime,
    zone: ZoneInfo,
    partner_id: uuid.UUID,
    account_id: uuid.UUID,
    number: str,
    subscriber_code: str,
    purchase_date: date,
) -> tuple[store.Registration, dict[uuid.UUID, str]]:
    """The registration and the names of the partners it names. Repeating an authorisation already made for
    the same subscriber answers it again (a retry is safe)."""
    future = domain.purchase_date_refusal(purchase_date, local_date(now, zone), "purchase_date")
    if future is not None:
        raise Refused(future)
    async with pool.acquire() as conn, conn.transaction():
        subscriber, registration = await subscriber_and_number(conn, subscriber_code, number, PRODUCT_UNKNOWN)
        partners = await store.partner_names(conn, [partner_id])
        if registration.subscriber_id == subscriber.id:
            return registration, partners
        if registration.subscriber_id is not None:
            raise Refused(REGISTERED_ELSEWHERE)
        await store.register(
            conn,
            number,
            subscriber_id=subscriber.id,
            subscriber_code=subscriber.code,
            registered_by="partner",
            partner_id=partner_id,
            account_id=account_id,
            purchase_date=purchase_date,
            card=None,
            now=now,
            active_from=now,
            pin_used=False,
        )
        registration = await registered(conn, number)
        await outbox.add(conn, events.product_event(ProductRegistered, registration))
        await outbox.add(conn, events.product_event(ProductActivated, registration))
        # REG-5: the owner learns by e-mail what the partner authorised.
        letter = events.partner_authorised(subscriber, registration, partners.get(partner_id))
        if letter is not None:
            await outbox.add(conn, letter)
        else:
            # The owner's account is not known here yet (identity announces it with the subscriber, so this
            # is rare): the product is registered all the same; the owner sees it in the list.
            log.warning("registration.partner_letter_skipped", subscriber_code=subscriber.code, number=number)
    return registration, partners
