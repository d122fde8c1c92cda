"""DAT-1's SQL: the stored rates, their imports and corrections, and the client's reads (one currency's days in
order, by the primary key; a cursor, so that a whole history is never in memory)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from shared.db import Connection

# Every import takes this lock first: the stored days it compares the file with stay as read until it commits.
_IMPORT_LOCK = "SELECT pg_advisory_xact_lock(hashtext('updates.exchange_rates'))"


@dataclass(frozen=True)
class StoredRate:
    currency: str
    day: date
    nominal: int
    value: Decimal


async def lock_imports(conn: Connection) -> None:
    await conn.execute(_IMPORT_LOCK)


async def stored_rates(conn: Connection, keys: Sequence[tuple[str, date]]) -> dict[tuple[str, date], StoredRate]:
    """The stored rates of these (currency, day) pairs (by the primary key)."""
    rows = await conn.fetch(
        "SELECT r.currency, r.day, r.nominal, r.value FROM unnest($1::text[], $2::date[]) AS k(currency, day) "
        "JOIN exchange_rates r USING (currency, day)",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(r["currency"], r["day"]): StoredRate(r["currency"], r["day"], r["nominal"], r["value"]) for r in rows}


async def save_currencies(conn: Connection, currencies: Sequence[tuple[str, str, str]]) -> None:
    """(char code, numeric code, name): a currency's name as the newest file gives it."""
    await conn.execute(
        "INSERT INTO currencies (char_code, num_code, name) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) "
        "ON CONFLICT (char_code) DO UPDATE SET num_code = EXCLUDED.num_code, name = EXCLUDED.name "
        "WHERE (currencies.num_code, currencies.name) IS DISTINCT FROM (EXCLUDED.num_code, EXCLUDED.name)",
        [c[0] for c in currencies],
        [c[1] for c in currencies],
        [c[2] for c in currencies],
    )


async def start_import(conn: Connection, source: str, rates_format: str, sha256: str, at: datetime) -> int:
    import_id: int = await conn.fetchval(
        "INSERT INTO rate_imports (source, format, sha256, imported_at, days, currencies, rows_added, "
        "rows_corrected, rows_unchanged) VALUES ($1, $2, $3, $4, 0, 0, 0, 0, 0) RETURNING id",
        source,
        rates_format,
        sha256,
        at,
    )
    return import_id


async def finish_import(
    conn: Connection, import_id: int, *, days: int, currencies: int, added: int, corrected: int, unchanged: int
) -> None:
    """The import's counts; when it changed a rate, every replica is told to drop the answers it keeps (on commit:
    rates_cache.py)."""
    if added or corrected:
        await conn.execute("SELECT pg_notify('updates_rates', '')")
    await conn.execute(
        "UPDATE rate_imports SET days = $2, currencies = $3, rows_added = $4, rows_corrected = $5, "
        "rows_unchanged = $6 WHERE id = $1",
        import_id,
        days,
        currencies,
        added,
        corrected,
        unchanged,
    )


async def add_rates(conn: Connection, import_id: int, rates: Sequence[StoredRate]) -> None:
    await conn.execute(
        "INSERT INTO exchange_rates (currency, day, nominal, value, import_id) "
        "SELECT c, d, n, v, $5 FROM unnest($1::text[], $2::date[], $3::integer[], $4::numeric[]) AS t(c, d, n, v)",
        [r.currency for r in rates],
        [r.day for r in rates],
        [r.nominal for r in rates],
        [r.value for r in rates],
        import_id,
    )


async def correct_rates(conn: Connection, import_id: int, rates: Sequence[StoredRate], at: datetime) -> None:
    """The new nominal and value of stored days, the old ones kept in the corrections' history."""
    args = ([r.currency for r in rates], [r.day for r in rates], [r.nominal for r in rates], [r.value for r in rates])
    await conn.execute(
        "INSERT INTO exchange_rate_corrections (currency, day, old_nominal, old_value, new_nominal, new_value, "
        "corrected_at, import_id) SELECT r.currency, r.day, r.nominal, r.value, t.n, t.v, $5, $6 "
        "FROM unnest($1::text[], $2::date[], $3::integer[], $4::numeric[]) AS t(c, d, n, v) "
        "JOIN exchange_rates r ON (r.currency, r.day) = (t.c, t.d)",
        *args,
        at,
        import_id,
    )
    await conn.execute(
        "UPDATE exchange_rates r SET nominal = t.n, value = t.v, import_id = $5 "
        "FROM unnest($1::text[], $2::date[], $3::integer[], $4::numeric[]) AS t(c, d, n, v) "
        "WHERE (r.currency, r.day) = (t.c, t.d)",
        *args,
        import_id,
    )


async def rates_head(conn: Connection, codes: Sequence[str]) -> tuple[int, dict[str, str]]:
    """The stamp of the rates' last change (the newest import that changed a row, 0: none yet; by the partial index)
    and these currencies' names, in one round trip."""
    rows = await conn.fetch(
        "SELECT s.stamp, c.char_code, c.name FROM (SELECT coalesce(max(id), 0) AS stamp FROM rate_imports "
        "WHERE rows_added + rows_corrected > 0) s LEFT JOIN currencies c ON c.char_code = ANY($1::text[])",
        list(codes),
    )
    return rows[0]["stamp"], {r["char_code"]: r["name"] for r in rows if r["char_code"] is not None}


async def rates_in_force(conn: Connection, codes: Sequence[str], first: date, last: date) -> list[StoredRate]:
    """For a short period, in one round trip: each currency's rate in force on `first` (set for it or before) and
    those set after it up to `last`, currency by currency in the order given, day by day (each part by the
    primary key)."""
    rows = await conn.fetch(
        "SELECT c.code AS currency, r.day, r.nominal, r.value "
        "FROM unnest($1::text[]) WITH ORDINALITY AS c(code, n) CROSS JOIN LATERAL ("
        "(SELECT day, nominal, value FROM exchange_rates WHERE currency = c.code AND day <= $2 "
        "ORDER BY day DESC LIMIT 1) UNION ALL "
        "(SELECT day, nominal, value FROM exchange_rates WHERE currency = c.code AND day > $2 AND day <= $3)"
        ") AS r ORDER BY c.n, r.day",
        list(codes),
        first,
        last,
    )
    return [StoredRate(r["currency"], r["day"], r["nominal"], r["value"]) for r in rows]


async def rate_on(conn: Connection, currency: str, day: date) -> StoredRate | None:
    """The rate in force on `day`: the one set for it, else the last one set before it."""
    row = await conn.fetchrow(
        "SELECT currency, day, nominal, value FROM exchange_rates WHERE currency = $1 AND day <= $2 "
        "ORDER BY day DESC LIMIT 1",
        currency,
        day,
    )
    return StoredRate(row["currency"], row["day"], row["nominal"], row["value"]) if row else None


async def rates_between(
    conn: Connection, currency: str, first: date, last: date, *, chunk: int
) -> AsyncIterator[list[StoredRate]]:
    """One currency's rates set for `first`..`last`, in day order, `chunk` rows at a time (a cursor: the caller's
    transaction must be open)."""
    cursor = await conn.cursor(
        "SELECT currency, day, nominal, value FROM exchange_rates WHERE currency = $1 AND day BETWEEN $2 AND $3 "
        "ORDER BY day",
        currency,
        first,
        last,
    )
    while rows := await cursor.fetch(chunk):
        yield [StoredRate(r["currency"], r["day"], r["nominal"], r["value"]) for r in rows]
