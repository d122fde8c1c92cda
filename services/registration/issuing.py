"""Issuing registration numbers and PINs (REG-1, REG-2): the one piece of code that draws and stores them,
for the batch issued in its request and for each chunk of a deferred batch (batches.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from services.registration import domain, events, store
from services.registration.pins import Pins
from shared.db import Connection
from shared.events.registration import Edition
from shared.outbox import Outbox


@dataclass(frozen=True)
class Drawn:
    numbers: list[str]
    pins: list[str | None]  # None: without a PIN
    hashes: list[str | None]


async def draw(pins: Pins, count: int, with_pin: bool) -> Drawn:
    """`count` new numbers, their PINs (or None) and the PINs' hashes: no database, the slow part (hashing)."""
    numbers = [domain.new_registration_number() for _ in range(count)]
    if not with_pin:
        return Drawn(numbers, [None] * count, [None] * count)
    plain = [domain.new_pin() for _ in range(count)]
    return Drawn(numbers, list[str | None](plain), list[str | None](await pins.hash_many(plain)))


async def issue(
    conn: Connection,
    outbox: Outbox,
    pins: Pins,
    drawn: Drawn,
    *,
    article: str,
    edition: Edition,
    batch_id: uuid.UUID,
    with_pin: bool,
    now: datetime,
) -> dict[str, str | None]:
    """Store `drawn` in the caller's transaction, drawing again for any number taken already (random numbers
    can collide with older ones), and announce them: every one of `len(drawn.numbers)` numbers, with its PIN."""
    wanted, issued = len(drawn.numbers), dict[str, str | None]()
    while True:
        inserted = await store.insert_numbers(conn, article, batch_id, drawn.numbers, drawn.hashes, now)
        issued.update((n, p) for n, p in zip(drawn.numbers, drawn.pins, strict=True) if n in inserted)
        if len(issued) == wanted:
            break
        drawn = await draw(pins, wanted - len(issued), with_pin)
    await outbox.add(conn, events.numbers_issued(batch_id, article, edition, list(issued), with_pin=with_pin))
    return issued
