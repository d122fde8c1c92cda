"""Business hours (SUP-1): a first answer is due N business hours after the question, counted only within the
working hours (09:00-18:00 vendor time by default) of business days of the production calendar (ITS-2). Pure."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

# A calendar with no business day in this many days is broken: refused rather than looped over for ever.
MAX_DAYS = 3660


class BusinessDays(Protocol):
    def is_business_day(self, day: date) -> bool: ...


def _window(day: date, zone: ZoneInfo, opens: time, closes: time) -> tuple[datetime, datetime]:
    return (
        datetime.combine(day, opens, tzinfo=zone).astimezone(UTC),
        datetime.combine(day, closes, tzinfo=zone).astimezone(UTC),
    )


def add_business_hours(
    start: datetime, hours: float, zone: ZoneInfo, opens: time, closes: time, calendar: BusinessDays
) -> datetime:
    """The moment `hours` working hours after `start` (UTC): time outside working hours and on days off does not
    count; a question asked in the evening starts counting at the next business day's opening."""
    remaining = timedelta(hours=hours)
    moment = start.astimezone(UTC)
    day = start.astimezone(zone).date()
    for _ in range(MAX_DAYS):
        if calendar.is_business_day(day):
            day_open, day_close = _window(day, zone, opens, closes)
            begin = max(moment, day_open)
            if begin < day_close:
                if remaining <= day_close - begin:
                    return begin + remaining
                remaining -= day_close - begin
        day += timedelta(days=1)
    raise ValueError(f"the calendar has no business day within {MAX_DAYS} days of {start.isoformat()}")


def business_time_between(
    start: datetime, end: datetime, zone: ZoneInfo, opens: time, closes: time, calendar: BusinessDays
) -> timedelta:
    """The working time between two moments (zero when `end` is not after `start`): the figures' first-response
    time."""
    total = timedelta()
    if end <= start:
        return total
    day, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    while day <= last:
        if calendar.is_business_day(day):
            day_open, day_close = _window(day, zone, opens, closes)
            overlap = min(end, day_close) - max(start, day_open)
            if overlap > timedelta():
                total += overlap
        day += timedelta(days=1)
    return total
