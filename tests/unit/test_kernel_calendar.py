"""The production calendar of the kernel: business days from the holidays package with the decree overrides on
top, calendar files, and the years beyond those generated at start (generated when first asked about)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import calendar as calendar_module
from shared.calendar import DATA_DIR, DEFAULT_ZONE, ProductionCalendar, load_calendar, reach
from shared.calendars import generate

MOSCOW = ZoneInfo("Europe/Moscow")
RU = load_calendar("ru", reach(date(2026, 12, 4)))
WEEKENDS_ONLY = ProductionCalendar(country="XX", years=frozenset(), non_working=frozenset(), working=frozenset())


def moscow_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=MOSCOW)


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def calendar_data_of(country: str, years: list[int]) -> dict[str, Any]:
    """The package's calendar of `years` as a calendar file (what `generate.py` prints)."""
    return calendar_module.calendar_data(country, years)


def calendar_data(non_working: list[Any], working: list[Any], year: str = "2026") -> dict[str, Any]:
    return {
        "country": "XX",
        "source": "test",
        "generated": "2026-11-28",
        "years": {year: {"non_working": non_working, "working": working}},
    }


# --- business days ---


def test_the_default_zone_is_moscow() -> None:
    assert DEFAULT_ZONE == MOSCOW


def test_friday_is_followed_by_monday() -> None:
    assert RU.next_business_day_after(date(2026, 11, 27)) == date(2026, 11, 30)


def test_a_friday_before_a_monday_holiday_is_followed_by_tuesday() -> None:
    # 9 May 2026 is a Saturday, so its day off is Monday 11 May.
    assert RU.next_business_day_after(date(2026, 5, 8)) == date(2026, 5, 12)


def test_the_2026_data_matches_the_official_calendar() -> None:
    # Government decree on 2026 transfers: 3 Jan -> 9 Jan, 4 Jan -> 31 Dec; no working Saturdays.
    official_weekdays_off = {
        *(date(2026, 1, d) for d in (1, 2, 5, 6, 7, 8, 9)),
        date(2026, 2, 23),
        date(2026, 3, 9),
        date(2026, 5, 1),
        date(2026, 5, 11),
        date(2026, 6, 12),
        date(2026, 11, 4),
        date(2026, 12, 31),
    }
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    weekdays_off = {day for day in days if day.weekday() < 5 and not RU.is_business_day(day)}
    working_weekend_days = {day for day in days if day.weekday() >= 5 and RU.is_business_day(day)}
    assert weekdays_off == official_weekdays_off
    assert working_weekend_days == set()


def test_every_year_the_service_can_reach_is_generated() -> None:
    # Started on 4 Dec 2026: last year through ten years ahead, from the holidays package.
    assert reach(date(2026, 12, 4)) == range(2025, 2037)
    assert RU.years == frozenset(range(2025, 2037))
    assert RU.missing_years(date(2026, 12, 4), date(2027, 12, 4)) == []


def test_a_year_outside_a_calendar_file_falls_back_to_weekends(tmp_path: Path) -> None:
    path = write_json(tmp_path / "ru-pinned.json", calendar_data_of("RU", [2026, 2027]))
    pinned = load_calendar(str(path), [])
    assert pinned.covers(date(2027, 12, 31)) and not pinned.covers(date(2030, 1, 1))
    assert pinned.missing_years(date(2027, 6, 1), date(2028, 6, 1)) == [2028]
    assert pinned.is_business_day(date(2030, 1, 1))  # a Tuesday: not a holiday we know of
    assert not pinned.is_business_day(date(2030, 1, 5))  # a Saturday
    assert pinned.next_business_day_after(date(2030, 1, 4)) == date(2030, 1, 7)
    # Crossing from the data into an uncovered year works too: 31 Dec 2027 is a day off, then a weekend.
    assert pinned.next_business_day_after(date(2027, 12, 30)) == date(2028, 1, 3)


# --- the clock cannot outrun the calendar: a year past those generated at start is generated when asked ---


def test_a_year_30_years_ahead_has_its_holidays_not_weekends_only() -> None:
    # Started on 4 Dec 2026 (2025..2036 generated), then the development clock moved to the end of 2055.
    started = load_calendar("ru", reach(date(2026, 12, 4)))
    assert 2056 not in started.years
    assert started.covers(date(2056, 1, 1)) and started.missing_years(date(2055, 12, 1), date(2056, 12, 1)) == []
    # Friday 31 Dec 2055: then the New Year holidays 1-8 Jan (Saturday to Saturday) and a Sunday, so Monday
    # 10 Jan, not Monday 3 Jan as with weekends only.
    assert started.next_business_day_after(date(2055, 12, 31)) == date(2056, 1, 10)
    assert not started.is_business_day(date(2056, 6, 12))  # Monday, Russia Day
    assert started.years == frozenset(range(2025, 2037))  # what start generated is unchanged


def test_a_later_year_is_generated_once_and_kept() -> None:
    asked: list[int] = []

    def generate_year(year: int) -> tuple[frozenset[date], frozenset[date]] | None:
        asked.append(year)
        return (frozenset({date(year, 1, 1)}), frozenset()) if year < 2100 else None

    calendar = ProductionCalendar("XX", frozenset(), frozenset(), frozenset(), generate_year=generate_year)
    for _ in range(3):
        assert not calendar.is_business_day(date(2060, 1, 1))  # a Thursday, the holiday generated
        assert calendar.is_business_day(date(2060, 1, 2))
        assert not calendar.covers(date(2101, 1, 3)) and calendar.is_business_day(date(2101, 1, 3))  # a Monday
    assert asked == [2060, 2101]


@settings(max_examples=30, deadline=None)
@given(st.dates(min_value=date(2037, 1, 1), max_value=date(2100, 12, 31)))
def test_a_year_generated_later_is_the_year_generated_at_start(day: date) -> None:
    later = load_calendar("ru", [2026])
    up_front = load_calendar("ru", [day.year])
    assert later.covers(day) and later.is_business_day(day) == up_front.is_business_day(day)
    assert later.next_business_day_after(day) == up_front.next_business_day_after(day)


def test_years_the_package_does_not_know_are_not_covered() -> None:
    # holidays' Russian calendar runs from 1991 to 2100: a year outside is no data, not a year without holidays.
    far = load_calendar("ru", [2100, 2101])
    assert far.years == frozenset({2100}) and far.missing_years(date(2100, 6, 1), date(2101, 6, 1)) == [2101]


def test_a_calendar_without_business_days_is_reported_as_broken() -> None:
    start = date(2026, 1, 1)
    every_day = frozenset(start + timedelta(days=n) for n in range(100))
    broken = ProductionCalendar(country="XX", years=frozenset({2026}), non_working=every_day, working=frozenset())
    with pytest.raises(ValueError, match="no business day"):
        broken.next_business_day_after(start)


# --- loading: overrides and other countries ---


def test_the_shipped_overrides_are_empty_so_the_calendar_is_the_packages() -> None:
    import holidays

    overrides = json.loads((DATA_DIR / "ru.overrides.json").read_text(encoding="utf-8"))
    assert overrides["non_working"] == [] and overrides["working"] == []
    package = holidays.country_holidays("RU", years=range(2025, 2037))
    assert RU.non_working == frozenset(package) and RU.working == frozenset(package.weekend_workdays)
    assert {day for day in RU.working if day.year in (2026, 2027)} == {date(2027, 2, 20)}
    assert RU.country == "RU"


def test_decree_overrides_go_on_top_of_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A decree the pinned package does not know (2028 has statutory holidays only) and one of a year outside
    # the years asked for (that year is generated too).
    monkeypatch.setattr(calendar_module, "DATA_DIR", tmp_path)
    write_json(
        tmp_path / "ru.overrides.json",
        {
            "non_working": [{"date": "2028-11-06", "note": "4 Nov is a Saturday: its day off moves to Monday"}],
            "working": [{"date": "2028-01-08", "note": "test: a holiday made a working day"}, "2040-01-07"],
        },
    )
    calendar = load_calendar("ru", [2028])
    assert calendar.years == frozenset({2028, 2040})
    assert not calendar.is_business_day(date(2028, 11, 6))
    assert calendar.next_business_day_after(date(2028, 11, 3)) == date(2028, 11, 7)
    assert calendar.is_business_day(date(2028, 1, 8)) and calendar.is_business_day(date(2040, 1, 7))
    assert not load_calendar("de", [2028]).is_business_day(date(2028, 12, 25))  # no overrides file: the package


def test_overrides_win_over_the_generated_data(tmp_path: Path) -> None:
    path = write_json(tmp_path / "xx.json", calendar_data(["2026-03-09", "2026-05-11"], ["2026-03-14"]))
    write_json(
        tmp_path / "xx.overrides.json",
        {
            "comment": "test decree",
            "non_working": [{"date": "2026-03-14", "note": "the working Saturday is cancelled"}, "2026-06-01"],
            "working": [{"date": "2026-05-11", "note": "holiday cancelled"}, "2026-05-16"],
        },
    )
    calendar = load_calendar(str(path), [])
    assert calendar.non_working == frozenset({date(2026, 3, 9), date(2026, 3, 14), date(2026, 6, 1)})
    assert calendar.working == frozenset({date(2026, 5, 11), date(2026, 5, 16)})
    assert not calendar.is_business_day(date(2026, 3, 14))
    assert calendar.is_business_day(date(2026, 5, 11)) and calendar.is_business_day(date(2026, 5, 16))
    assert calendar.next_business_day_after(date(2026, 5, 29)) == date(2026, 6, 2)


def test_another_countrys_calendar_without_overrides(tmp_path: Path) -> None:
    data = calendar_data(["2026-12-24", "2026-12-25", "2026-12-26"], [])
    data["country"] = "DE"
    calendar = load_calendar(str(write_json(tmp_path / "de.json", data)), range(2020, 2040))
    assert calendar.country == "DE" and calendar.years == frozenset({2026})
    assert calendar.next_business_day_after(date(2026, 12, 23)) == date(2026, 12, 28)


def test_an_unknown_calendar_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no calendar 'xx': the holidays package has no calendar for country XX"):
        load_calendar("xx", [2026])
    with pytest.raises(ValueError, match="no calendar"):
        load_calendar(str(tmp_path / "missing.json"), [2026])


MALFORMED_CALENDARS: list[tuple[str, Any, str]] = [
    ("impossible date", calendar_data(["2026-02-30"], []), r"'2026-02-30' is not a date"),
    ("other spelling", calendar_data(["20260101"], []), r"'20260101' is not a date"),
    ("not a string", calendar_data([20260101], []), r"20260101 is not a date"),
    ("date in the wrong year", calendar_data(["2027-01-01"], []), r"2027-01-01 not in 2026"),
    ("date in both lists", calendar_data(["2026-03-14"], ["2026-03-14"]), r"2026-03-14 in both"),
    ("unknown top key", {**calendar_data([], []), "holidays": []}, r"unknown key\(s\) holidays"),
    ("missing key", {"country": "XX"}, r"missing key\(s\) years"),
    ("bad year key", {"country": "XX", "years": {"26": {"non_working": [], "working": []}}}, r"'26' is not a four"),
    (
        "unknown year key",
        {"country": "XX", "years": {"2026": {"non_working": [], "working": [], "holidays": []}}},
        r"year 2026: unknown key\(s\) holidays",
    ),
    ("list is a string", calendar_data([], []) | {"years": {"2026": {"non_working": "x", "working": []}}}, "a list"),
    ("bad generated date", {**calendar_data([], []), "generated": "today"}, r"'generated': 'today' is not a date"),
    ("not an object", ["2026-01-01"], r"expected a JSON object"),
]


@pytest.mark.parametrize(
    ("data", "message"), [(d, m) for _, d, m in MALFORMED_CALENDARS], ids=[i for i, _, _ in MALFORMED_CALENDARS]
)
def test_a_malformed_calendar_file_names_the_problem(tmp_path: Path, data: Any, message: str) -> None:
    path = write_json(tmp_path / "xx.json", data)
    with pytest.raises(ValueError, match=message) as raised:
        load_calendar(str(path), [2026])
    assert str(path) in str(raised.value)


MALFORMED_OVERRIDES: list[tuple[str, Any, str]] = [
    ("date in both lists", {"non_working": ["2026-06-01"], "working": ["2026-06-01"]}, r"2026-06-01 in both"),
    ("unknown key", {"non_working": [], "holidays": []}, r"unknown key\(s\) holidays"),
    ("bad date", {"working": ["2026-13-01"]}, r"'2026-13-01' is not a date"),
    ("entry without a note", {"working": [{"date": "2026-06-06"}]}, r"missing key\(s\) note"),
    ("outside the covered years", {"non_working": ["2028-01-10"]}, r"2028-01-10 outside the years"),
]


@pytest.mark.parametrize(
    ("data", "message"), [(d, m) for _, d, m in MALFORMED_OVERRIDES], ids=[i for i, _, _ in MALFORMED_OVERRIDES]
)
def test_a_malformed_overrides_file_names_the_problem(tmp_path: Path, data: Any, message: str) -> None:
    path = write_json(tmp_path / "xx.json", calendar_data([], []))
    overrides = write_json(tmp_path / "xx.overrides.json", data)
    with pytest.raises(ValueError, match=message) as raised:
        load_calendar(str(path), [2026])
    assert str(overrides) in str(raised.value)


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "xx.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_calendar(str(path), [2026])


def test_a_calendar_cannot_be_built_with_a_date_in_both_sets() -> None:
    day = frozenset({date(2026, 3, 14)})
    with pytest.raises(ValueError, match="2026-03-14 both"):
        ProductionCalendar(country="XX", years=frozenset({2026}), non_working=day, working=day)


# --- a calendar file from the generator reads back as the calendar generated at start ---


def test_a_generated_file_is_the_calendar_the_service_generates(tmp_path: Path) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert generate.main(["RU", "2027", "2028"]) == 0
    path = tmp_path / "ru-pinned.json"
    path.write_text(out.getvalue(), encoding="utf-8")
    pinned, generated = load_calendar(str(path), []), load_calendar("ru", [2027, 2028])
    assert (pinned.years, pinned.non_working, pinned.working) == (
        generated.years,
        generated.non_working,
        generated.working,
    )


# --- properties ---

DAYS = st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31))  # around and inside the data


@given(DAYS)
def test_the_next_business_day_is_the_first_one_after(day: date) -> None:
    following = RU.next_business_day_after(day)
    assert following > day
    assert RU.is_business_day(following)
    between = [day + timedelta(days=n) for n in range(1, (following - day).days)]
    assert not any(RU.is_business_day(other) for other in between)
