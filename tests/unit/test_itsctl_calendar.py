"""`itsctl calendar next|show`: the configured production calendar, without any service."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner, Result

from itsctl.calendar import parse_moment, year_of
from itsctl.cli import app
from shared.calendar import load_calendar
from shared.clock import TestClock

MOSCOW = ZoneInfo("Europe/Moscow")


def itsctl(*args: str, **env: str | None) -> Result:
    settings: dict[str, str | None] = {"ITS_CALENDAR": None, "ITS_VENDOR_TIMEZONE": None, "ITS_ENV": "test", **env}
    return CliRunner().invoke(app, list(args), env=settings, catch_exceptions=False)


def lines(result: Result) -> list[str]:
    return [" ".join(line.split()) for line in result.output.splitlines()]


# ---- next ----------------------------------------------------------------------------------


def test_friday_night_is_processed_on_monday() -> None:
    result = itsctl("calendar", "next", "2026-11-27T23:59")
    assert result.exit_code == 0, result.output
    assert lines(result)[:2] == ["received Fri 2026-11-27 23:59 MSK", "processed Mon 2026-11-30 00:00 MSK"]
    assert "calendar ru, zone Europe/Moscow" in result.output


def test_an_offset_is_the_moment_and_the_vendors_local_day_decides() -> None:
    # Friday 21:30 UTC is Saturday 00:30 in Moscow: still processed on Monday, not on Saturday.
    result = itsctl("calendar", "next", "2026-11-27T21:30+00:00")
    assert result.exit_code == 0, result.output
    assert lines(result)[:2] == ["received Sat 2026-11-28 00:30 MSK", "processed Mon 2026-11-30 00:00 MSK"]


def test_before_the_new_year_block_and_a_working_saturday() -> None:
    result = itsctl("calendar", "next", "2026-12-30")
    assert "processed Mon 2027-01-11 00:00 MSK" in lines(result)
    result = itsctl("calendar", "next", "2027-02-19 10:00")
    assert "processed Sat 2027-02-20 00:00 MSK" in lines(result)


def test_another_vendor_zone() -> None:
    result = itsctl("calendar", "next", "2026-11-27T23:59", ITS_VENDOR_TIMEZONE="Asia/Vladivostok")
    assert result.exit_code == 0, result.output
    assert lines(result)[1] == "processed Mon 2026-11-30 00:00 +10"
    assert "zone Asia/Vladivostok" in result.output


def test_without_a_moment_it_is_now_by_the_test_clock(tmp_path: Path) -> None:
    clock = TestClock(tmp_path)
    clock.set(datetime(2026, 5, 8, 12, 0, tzinfo=MOSCOW))  # Friday before Monday 11 May, a day off
    result = itsctl("calendar", "next", ITS_VAR_DIR=str(tmp_path))
    assert result.exit_code == 0, result.output
    assert lines(result)[0].startswith("received Fri 2026-05-08 12:0")
    assert lines(result)[1] == "processed Tue 2026-05-12 00:00 MSK"


def test_years_ahead_come_from_the_holidays_package() -> None:
    # ITS-2 beyond the years once shipped: the New Year holidays of 2029 and 2031 are known.
    result = itsctl("calendar", "next", "2028-12-29T15:00")
    assert result.exit_code == 0, result.output
    assert "processed Tue 2029-01-09 00:00 MSK" in lines(result) and "no data" not in result.output
    result = itsctl("calendar", "next", "2031-01-03T10:00")
    assert "processed Thu 2031-01-09 00:00 MSK" in lines(result)


def test_a_year_outside_the_data_is_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "xx.json"
    path.write_text(json.dumps({"country": "XX", "years": {"2030": {"non_working": [], "working": []}}}))
    result = itsctl("calendar", "next", "2031-01-03T10:00", ITS_CALENDAR=str(path))
    assert result.exit_code == 0, result.output
    assert "no data for 2031" in " ".join(result.output.split())
    assert "processed Mon 2031-01-06 00:00 MSK" in lines(result)


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-01", "27.11.2026"])
def test_a_bad_moment_is_refused(text: str) -> None:
    result = itsctl("calendar", "next", text)
    assert result.exit_code == 2 and "not an ISO 8601" in result.output


def test_parse_moment() -> None:
    assert parse_moment("2026-11-27", MOSCOW) == datetime(2026, 11, 27, tzinfo=MOSCOW)
    assert parse_moment(" 2026-11-27 23:59 ", MOSCOW) == datetime(2026, 11, 27, 23, 59, tzinfo=MOSCOW)
    utc = parse_moment("2026-11-27T20:59:00Z", MOSCOW)
    assert utc == datetime(2026, 11, 27, 20, 59, tzinfo=UTC) and utc.utcoffset() == timedelta(0)


# ---- show ----------------------------------------------------------------------------------


def test_show_2027_lists_days_off_on_weekdays_and_the_working_saturday() -> None:
    result = itsctl("calendar", "show", "2027")
    assert result.exit_code == 0, result.output
    out = lines(result)
    working = out.index("working weekend days (1):")
    assert out[working + 1] == "2027-02-20 Sat"
    off = out[out.index(next(line for line in out if line.startswith("non-working weekdays"))) + 1 : working]
    assert "2027-01-01 Fri" in off and "2027-02-22 Mon" in off and "2027-02-23 Tue" in off
    assert all(not line.endswith(("Sat", "Sun")) for line in off)
    assert "2027-01-02 Sat" not in off  # a holiday on a weekend is no weekday off


def test_show_counts_agree_with_the_calendar() -> None:
    year = year_of(load_calendar("ru", [2026]), 2026)
    assert year.covered and year.working_weekend_days == []
    assert date(2026, 12, 31) in year.non_working_weekdays and date(2026, 1, 3) not in year.non_working_weekdays
    # 2026: 365 days, 104 weekend days, 14 weekdays off.
    assert len(year.non_working_weekdays) == 14 and year.business_days == 365 - 104 - 14
    result = itsctl("calendar", "show", "2026")
    assert "business days: 247" in lines(result) and "non-working weekdays (14):" in lines(result)


def test_show_a_year_without_data_and_a_calendar_file(tmp_path: Path) -> None:
    path = tmp_path / "xx.json"
    path.write_text(
        json.dumps({"country": "XX", "years": {"2030": {"non_working": ["2030-01-01"], "working": ["2030-01-05"]}}})
    )
    result = itsctl("calendar", "show", "2030", ITS_CALENDAR=str(path))
    assert result.exit_code == 0, result.output
    out = lines(result)
    assert out[out.index("non-working weekdays (1):") + 1] == "2030-01-01 Tue"
    assert out[out.index("working weekend days (1):") + 1] == "2030-01-05 Sat"
    other = itsctl("calendar", "show", "2031", ITS_CALENDAR=str(path))
    assert "no data for 2031 (it covers 2030)" in " ".join(other.output.split())
    assert "non-working weekdays (0):" in lines(other) and "none" in lines(other)


def test_an_unknown_calendar_or_zone_is_refused(tmp_path: Path) -> None:
    result = itsctl("calendar", "show", "2026", ITS_CALENDAR=str(tmp_path / "missing.json"))
    assert result.exit_code == 1 and "no calendar" in result.output
    result = itsctl("calendar", "next", ITS_VENDOR_TIMEZONE="Mars/Olympus")
    assert result.exit_code == 2 and "unknown time zone" in result.output
