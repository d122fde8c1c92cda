"""Registering a product with its registration number and PIN (REG-2, REG-3, REG-4, REG-7), its deferred
activation, and the daily purge of old wrong-PIN tries."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from rules.refusal import Refusal, Refused
from services.registration import domain, events, store
from services.registration.pins import Pins
from shared.clock import local_date
from shared.db import Connection, Pool
from shared.events.registration import ProductActivated, ProductRegistered
from shared.jobs import Daily, Job, JobHandler, schedule
from shared.outbox import Outbox

ACTIVATE_JOB = "registration.activate"
# Wrong PINs count for an hour (REG-7); older rows are purged once a day.
PURGE_PIN_FAILURES = "registration.purge_pin_failures"


async def register_with_pin(
    pool: Pool,
    outbox: Outbox,
    pins: Pins,
    throttle: domain.PinThrottle,
    *,
    now: datetime,
    zone: ZoneInfo,
    number: str,
    pin: str,
    subscriber_id: uuid.UUID,
    subscriber_code: str,
    account_id: uuid.UUID,
    card: dict[str, Any],
    purchase_date: date,
) -> store.Registration:
    """The owner registers the product to its subscriber with the card (REG-2); access starts
    ACTIVATION_DELAY later (REG-3). Refused: a purchase date after today, too many wrong PINs (REG-7), a wrong
    PIN or unknown number (the same refusal), a PIN used already, a PROF product without a contract (REG-4)."""
    today = local_date(now, zone)
    future = domain.purchase_date_refusal(purchase_date, today, "card.purchase_date")
    if future is not None:
        raise Refused(future)
    outcome: Refusal | store.Registration
    async with pool.acquire() as conn, conn.transaction():
        # The failure row must commit with a refusal, so refusals are returned, and raised after the commit.
        outcome = await _try_pin(conn, pins, throttle, number, pin, subscriber_id, now, zone, today)
        if isinstance(outcome, store.Registration):
            active_from = now + domain.ACTIVATION_DELAY
            await store.register(
                conn,
                number,
                subscriber_id=subscriber_id,
                subscriber_code=subscriber_code,
                registered_by="self",
                partner_id=None,
                account_id=account_id,
                purchase_date=purchase_date,
                card=card,
                now=now,
                active_from=active_from,
                pin_used=True,
            )
            await schedule(conn, ACTIVATE_JOB, {"number": number}, active_from, dedupe_key=f"activate:{number}")
            outcome = await registered(conn, number)
            await outbox.add(conn, events.product_event(ProductRegistered, outcome))
    if isinstance(outcome, Refusal):
        raise Refused(outcome)
    return outcome


async def _try_pin(
    conn: Connection,
    pins: Pins,
    throttle: domain.PinThrottle,
    number: str,
    pin: str,
    subscriber_id: uuid.UUID,
    now: datetime,
    zone: ZoneInfo,
    today: date,
) -> Refusal | store.Registration:
    """The number, locked, if the PIN opens it and it may be registered; otherwise the refusal."""
    registration = await store.lock_number(conn, number)
    await store.lock_subscriber_tries(conn, subscriber_id)
    failures = await store.pin_failures_since(conn, number, subscriber_id, now - throttle.window)
    locked = throttle.retry_after(failures, now)
    if locked is not None:
        return _too_many_wrong_pins(locked, now, zone)
    pin_hash = registration.pin_hash if registration is not None else None
    if registration is None or not await pins.verify(pin_hash, pin):
        await store.record_pin_failure(conn, number, subscriber_id, now)
        tries_left = throttle.tries_left(failures.plus(now), now)
        return Refusal(
            "pin-rejected",
            "the registration number or the PIN is wrong",
            field="pin",
            details={"tries_left": tries_left},
        )
    if registration.pin_used_at is not None or registration.subscriber_id is not None:
        yours = registration.subscriber_id == subscriber_id
        where = "to your subscriber" if yours else "to another subscriber; the vendor's support can transfer it"
        return Refusal(
            "pin-used",
            f"A PIN works once: this product is registered already, {where}.",
            kind="conflict",
            details={"yours": yours},
        )
    if not domain.may_self_register(registration.edition, await store.coverage_ends(conn, number), today):  # REG-4
        return domain.contract_required(number)
    return registration


def _too_many_wrong_pins(locked: domain.PinWait, now: datetime, zone: ZoneInfo) -> Refusal:
    """REG-7's "try later", with the time in the vendor's zone (as every time the services state)."""
    until = (now + locked.wait).astimezone(zone)
    what = (
        "for this registration number"
        if locked.scope == "number"
        else "from your subscriber in the last hour, on several registration numbers"
    )
    return Refusal(
        "too-many-wrong-pins",
        f"Too many wrong PINs {what}; try again after {until:%Y-%m-%d %H:%M} ({zone.key}).",
        kind="too-often",
        details={
            "retry_after": int(locked.wait.total_seconds()) + 1,
            "retry_at": until.isoformat(timespec="seconds"),
            "scope": locked.scope,
        },
    )


SUBSCRIBER_UNKNOWN = Refusal("subscriber_unknown", "no subscriber has this code", field="subscriber_code")


async def subscriber_and_number(
    conn: Connection, subscriber_code: str, number: str, number_unknown: Refusal
) -> tuple[store.Subscriber, store.Registration]:
    """The subscriber a partner or the support names by its code, and the number, locked, to register or move
    to it; refused if either is unknown."""
    subscriber = await store.subscriber_by_code(conn, subscriber_code)
    if subscriber is None:
        raise Refused(SUBSCRIBER_UNKNOWN)
    registration = await store.lock_number(conn, number)
    if registration is None:
        raise Refused(number_unknown)
    return subscriber, registration


async def registered(conn: Connection, number: str) -> store.Registration:
    """The number's registration, locked earlier in this transaction."""
    registration = await store.registration(conn, number)
    assert registration is not None  # locked in this transaction
    return registration


def activate_job(outbox: Outbox) -> JobHandler:
    """REG-3: the deferred job that starts a self-registration's access, on the shared clock."""

    async def activate(conn: Connection, job: Job) -> None:
        registration = await store.activate(conn, str(job.payload["number"]))
        if registration is not None:  # already active: a re-run changes nothing
            await outbox.add(conn, events.product_event(ProductActivated, registration))

    return activate


async def purge_pin_failures(conn: Connection, now: datetime) -> None:
    """Wrong PINs older than REG-7's window count no more."""
    await store.purge_pin_failures(conn, now - domain.PinThrottle().window)


PIN_FAILURES_PURGE = Daily(PURGE_PIN_FAILURES, "purge-pin-failures", purge_pin_failures)
