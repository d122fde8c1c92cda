"""Demo exchange rates (DAT-1): a deterministic CSV of several currencies' rates on every business day since 1991
(a random walk from a fixed seed, not the bank's figures), for `make run`, the tests and bench/rates.py."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from services.updates.public import RATE_CURRENCIES as CURRENCIES
from services.updates.public import RATES_CSV_HEADER as CSV_HEADER
from services.updates.public import RATES_FIRST_DAY as FIRST_DAY

DEMO_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CNY", "CHF", "KZT", "BYN")
# Nominal and a starting value in roubles (the 1991 rouble: before 1998's redenomination the figures are 1000 times
# larger, as the bank's were); the euro from its first day.
_START = {"JPY": 100, "KZT": 100, "CNY": 10, "BYN": 1}
_FIRST_DAY = {"EUR": date(1999, 1, 1), "BYN": date(2016, 7, 1), "KZT": date(1993, 11, 15)}
# Each walk's value on _ANCHOR (roubles per nominal), so that the recent days a person looks at are of a believable
# size; a fixed day, so that every day's figure is the same whatever `last` is (imported again: nothing changes).
_ANCHOR = date(2026, 12, 1)
_LAST = {
    "USD": Decimal("78.5"),
    "EUR": Decimal("91.2"),
    "GBP": Decimal("104.3"),
    "JPY": Decimal("52.1"),
    "CNY": Decimal("108.4"),
    "CHF": Decimal("97.6"),
    "KZT": Decimal("15.3"),
    "BYN": Decimal("25.8"),
}
_REDENOMINATION = date(1998, 1, 1)


def business_days(first: date, last: date) -> list[date]:
    days, day = [], first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def generated_rates_csv(
    currencies: Sequence[str] = DEMO_CURRENCIES, *, first: date = FIRST_DAY, last: date, seed: int = 1991
) -> bytes:
    """`date,currency,nominal,value` of each currency on each business day from its first to `last`."""
    lines = [",".join(CSV_HEADER)]
    days = business_days(first, max(last, _ANCHOR))
    for index, code in enumerate(currencies):
        if code not in CURRENCIES:
            raise ValueError(f"{code} is not among the bank's currencies")
        walk = random.Random(seed + index)  # noqa: S311 - demo figures, not secrets
        nominal = _START.get(code, 1)
        value = Decimal(walk.randint(2, 90)) / (10 if nominal == 1 else 1)
        starts = _FIRST_DAY.get(code, first)
        walked: list[tuple[date, Decimal]] = []
        for day in days:
            if day < starts:
                continue
            step = Decimal(walk.randint(-150, 160)) / Decimal(10_000)
            value = max(Decimal("0.0100"), value * (1 + step))
            walked.append((day, value))
        anchored = [value for day, value in walked if day <= _ANCHOR]
        scale = _LAST[code] / anchored[-1] if code in _LAST and anchored else Decimal(1)
        for day, value in walked:
            if day > last:
                break
            shown = max(Decimal("0.0001"), value * scale * (1000 if day < _REDENOMINATION else 1))
            lines.append(f"{day.isoformat()},{code},{nominal},{shown.quantize(Decimal('0.0001'))}")
    return ("\n".join(lines) + "\n").encode()
