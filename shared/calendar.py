"""The production calendar of the vendor's country: which days are business days, and working time counted in
business hours. A fact of the country, not a rule of one service: contracts processes a posted contract on the
next business day (ITS-2), and service levels count business hours (the first answer to a question).

Business days are Monday to Friday, except public holidays and days off moved by decree, plus weekend days that
a decree makes working days.

A country's calendar (`ITS_CALENDAR=ru`, shared.settings) is generated from the `holidays` package when a
service starts, for the years it can reach (`reach`: last year to ten years ahead, about a millisecond a
year); a year beyond them (the development clock moved far forward, a long-running process) is generated the
first time it is asked about and kept. Decree changes the package does not know yet go into the shipped
`calendars/<country>.overrides.json`, applied on top. A calendar can also be a JSON file
(`ITS_CALENDAR=/path/xx.json`, format in `calendars/files.py`), for a country the package lacks or a calendar to
pin; it covers the years it lists, and outside them only weekends are days off (callers may warn: `covers`).

Pure: the only I/O is reading the JSON files in `load_calendar`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from shared.calendars.files import dates, parse_calendar, read_json, read_overrides

DATA_DIR = Path(__file__).resolve().parent / "calendars"

# The years a running service generates when it starts: the processing of a contract needs only the weeks after
# today; the rest is margin, and a year beyond is generated when first asked about.
YEARS_BEHIND, YEARS_AHEAD = 1, 10

# The vendor's time zone unless configured otherwise (ITS_VENDOR_TIMEZONE).
DEFAULT_ZONE = ZoneInfo("Europe/Moscow")

# Working hours, in the vendor's time, unless a caller gives its own.
OPENS, CLOSES = time(9, 0), time(18, 0)

# A business day always comes within a few weeks (the longest Russian block is ~11 days); a calendar
# without one in this many days is broken, and we say so rather than loop on.
_MAX_GAP_DAYS = 60

_COUNTRY = re.compile(r"^[A-Za-z]{2}$")

# One year's days off (public holidays, days off by decree) and working weekend days (by decree).
YearDays = tuple[frozenset[date], frozenset[date]]


@dataclass(frozen=True)
class ProductionCalendar:
    country: str
    years: frozenset[int]  # the years generated (or read from the file) up front
    non_working: frozenset[date]  # public holidays and days off by decree (weekend ones are harmless)
    working: frozenset[date]  # weekend days that are working days by decree
    # Generates a year outside `years` (None: the source does not know it); None for a file calendar.
    generate_year: Callable[[int], YearDays | None] | None = field(default=None, repr=False, compare=False)
    _later: dict[int, YearDays | None] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        both = self.non_working & self.working
        if both:
            raise ValueError(f"calendar {self.country}: {dates(both)} both working and non-working")

    def covers(self, day: date) -> bool:
        """Whether the calendar knows `day`'s year (generating it if it can); outside, only weekends count."""
        return day.year in self.years or self._later_year(day.year) is not None

    def missing_years(self, first: date, last: date) -> list[int]:
        """The years from `first` to `last` that the calendar does not cover (for the start-up check)."""
        return [year for year in range(first.year, last.year + 1) if not self.covers(date(year, 1, 1))]

    def is_business_day(self, day: date) -> bool:
        if day.year in self.years:
            non_working, working = self.non_working, self.working
        else:
            found = self._later_year(day.year)
            if found is None:  # no data for the year: Monday to Friday, without raising
                return day.weekday() < 5
            non_working, working = found
        # A decree beats the weekday.
        if day in working:
            return True
        if day in non_working:
            return False
        return day.weekday() < 5

    def next_business_day_after(self, day: date) -> date:
        """The first business day strictly after `day`."""
        for offset in range(1, _MAX_GAP_DAYS + 1):
            candidate = day + timedelta(days=offset)
            if self.is_business_day(candidate):
                return candidate
        raise ValueError(f"calendar {self.country}: no business day in the {_MAX_GAP_DAYS} days after {day}")

    def _later_year(self, year: int) -> YearDays | None:
        """A year beyond those generated at start, generated once and kept (a process whose clock ran past them
        keeps the holidays instead of falling back to weekends). One dict write: safe without a lock."""
        if self.generate_year is None:
            return None
        if year not in self._later:
            self._later[year] = self.generate_year(year)
        return self._later[year]


def reach(today: date) -> range:
    """The years a service that starts on `today` generates up front (see YEARS_AHEAD)."""
    return range(today.year - YEARS_BEHIND, today.year + YEARS_AHEAD + 1)


def load_calendar(name_or_path: str, years: Iterable[int]) -> ProductionCalendar:
    """`"ru"` (an ISO 3166 country code): generated from the `holidays` package for `years` (and for the years
    of its overrides, and later for any year asked about), with the shipped `calendars/ru.overrides.json`, if any,
    on top. Anything else: a path to a calendar JSON file (`calendars/generate.py` writes one), with a sibling
    `<stem>.overrides.json` on top, if present. An override wins. ValueError, naming the file or the country and
    the problem, when unusable.
    """
    if _COUNTRY.fullmatch(name_or_path):
        more_non_working, more_working = read_overrides(DATA_DIR / f"{name_or_path.lower()}.overrides.json")
        wanted = set(years) | {day.year for day in more_non_working | more_working}
        country, covered, non_working, working = _from_package(name_or_path.upper(), wanted)
        generate_year = _year_generator(country)
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ValueError(
                f"no calendar {name_or_path!r}: neither a country code (e.g. ru) nor a calendar file that exists"
            )
        country, covered, non_working, working = parse_calendar(read_json(path), str(path))
        overrides_path = path.with_name(f"{path.stem}.overrides.json")
        more_non_working, more_working = read_overrides(overrides_path)
        outside = {day for day in more_non_working | more_working if day.year not in covered}
        if outside:
            raise ValueError(
                f"{overrides_path}: {dates(outside)} outside the years {path.name} covers "
                f"({', '.join(str(y) for y in sorted(covered))}); regenerate the data for that year"
            )
        generate_year = None
    # An override wins over the generated data.
    non_working = (non_working - more_working) | more_non_working
    working = (working - more_non_working) | more_working
    return ProductionCalendar(
        country=country,
        years=frozenset(covered),
        non_working=frozenset(non_working),
        working=frozenset(working),
        generate_year=generate_year,
    )


def calendar_data(country: str, years: Iterable[int]) -> dict[str, Any]:
    """The package's calendar for `country` and `years` in the calendar-file format (`calendars/generate.py`)."""
    code, covered, non_working, working = _from_package(country.upper(), set(years))
    return {
        "country": code,
        "source": f"python holidays {version('holidays')}: country_holidays({code!r}) public holidays and "
        "weekend_workdays",
        "generated": date.today().isoformat(),
        "years": {
            str(year): {
                "non_working": [day.isoformat() for day in sorted(d for d in non_working if d.year == year)],
                "working": [day.isoformat() for day in sorted(d for d in working if d.year == year)],
            }
            for year in sorted(covered)
        },
    }


def _year_generator(country: str) -> Callable[[int], YearDays | None]:
    """One more year of `country` from the package. The overrides' years are all generated up front, so a later
    year has none; a year the package does not know (RU: before 1991, after 2100) is None."""
    known = holidays.country_holidays(country)
    first, last = known.start_year, known.end_year

    def generate(year: int) -> YearDays | None:
        if not first <= year <= last:
            return None
        _, _, non_working, working = _from_package(country, {year})
        return frozenset(non_working), frozenset(working)

    return generate


def _from_package(country: str, years: set[int]) -> tuple[str, set[int], set[date], set[date]]:
    """Public holidays and days off moved by decree (those on weekends too: harmless, and they show a reader
    the whole official list), and weekend days made working days by decree, of the years the package knows."""
    try:
        found = holidays.country_holidays(country, years=sorted(years))
    except NotImplementedError:
        raise ValueError(
            f"no calendar {country.lower()!r}: the holidays package has no calendar for country {country}; "
            "give ITS_CALENDAR the path of a calendar file instead"
        ) from None
    covered = {year for year in years if found.start_year <= year <= found.end_year}
    non_working = {day for day in found if day.year in covered}
    working = {day for day in found.weekend_workdays if day.year in covered}
    return country, covered, non_working, working


# ---- business hours ------------------------------------------------------------------------------------------


def add_business_hours(
    start: datetime,
    hours: float | timedelta,
    zone: ZoneInfo,
    opens: time = OPENS,
    closes: time = CLOSES,
    *,
    calendar: ProductionCalendar,
) -> datetime:
    """The moment, in `zone`, when `hours` of working time have passed since `start`: time counts only from
    `opens` to `closes` (wall clock in `zone`) of business days, so a start outside them counts from the next
    opening. The earliest such moment: 8 hours from 09:00 is 17:00, 9 hours is 18:00 of the same day (not 09:00
    the next); no time at all is `start` itself. `business_time_between(start, result)` gives `hours` back."""
    remaining = _duration(hours)
    window = _working_window(opens, closes)
    moment = _aware(start, "start").astimezone(UTC)
    if remaining == timedelta(0):
        return moment.astimezone(zone)
    day = moment.astimezone(zone).date()
    while True:
        if calendar.is_business_day(day):
            opening, closing = window(day, zone)
            begin = max(opening, moment)
            if begin < closing:
                if remaining <= closing - begin:
                    return (begin + remaining).astimezone(zone)
                remaining -= closing - begin
        day = calendar.next_business_day_after(day)


def business_time_between(
    a: datetime,
    b: datetime,
    zone: ZoneInfo,
    opens: time = OPENS,
    closes: time = CLOSES,
    *,
    calendar: ProductionCalendar,
) -> timedelta:
    """The working time (from `opens` to `closes` of business days, wall clock in `zone`) between `a` and `b`:
    "time to first response" in business hours. Negative when `b` is before `a`."""
    window = _working_window(opens, closes)
    first, last = _aware(a, "a").astimezone(UTC), _aware(b, "b").astimezone(UTC)
    if last < first:
        return -business_time_between(b, a, zone, opens, closes, calendar=calendar)
    total = timedelta(0)
    day, last_day = first.astimezone(zone).date(), last.astimezone(zone).date()
    while day <= last_day:
        if calendar.is_business_day(day):
            opening, closing = window(day, zone)
            overlap = min(closing, last) - max(opening, first)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total


def _duration(hours: float | timedelta) -> timedelta:
    try:
        duration = hours if isinstance(hours, timedelta) else timedelta(hours=hours)
    except (OverflowError, ValueError):
        raise ValueError(f"hours must be a finite number (got {hours!r})") from None
    if duration < timedelta(0):
        raise ValueError(f"hours must not be negative (got {hours!r})")
    return duration


def _working_window(opens: time, closes: time) -> Callable[[date, ZoneInfo], tuple[datetime, datetime]]:
    """A day's opening and closing moments, in UTC: differences are then real time, even on a day whose clock is
    moved (aware datetimes of one zone subtract as wall clocks)."""
    if opens.tzinfo is not None or closes.tzinfo is not None or not opens < closes:
        raise ValueError(f"working hours must be local times with opens < closes (got {opens}-{closes})")

    def window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        opening = datetime.combine(day, opens, tzinfo=zone).astimezone(UTC)
        return opening, datetime.combine(day, closes, tzinfo=zone).astimezone(UTC)

    return window


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got {moment.isoformat()})")
    return moment
