"""The production calendar support counts business hours on (SUP-1): weekends and the country's public holidays
are not business days, weekend days made working days by decree are.

Interim: until the production calendar moves into the kernel (`shared/calendar.py`, with contracts' decree
overrides on top), support builds it from the `holidays` package alone. `business_hours.py` takes any object with
`is_business_day`, so the switch is this module's import only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import holidays


@dataclass(frozen=True)
class HolidayCalendar:
    non_working: frozenset[date]
    working: frozenset[date]  # weekend days made working days

    def is_business_day(self, day: date) -> bool:
        if day in self.working:
            return True
        return day.weekday() < 5 and day not in self.non_working


def reach(today: date) -> range:
    """The years a process started today can reach: last year to ten years ahead."""
    return range(today.year - 1, today.year + 11)


def load_calendar(country: str, years: Iterable[int]) -> HolidayCalendar:
    try:
        found = holidays.country_holidays(country.upper(), years=sorted(years))
    except NotImplementedError:
        raise ValueError(f"no calendar {country!r}: the holidays package has no calendar for it") from None
    return HolidayCalendar(frozenset(found), frozenset(found.weekend_workdays))
