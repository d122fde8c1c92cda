"""ITS-7's `covered_until` jumps from period end to period end: the same answer as walking month by month."""

from __future__ import annotations

import random
from datetime import date

from rules.coverage import covered_until, free_period
from rules.months import Month, Period


def walked(month: Month, *, its_required: bool, purchase_date: date | None, periods: list[Period]) -> Month | None:
    """The rule's plain reading: the months after `month` one by one, while some period covers each."""
    every = [*periods, *([free_period(purchase_date)] if purchase_date else [])]
    if not its_required or not any(month in p for p in every):
        return None
    while any(month.plus(1) in p for p in every):
        month = month.plus(1)
    return month


def test_covered_until_is_the_month_by_month_walk() -> None:
    rng = random.Random(7)  # noqa: S311 (test data, not secrets)
    base = Month(2025, 1)
    for _ in range(5_000):
        periods = []
        for _ in range(rng.randint(0, 5)):
            start = base.plus(rng.randint(0, 36))
            periods.append(Period(start, start.plus(rng.randint(0, 14))))
        purchase = base.plus(rng.randint(-6, 36)).first_day if rng.random() < 0.5 else None
        month = base.plus(rng.randint(-3, 48))
        required = rng.random() < 0.9
        expected = walked(month, its_required=required, purchase_date=purchase, periods=periods)
        got = covered_until(month, its_required=required, purchase_date=purchase, contract_periods=iter(periods))
        assert got == expected, (month, periods, purchase)
