"""Business hours on the production calendar (shared/calendar.py): working time counts only from the opening to
the closing time of business days, in the vendor's zone; `add_business_hours` finds when an amount of it has
passed (a first answer's due moment), `business_time_between` measures it ("time to first response")."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import CLOSES, OPENS, add_business_hours, business_time_between, load_calendar, reach

MOSCOW = ZoneInfo("Europe/Moscow")
RU = load_calendar("ru", reach(date(2026, 12, 4)))


def msk(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MOSCOW)


def add(start: datetime, hours: float | timedelta, zone: ZoneInfo = MOSCOW) -> datetime:
    return add_business_hours(start, hours, zone, calendar=RU)


def between(a: datetime, b: datetime, zone: ZoneInfo = MOSCOW) -> timedelta:
    return business_time_between(a, b, zone, calendar=RU)


def test_the_default_hours_are_nine_to_six() -> None:
    assert (time(9, 0), time(18, 0)) == (OPENS, CLOSES)


def test_within_a_day() -> None:
    assert add(msk(2026, 11, 30, 10), 3) == msk(2026, 11, 30, 13)  # a Monday
    assert add(msk(2026, 11, 30, 9), 9) == msk(2026, 11, 30, 18)  # the closing moment, not 09:00 the next day
    assert add(msk(2026, 11, 30, 10), 1.5) == msk(2026, 11, 30, 11, 30)
    assert add(msk(2026, 11, 30, 10), timedelta(minutes=45)) == msk(2026, 11, 30, 10, 45)
    assert between(msk(2026, 11, 30, 10), msk(2026, 11, 30, 13)) == timedelta(hours=3)


def test_across_a_night() -> None:
    # Monday 15:00 + 8 h: 3 h on Monday, 5 h on Tuesday.
    assert add(msk(2026, 11, 30, 15), 8) == msk(2026, 12, 1, 14)
    assert between(msk(2026, 11, 30, 15), msk(2026, 12, 1, 14)) == timedelta(hours=8)


def test_across_a_weekend() -> None:
    # Friday 27 Nov 2026 14:00 + 8 h: 4 h on Friday, 4 h on Monday.
    assert add(msk(2026, 11, 27, 14), 8) == msk(2026, 11, 30, 13)
    assert between(msk(2026, 11, 27, 14), msk(2026, 11, 30, 13)) == timedelta(hours=8)
    assert between(msk(2026, 11, 28, 10), msk(2026, 11, 29, 17)) == timedelta(0)  # Saturday to Sunday


def test_across_the_new_year_holidays() -> None:
    # Wednesday 30 Dec 2026 16:00 + 8 h: 2 h, then 31 Dec (a day off by decree), 1-10 Jan, so Monday 11 Jan 15:00.
    assert add(msk(2026, 12, 30, 16), 8) == msk(2027, 1, 11, 15)
    assert between(msk(2026, 12, 30, 16), msk(2027, 1, 11, 15)) == timedelta(hours=8)


def test_a_working_saturday_by_decree_counts() -> None:
    # Saturday 20 Feb 2027 is a working day; its day off moved to Monday 22 Feb, and 23 Feb is a holiday.
    assert add(msk(2027, 2, 19, 17), 3) == msk(2027, 2, 20, 11)
    assert add(msk(2027, 2, 20, 17), 3) == msk(2027, 2, 24, 11)


def test_a_start_at_17_59_counts_its_minute_then_the_next_day() -> None:
    assert add(msk(2026, 11, 30, 17, 59), 8) == msk(2026, 12, 1, 16, 59)
    assert add(msk(2026, 11, 30, 17, 59), timedelta(minutes=1)) == msk(2026, 11, 30, 18)


def test_a_start_at_23_00_counts_from_the_next_opening() -> None:
    assert add(msk(2026, 11, 30, 23), 8) == msk(2026, 12, 1, 17)
    assert add(msk(2026, 12, 1, 7), 8) == msk(2026, 12, 1, 17)  # before opening: the same
    assert between(msk(2026, 11, 30, 23), msk(2026, 12, 1, 8)) == timedelta(0)


def test_a_start_on_a_holiday_counts_from_the_next_business_day() -> None:
    # Wednesday 4 Nov 2026, Unity Day.
    assert add(msk(2026, 11, 4, 10), 8) == msk(2026, 11, 5, 17)
    assert between(msk(2026, 11, 4, 10), msk(2026, 11, 4, 17)) == timedelta(0)


def test_the_hours_are_the_vendors_in_a_zone_without_summer_time() -> None:
    # Moscow has no summer time: 09:00 is 06:00 UTC in January and in July alike.
    for month in (1, 7):
        start = datetime(2026, month, 15, 3, 0, tzinfo=UTC)  # 06:00 Moscow, a Thursday, before opening
        due = add(start, 1)
        assert due == datetime(2026, month, 15, 7, 0, tzinfo=UTC) and due.tzinfo == MOSCOW
    # The same instant in another zone without summer time: 10:00 in Vladivostok is already open.
    vladivostok = ZoneInfo("Asia/Vladivostok")  # UTC+10
    start = datetime(2026, 1, 15, 0, 0, tzinfo=UTC)
    assert add(start, 1, vladivostok) == datetime(2026, 1, 15, 11, 0, tzinfo=vladivostok)


def test_a_clock_change_keeps_the_working_hours_of_the_wall_clock() -> None:
    # Berlin moves to summer time on Sunday 29 Mar 2026: Friday 17:00 CET + 2 h is Monday 10:00 CEST.
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 27, 17, 0, tzinfo=berlin)
    due = add_business_hours(start, 2, berlin, calendar=RU)
    assert due == datetime(2026, 3, 30, 10, 0, tzinfo=berlin) and due.utcoffset() == timedelta(hours=2)
    assert business_time_between(start, due, berlin, calendar=RU) == timedelta(hours=2)


def test_other_opening_hours() -> None:
    assert add_business_hours(msk(2026, 11, 30, 12), 5, MOSCOW, time(8), time(14), calendar=RU) == msk(2026, 12, 1, 11)
    measured = business_time_between(msk(2026, 11, 30, 7), msk(2026, 12, 1, 20), MOSCOW, time(8), time(14), calendar=RU)
    assert measured == timedelta(hours=12)


def test_no_time_is_the_start_itself_and_a_measure_backwards_is_negative() -> None:
    assert add(msk(2026, 11, 30, 23), 0) == msk(2026, 11, 30, 23)
    assert between(msk(2026, 12, 1, 14), msk(2026, 11, 30, 15)) == -timedelta(hours=8)


@pytest.mark.parametrize("hours", [-1, timedelta(minutes=-1), math.nan, math.inf, 1e300])
def test_hours_that_are_no_amount_of_time_are_refused(hours: float | timedelta) -> None:
    with pytest.raises(ValueError, match="hours must"):
        add(msk(2026, 11, 30, 10), hours)


def test_naive_moments_and_backwards_hours_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add(datetime(2026, 11, 30, 10), 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        between(msk(2026, 11, 30, 10), datetime(2026, 11, 30, 12))
    with pytest.raises(ValueError, match="opens < closes"):
        add_business_hours(msk(2026, 11, 30, 10), 1, MOSCOW, time(18), time(9), calendar=RU)


# --- properties ---

MOMENTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2060, 12, 31), timezones=st.just(UTC))
AMOUNTS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=400))
HOURS = st.sampled_from([(OPENS, CLOSES), (time(8), time(17, 30)), (time(0), time(23, 59)), (time(13), time(14))])


@settings(deadline=None)
@given(MOMENTS, AMOUNTS, HOURS)
def test_adding_then_measuring_gives_the_hours_back(
    start: datetime, amount: timedelta, hours: tuple[time, time]
) -> None:
    opens, closes = hours
    due = add_business_hours(start, amount, MOSCOW, opens, closes, calendar=RU)
    assert due >= start
    assert business_time_between(start, due, MOSCOW, opens, closes, calendar=RU) == amount
    if amount:  # the earliest such moment: within working hours of a business day
        local = due.astimezone(MOSCOW)
        assert RU.is_business_day(local.date()) and opens < local.time() <= closes


@settings(deadline=None)
@given(MOMENTS, AMOUNTS, AMOUNTS)
def test_adding_in_two_steps_is_adding_once(start: datetime, first: timedelta, second: timedelta) -> None:
    assert add(add(start, first), second) == add(start, first + second)
