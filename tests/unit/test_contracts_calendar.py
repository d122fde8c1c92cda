"""The processing moment of a posted contract (rule ITS-2): 00:00, in the vendor's zone, of the first business day
after the day of receipt, on the production calendar of the kernel (tests/unit/test_kernel_calendar.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.contracts.domain import effective_moment
from shared.calendar import ProductionCalendar, load_calendar, reach

MOSCOW = ZoneInfo("Europe/Moscow")
RU = load_calendar("ru", reach(date(2026, 12, 4)))
WEEKENDS_ONLY = ProductionCalendar(country="XX", years=frozenset(), non_working=frozenset(), working=frozenset())


def moscow_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=MOSCOW)


# --- business days that decide the moment ---


def test_the_eve_of_the_new_year_block_is_followed_by_11_january() -> None:
    # 31 Dec 2026 is a day off moved by decree, 1-8 Jan 2027 holidays, 9-10 Jan a weekend.
    assert not RU.is_business_day(date(2026, 12, 31))
    assert all(not RU.is_business_day(date(2027, 1, d)) for d in range(1, 11))
    assert RU.next_business_day_after(date(2026, 12, 30)) == date(2027, 1, 11)
    received = datetime(2026, 12, 30, 12, 0, tzinfo=MOSCOW)
    assert effective_moment(RU, received, MOSCOW) == moscow_midnight(date(2027, 1, 11))


def test_a_transferred_working_saturday_is_a_business_day() -> None:
    saturday = date(2027, 2, 20)
    assert saturday.weekday() == 5 and RU.is_business_day(saturday)
    assert RU.next_business_day_after(date(2027, 2, 19)) == saturday
    # Its day off moved to Monday 22 Feb, and 23 Feb is a holiday.
    assert RU.next_business_day_after(saturday) == date(2027, 2, 24)


def test_a_contract_posted_on_29_december_2028_waits_for_the_new_year_holidays() -> None:
    # The defect: the shipped data ended with 2027, so Monday 1 January 2029 was a "business day".
    assert RU.covers(date(2029, 1, 1))
    assert not any(RU.is_business_day(date(2029, 1, d)) for d in range(1, 9))  # 1-8 January: holidays
    received = datetime(2028, 12, 29, 15, 0, tzinfo=MOSCOW)  # a Friday
    assert effective_moment(RU, received, MOSCOW) == moscow_midnight(date(2029, 1, 9))
    # Statutory holidays of later years too: Tuesday 12 June 2035 (Russia Day).
    assert not RU.is_business_day(date(2035, 6, 12))
    assert RU.next_business_day_after(date(2035, 6, 11)) == date(2035, 6, 13)


def test_a_contract_posted_with_the_clock_30_years_ahead_waits_for_that_years_holidays() -> None:
    # The calendar generated 2025..2036 at start; the development clock then moved to Friday 31 Dec 2055.
    received = datetime(2055, 12, 31, 15, 0, tzinfo=MOSCOW)
    assert effective_moment(RU, received, MOSCOW) == moscow_midnight(date(2056, 1, 10))  # not Monday 3 Jan


# --- the processing moment, in the vendor's time zone (rule ITS-2) ---


def test_friday_2359_moscow_and_saturday_0001_moscow_are_both_processed_on_monday() -> None:
    friday_late = datetime(2026, 11, 27, 20, 59, tzinfo=UTC)  # 23:59 Moscow
    saturday_early = datetime(2026, 11, 27, 21, 1, tzinfo=UTC)  # 00:01 Moscow, still Friday in UTC
    monday = moscow_midnight(date(2026, 11, 30))
    assert effective_moment(RU, friday_late, MOSCOW) == monday
    assert effective_moment(RU, saturday_early, MOSCOW) == monday
    assert effective_moment(RU, saturday_early, MOSCOW).tzinfo == MOSCOW


def test_the_local_date_decides_not_the_utc_date() -> None:
    thursday_late = datetime(2026, 11, 26, 20, 59, tzinfo=UTC)  # Thursday 23:59 Moscow
    friday_early = datetime(2026, 11, 26, 21, 1, tzinfo=UTC)  # Friday 00:01 Moscow, Thursday in UTC
    assert effective_moment(RU, thursday_late, MOSCOW) == moscow_midnight(date(2026, 11, 27))
    assert effective_moment(RU, friday_early, MOSCOW) == moscow_midnight(date(2026, 11, 30))


def test_another_vendor_zone() -> None:
    vladivostok = ZoneInfo("Asia/Vladivostok")  # UTC+10
    received = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)  # Thursday 17:30 Moscow, Friday 00:30 Vladivostok
    assert effective_moment(RU, received, MOSCOW) == moscow_midnight(date(2026, 11, 27))
    moment = effective_moment(RU, received, vladivostok)
    assert moment == datetime(2026, 11, 30, tzinfo=vladivostok)
    assert moment.astimezone(UTC) == datetime(2026, 11, 29, 14, 0, tzinfo=UTC)


def test_a_midnight_skipped_by_dst_gives_the_first_instant_of_the_day() -> None:
    cairo = ZoneInfo("Africa/Cairo")  # summer time starts on the last Friday of April at 00:00
    moment = effective_moment(WEEKENDS_ONLY, datetime(2026, 4, 23, 12, 0, tzinfo=cairo), cairo)
    assert moment.astimezone(UTC) == datetime(2026, 4, 23, 22, 0, tzinfo=UTC)
    assert (moment.date(), moment.hour, moment.utcoffset()) == (date(2026, 4, 24), 1, timedelta(hours=3))


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        effective_moment(RU, datetime(2026, 11, 27, 12, 0), MOSCOW)


# --- properties ---


@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)))
def test_the_effective_moment_is_a_later_moscow_midnight_of_a_business_day(received: datetime) -> None:
    moment = effective_moment(RU, received, MOSCOW)
    assert moment > received
    assert moment.tzinfo == MOSCOW and moment.time().isoformat() == "00:00:00"
    assert RU.is_business_day(moment.date())
    assert moment.date() == RU.next_business_day_after(received.astimezone(MOSCOW).date())
