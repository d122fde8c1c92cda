"""DAT-1: what a client program asks for (currencies and a period of days) and the rate of every calendar day of it,
pure. The bank sets rates for business days only; a weekend or a holiday has the rate last set before it, so the
answer has a row for each currency and each day from the currency's first rate on (a currency the bank did not
publish yet on a day has no row for it, nor one it stopped publishing more than MAX_CARRY before).

Refusals are values naming the parameter (`field`); the HTTP edge answers them 400.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import orjson

from rules.refusal import Refusal, Refused
from services.updates.rates_currencies import CURRENCIES
from services.updates.rates_formats import CSV_HEADER, FIRST_DAY
from services.updates.rates_store import StoredRate

Media = Literal["json", "csv"]
MAX_CURRENCIES = 40
DAY = timedelta(days=1)
# How long a rate is carried past the day it was set for. The bank's longest pause is the New Year holidays (the rate
# set on 31 December or before holds until about 11 January); a currency it stopped publishing (the Deutsche Mark in
# 2002) is not carried on for ever.
MAX_CARRY = timedelta(days=15)


@dataclass(frozen=True)
class RatesRequest:
    currencies: tuple[str, ...]  # in the order asked, each once
    first: date
    last: date
    media: Media

    def etag(self, stamp: int) -> str:
        """Strong: the same bytes for the same rates' stamp (the newest changing import) and the same request."""
        key = f"{stamp}|{','.join(self.currencies)}|{self.first}|{self.last}|{self.media}"
        return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def rates_request(
    *,
    currencies: str | None,
    from_: str | None,
    to: str | None,
    since: str | None,
    media: Media,
    today: date,
) -> RatesRequest:
    """The request's parameters read, or Refused with one refusal per parameter that is wrong."""
    refusals: list[Refusal] = []

    def wrong(field: str, message: str) -> None:
        refusals.append(Refusal("invalid-parameter", message, "invalid", field=field))

    codes = tuple(dict.fromkeys(c.strip().upper() for c in (currencies or "").split(",") if c.strip()))
    if not codes:
        wrong("currencies", "name one currency at least, e.g. currencies=USD,EUR")
    elif len(codes) > MAX_CURRENCIES:
        wrong("currencies", f"at most {MAX_CURRENCIES} currencies in one request")
    elif unknown := [c for c in codes if c not in CURRENCIES]:
        wrong("currencies", f"unknown currency code(s): {', '.join(unknown[:5])} (ISO 4217 codes the bank publishes)")

    def day(field: str, text: str | None) -> date | None:
        if text is None:
            return None
        try:
            value = date.fromisoformat(text) if len(text) == 10 else None
        except ValueError:
            value = None
        if value is None:
            wrong(field, f"{text[:20]!r} is not a date YYYY-MM-DD")
        elif value < FIRST_DAY:
            wrong(field, f"rates are kept from {FIRST_DAY} on (DAT-1)")
        elif value > today:
            wrong(field, f"{value} is in the future (today is {today})")
        else:
            return value
        return None

    first, last, after = day("from", from_), day("to", to), day("since", since)
    if since is not None and from_ is not None:
        wrong("since", "give either from or since, not both")
    elif since is None and from_ is None:
        wrong("from", "give the first day (from=YYYY-MM-DD) or the last day the program has (since=YYYY-MM-DD)")
    if after is not None:
        first = after + DAY
    last = last or today
    if first is not None and first > last and not (after is not None and after == last):
        wrong("from" if since is None else "since", f"the period must not end ({last}) before it starts ({first})")
    if refusals:
        raise Refused(*refusals)
    assert first is not None
    return RatesRequest(codes, first, last, media)


class EveryDay:
    """One currency's rates set in the period, fed in day order, as a row for each day (carrying the last one)."""

    def __init__(self, carried: StoredRate | None, first: date, last: date, *, currency: str = "") -> None:
        self.currency = currency or (carried.currency if carried else "")
        self.current = carried  # the rate in force on `first`, set for it or before
        self.next_day = first
        self.last = last

    def feed(self, rates: Iterable[StoredRate]) -> list[tuple[date, StoredRate]]:
        days: list[tuple[date, StoredRate]] = []
        for rate in rates:
            days.extend(self._until(rate.day))
            self.current = rate
        return days

    def finish(self) -> list[tuple[date, StoredRate]]:
        return self._until(self.last + DAY)

    def _until(self, stop: date) -> list[tuple[date, StoredRate]]:
        days: list[tuple[date, StoredRate]] = []
        if self.current is None:  # no rate yet: the bank did not publish this currency before
            self.next_day = max(self.next_day, stop)
            return days
        current, day = self.current, self.next_day
        while day < min(stop, current.day + MAX_CARRY + DAY):
            days.append((day, current))
            day += DAY
        self.next_day = max(self.next_day, stop)
        return days


def every_day_of(rates: Iterable[StoredRate], asked: RatesRequest) -> list[tuple[date, StoredRate]]:
    """Rows of several currencies (each's in day order, the first of each the one in force on the first day) as
    every day of the period, currency by currency."""
    rows: list[tuple[date, StoredRate]] = []
    days: EveryDay | None = None
    for rate in rates:
        if days is None or days.currency != rate.currency:
            if days is not None:
                rows.extend(days.finish())
            days = EveryDay(None, asked.first, asked.last, currency=rate.currency)
        rows.extend(days.feed([rate]))
    if days is not None:
        rows.extend(days.finish())
    return rows


def value_text(value: Decimal) -> str:
    """As the bank wrote it, never in exponent notation."""
    return format(value, "f")


def json_rows(days: list[tuple[date, StoredRate]], first: bool) -> bytes:
    """Rows of the answer's `rates` array, `["2001-01-10","USD",1,"28.4200"]`, comma-separated (a leading comma
    unless these are the first)."""
    text = ",".join(f'["{d.isoformat()}","{r.currency}",{r.nominal},"{value_text(r.value)}"]' for d, r in days)
    return ((b"" if first else b",") + text.encode()) if days else b""


def csv_rows(days: list[tuple[date, StoredRate]]) -> bytes:
    return "".join(f"{d.isoformat()},{r.currency},{r.nominal},{value_text(r.value)}\r\n" for d, r in days).encode()


CSV_HEAD = (",".join(CSV_HEADER) + "\r\n").encode()


def json_head(asked: RatesRequest, names: dict[str, str]) -> bytes:
    """The JSON answer up to its rows: the period, the currencies' names, the columns, and `"rates":[`."""
    head: dict[str, Any] = {
        "from": asked.first.isoformat(),
        "to": asked.last.isoformat(),
        "currencies": {code: {"name": names[code]} for code in asked.currencies},
        "columns": CSV_HEADER,
    }
    return orjson.dumps(head)[:-1] + b',"rates":['
