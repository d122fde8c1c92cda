"""DAT-1's use cases: a rates file imported (whole or not at all, corrections kept in history, the same file again
changing nothing), and a client program's rates read as a stream of rows, one currency after another.

Each owns its transaction: the import's comparison and writes are one, under a lock that makes imports take turns;
a read holds one (read only, repeatable) for its cursor, so that a long answer sees one state of the rates.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel

from services.updates import rates_store
from services.updates.rates_currencies import CURRENCIES
from services.updates.rates_formats import Rate, RatesFormat, parse_rates
from services.updates.rates_query import EveryDay, RatesRequest, every_day_of
from services.updates.rates_store import StoredRate
from shared.db import Connection, Pool

# Rows fetched from the cursor at a time: a whole history is some 13,000 days a currency.
CHUNK = 2_000
# A period shorter than this is read in one query for all its currencies; a longer one through a cursor.
SHORT_PERIOD_DAYS = 62


class ImportReport(BaseModel):
    """What one file did: the days and currencies it holds, and how many of its rows were new, corrected (the stored
    day had another nominal or value: the old one is kept in the history) or already stored as they are."""

    source: str
    format: RatesFormat
    days: int
    currencies: int
    rows_added: int
    rows_corrected: int
    rows_unchanged: int
    first_day: date
    last_day: date


async def import_rates(
    pool: Pool, body: bytes, rates_format: RatesFormat, *, source: str, now: datetime, today: date
) -> ImportReport:
    """DAT-1: a file's rates stored; RatesFileRefused (nothing stored) when any of its records is wrong."""
    rates = parse_rates(body, rates_format, today=today)
    async with pool.acquire() as conn, conn.transaction():
        return await store_rates(conn, rates, body, rates_format, source=source, now=now)


async def store_rates(
    conn: Connection, rates: list[Rate], body: bytes, rates_format: RatesFormat, *, source: str, now: datetime
) -> ImportReport:
    """A parsed file's rates stored in the caller's transaction (the daily fetch's job commits with it)."""
    incoming = [StoredRate(r.currency, r.day, r.nominal, r.value) for r in rates]
    await rates_store.lock_imports(conn)
    stored = await rates_store.stored_rates(conn, [(r.currency, r.day) for r in incoming])
    added = [r for r in incoming if (r.currency, r.day) not in stored]
    corrected = [r for r in incoming if (old := stored.get((r.currency, r.day))) and _differs(old, r)]
    report = ImportReport(
        source=source,
        format=rates_format,
        days=len({r.day for r in rates}),
        currencies=len({r.currency for r in rates}),
        rows_added=len(added),
        rows_corrected=len(corrected),
        rows_unchanged=len(incoming) - len(added) - len(corrected),
        first_day=min(r.day for r in rates),
        last_day=max(r.day for r in rates),
    )
    import_id = await rates_store.start_import(conn, source, rates_format, hashlib.sha256(body).hexdigest(), now)
    await rates_store.save_currencies(conn, _currencies(rates))
    if added:
        await rates_store.add_rates(conn, import_id, added)
    if corrected:
        await rates_store.correct_rates(conn, import_id, corrected, now)
    await rates_store.finish_import(
        conn,
        import_id,
        days=report.days,
        currencies=report.currencies,
        added=report.rows_added,
        corrected=report.rows_corrected,
        unchanged=report.rows_unchanged,
    )
    return report


def _differs(old: StoredRate, new: StoredRate) -> bool:
    return (old.nominal, old.value) != (new.nominal, new.value)  # Decimal: 30.9436 == 30.94360


def _currencies(rates: list[Rate]) -> list[tuple[str, str, str]]:
    names = {r.currency: r.name for r in rates}  # the file's last word on a name
    return [(code, CURRENCIES[code].num_code, name) for code, name in sorted(names.items())]


@dataclass(frozen=True)
class RatesReading:
    """A client's read of the rates on one connection: the ETag's stamp and the currencies' names, read first, then
    the rows. Read in this order, a change committed in between gives new rows under the older stamp (the next
    revalidation answers them again), never old rows under the new stamp (which a 304 would keep)."""

    conn: Connection
    request: RatesRequest
    stamp: int
    names: dict[str, str]

    async def every_day(self) -> AsyncIterator[list[tuple[date, StoredRate]]]:
        """DAT-1: each currency's rate on every day of the period, in chunks (currency by currency, day by day)."""
        asked = self.request
        if asked.first > asked.last:
            return
        if is_short(asked):  # what programs ask every day: one round trip
            if rows := every_day_of(
                await rates_store.rates_in_force(self.conn, asked.currencies, asked.first, asked.last), asked
            ):
                yield rows
            return
        async with self.conn.transaction(isolation="repeatable_read", readonly=True):  # a cursor lives in one
            for currency in asked.currencies:
                days = EveryDay(await rates_store.rate_on(self.conn, currency, asked.first), asked.first, asked.last)
                async for chunk in rates_store.rates_between(self.conn, currency, asked.first, asked.last, chunk=CHUNK):
                    if rows := days.feed(chunk):
                        yield rows
                if rows := days.finish():
                    yield rows


def is_short(asked: RatesRequest) -> bool:
    """A period read in one query for all its currencies (and its answer kept whole, rates_cache.py)."""
    return (asked.last - asked.first).days < SHORT_PERIOD_DAYS


@contextlib.asynccontextmanager
async def reading(pool: Pool, request: RatesRequest) -> AsyncIterator[RatesReading]:
    async with pool.acquire() as conn:
        stamp, names = await rates_store.rates_head(conn, request.currencies)
        names = {c: names.get(c, CURRENCIES[c].name) for c in request.currencies}
        yield RatesReading(conn, request, stamp, names)
