"""ITS-7: which months a product's updates are covered in, and by what — its ITS contracts or its free period.

The one home of the rule: contracts answers coverage and support status with it (ITS-7, MON-1, CMS-6), updates
decides downloads with it (UPD-4). A product of an edition that needs no contract (BASIC) is always covered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from rules.months import Month, Period

# Six months of free ITS support from the purchase date: its month and the five after it.
FREE_PERIOD_MONTHS = 6

CoveredBy = Literal["contract", "free_period", "not_required"]


def free_period(purchase_date: date) -> Period:
    """The free period: the purchase date's month and the five after it."""
    start = Month.of(purchase_date)
    return Period(start, start.plus(FREE_PERIOD_MONTHS - 1))


def its_required(edition: str, announced: bool | None) -> bool:
    """Whether a product needs a contract, as the catalogue announced it; by its edition where it did not
    (every edition but BASIC): never claim support we cannot confirm."""
    return announced if announced is not None else edition != "BASIC"


@dataclass(frozen=True)
class Coverage:
    covered: bool
    by: CoveredBy | None
    until: Month | None  # the last month of the covering contract or free period


def coverage(
    month: Month, *, its_required: bool, purchase_date: date | None, contract_periods: Iterable[Period]
) -> Coverage:
    """Are updates of this product covered in `month`, and by what (a contract wins over the free period)."""
    if not its_required:
        return Coverage(True, "not_required", None)
    covering = [p for p in contract_periods if month in p]
    if covering:
        return Coverage(True, "contract", max(p.end for p in covering))
    if purchase_date is not None and month in (free := free_period(purchase_date)):
        return Coverage(True, "free_period", free.end)
    return Coverage(False, None, None)


def covered_until(
    month: Month, *, its_required: bool, purchase_date: date | None, contract_periods: Iterable[Period]
) -> Month | None:
    """The last month of the unbroken coverage that includes `month`: back-to-back and overlapping contracts and
    the free period count as one. None if `month` is not covered, or the product needs no contract."""
    periods = list(contract_periods)
    if purchase_date is not None:
        periods.append(free_period(purchase_date))
    covering = [p.end for p in periods if month in p]
    if not its_required or not covering:
        return None
    # From period end to period end, not month by month: a period that starts by the month after `end` and ends
    # later continues the coverage through its own end.
    end = max(covering)
    while following := [p.end for p in periods if p.start <= end.plus(1) and end < p.end]:
        end = max(following)
    return end
