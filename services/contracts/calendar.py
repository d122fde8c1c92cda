"""Production calendar: which days are business days, and when a posted contract is processed (rule ITS-2).

Rule ITS-2: a contract posted by a partner on day D is processed at the start of the first business day
after D, in the vendor's time zone. Business days are Monday to Friday, except public holidays and days
off moved by decree, plus weekend days that a decree makes working days.

A country's calendar (`ITS_CALENDAR=ru`) is generated from the `holidays` package when the service starts,
for every year it can reach (`reach`: last year to ten years ahead), and kept for the process's life (about
a millisecond a year); decree changes the package does not know yet go into the shipped
`calendars/<country>.overrides.json`, applied on top. A calendar can also be a JSON file
(`ITS_CALENDAR=/path/xx.json`), for a country the package lacks or a calendar to pin.

Pure: the only I/O is reading the JSON files in `load_calendar`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays

DATA_DIR = Path(__file__).resolve().parent / "calendars"

# The years a running service may need: the processing of a contract needs only the weeks after today; the
# rest is margin for a long-running process and for the development clock moved forward (`itsctl clock`).
YEARS_BEHIND, YEARS_AHEAD = 1, 10

# rule ITS-2: the vendor's time zone unless configured otherwise.
DEFAULT_ZONE = ZoneInfo("Europe/Moscow")

# A business day always comes within a few weeks (the longest Russian block is ~11 days); a calendar
# without one in this many days is broken, and we say so rather than loop on.
_MAX_GAP_DAYS = 60

_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YEAR = re.compile(r"^\d{4}$")
_KINDS = ("non_working", "working")


@dataclass(frozen=True)
class ProductionCalendar:
    country: str
    years: frozenset[int]  # the years the data covers
    non_working: frozenset[date]  # public holidays and days off by decree (weekend ones are harmless)
    working: frozenset[date]  # weekend days that are working days by decree

    def __post_init__(self) -> None:
        both = self.non_working & self.working
        if both:
            raise ValueError(f"calendar {self.country}: {_dates(both)} both working and non-working")

    def covers(self, day: date) -> bool:
        """Whether the data covers `day`'s year; outside it only weekends count, so callers may warn."""
        return day.year in self.years

    def missing_years(self, first: date, last: date) -> list[int]:
        """The years from `first` to `last` that the data does not cover (for the start-up check)."""
        return [year for year in range(first.year, last.year + 1) if year not in self.years]

    def is_business_day(self, day: date) -> bool:
        # rule ITS-2: a decree beats the weekday; outside the covered years the sets are empty for that
        # year, so this falls back to Monday-Friday without raising.
        if day in self.working:
            return True
        if day in self.non_working:
            return False
        return day.weekday() < 5

    def next_business_day_after(self, day: date) -> date:
        """The first business day strictly after `day`."""
        for offset in range(1, _MAX_GAP_DAYS + 1):
            candidate = day + timedelta(days=offset)
            if self.is_business_day(candidate):
                return candidate
        raise ValueError(f"calendar {self.country}: no business day in the {_MAX_GAP_DAYS} days after {day}")

    def effective_moment(self, received_at: datetime, zone: ZoneInfo) -> datetime:
        """Rule ITS-2: 00:00 in `zone` of the first business day after the local date of `received_at`."""
        if received_at.tzinfo is None or received_at.utcoffset() is None:
            raise ValueError(f"received_at must be timezone-aware (got {received_at.isoformat()})")
        # The day is the vendor's local day, not UTC's: Saturday 00:01 Moscow is still Friday in UTC.
        local_day = received_at.astimezone(zone).date()
        start = datetime.combine(self.next_business_day_after(local_day), time(0, 0), tzinfo=zone)
        # Where a DST change skips midnight, "00:00" does not exist; the round trip gives the first real
        # instant of that day (e.g. 01:00).
        return start.astimezone(UTC).astimezone(zone)


def reach(today: date) -> range:
    """The years a service that starts on `today` generates (see YEARS_AHEAD)."""
    return range(today.year - YEARS_BEHIND, today.year + YEARS_AHEAD + 1)


def load_calendar(name_or_path: str, years: Iterable[int]) -> ProductionCalendar:
    """`"ru"` (an ISO 3166 country code): generated from the `holidays` package for `years` (and for the years
    of its overrides), with the shipped `calendars/ru.overrides.json`, if any, on top. Anything else: a path
    to a calendar JSON file (`generate.py` writes one), with a sibling `<stem>.overrides.json` on top, if
    present. An override wins. ValueError, naming the file or the country and the problem, when unusable.
    """
    if _COUNTRY.fullmatch(name_or_path):
        overrides_path = DATA_DIR / f"{name_or_path.lower()}.overrides.json"
        more_non_working, more_working = _overrides(overrides_path)
        wanted = set(years) | {day.year for day in more_non_working | more_working}
        country, covered, non_working, working = _from_package(name_or_path.upper(), wanted)
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ValueError(
                f"no calendar {name_or_path!r}: neither a country code (e.g. ru) nor a calendar file that exists"
            )
        country, covered, non_working, working = _parse_calendar(_read_json(path), str(path))
        overrides_path = path.with_name(f"{path.stem}.overrides.json")
        more_non_working, more_working = _overrides(overrides_path)
        outside = {day for day in more_non_working | more_working if day.year not in covered}
        if outside:
            raise ValueError(
                f"{overrides_path}: {_dates(outside)} outside the years {path.name} covers "
                f"({', '.join(str(y) for y in sorted(covered))}); regenerate the data for that year"
            )
    # An override wins over the generated data.
    non_working = (non_working - more_working) | more_non_working
    working = (working - more_non_working) | more_working
    return ProductionCalendar(
        country=country,
        years=frozenset(covered),
        non_working=frozenset(non_working),
        working=frozenset(working),
    )


def calendar_data(country: str, years: Iterable[int]) -> dict[str, Any]:
    """The package's calendar for `country` and `years` in the calendar-file format (`generate.py`)."""
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


def _overrides(path: Path) -> tuple[set[date], set[date]]:
    if not path.is_file():
        return set(), set()
    return _parse_overrides(_read_json(path), str(path))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error


def _parse_calendar(data: Any, where: str) -> tuple[str, set[int], set[date], set[date]]:
    _check_keys(data, where, required={"country", "years"}, optional={"source", "generated", "comment"})
    country = data["country"]
    if not isinstance(country, str) or not country:
        raise ValueError(f"{where}: 'country' must be a non-empty string (got {country!r})")
    if "generated" in data:
        _parse_date(data["generated"], f"{where}: 'generated'")
    by_year = data["years"]
    if not isinstance(by_year, dict) or not by_year:
        raise ValueError(f"{where}: 'years' must be a non-empty object of year -> lists")

    years: set[int] = set()
    non_working: set[date] = set()
    working: set[date] = set()
    for key, lists in by_year.items():
        if not _YEAR.fullmatch(key):
            raise ValueError(f"{where}: year {key!r} is not a four-digit year")
        year = int(key)
        year_where = f"{where}: year {key}"
        _check_keys(lists, year_where, required=set(_KINDS), optional=set())
        parsed = {kind: _parse_date_list(lists[kind], f"{year_where} {kind!r}") for kind in _KINDS}
        for kind, days in parsed.items():
            stray = {day for day in days if day.year != year}
            if stray:
                raise ValueError(f"{year_where} {kind!r}: {_dates(stray)} not in {year}")
        both = parsed["non_working"] & parsed["working"]
        if both:
            raise ValueError(f"{year_where}: {_dates(both)} in both 'non_working' and 'working'")
        years.add(year)
        non_working |= parsed["non_working"]
        working |= parsed["working"]
    return country, years, non_working, working


def _parse_overrides(data: Any, where: str) -> tuple[set[date], set[date]]:
    _check_keys(data, where, required=set(), optional={"comment", *_KINDS})
    parsed = {kind: _parse_override_list(data.get(kind, []), f"{where}: {kind!r}") for kind in _KINDS}
    both = parsed["non_working"] & parsed["working"]
    if both:
        raise ValueError(f"{where}: {_dates(both)} in both 'non_working' and 'working'")
    return parsed["non_working"], parsed["working"]


def _parse_override_list(entries: Any, where: str) -> set[date]:
    """Entries are `{"date": "YYYY-MM-DD", "note": "..."}`, or bare `"YYYY-MM-DD"` strings."""
    if not isinstance(entries, list):
        raise ValueError(f"{where} must be a list (got {type(entries).__name__})")
    days: set[date] = set()
    for entry in entries:
        if isinstance(entry, dict):
            _check_keys(entry, f"{where} entry {entry!r}", required={"date", "note"}, optional=set())
            if not isinstance(entry["note"], str):
                raise ValueError(f"{where} entry {entry!r}: 'note' must be a string")
            days.add(_parse_date(entry["date"], where))
        else:
            days.add(_parse_date(entry, where))
    return days


def _parse_date_list(entries: Any, where: str) -> set[date]:
    if not isinstance(entries, list):
        raise ValueError(f"{where} must be a list of YYYY-MM-DD dates (got {type(entries).__name__})")
    return {_parse_date(entry, where) for entry in entries}


def _parse_date(text: Any, where: str) -> date:
    # fromisoformat alone would also take "20260101" and "2026-W01-1"; the files use one spelling only.
    if isinstance(text, str) and _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"{where}: {text!r} is not a date (YYYY-MM-DD)")


def _check_keys(data: Any, where: str, *, required: set[str], optional: set[str]) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a JSON object (got {type(data).__name__})")
    unknown = sorted(set(data) - required - optional)
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {allowed})")
    missing = sorted(required - set(data))
    if missing:
        raise ValueError(f"{where}: missing key(s) {', '.join(missing)}")


def _dates(days: set[date] | frozenset[date]) -> str:
    return ", ".join(day.isoformat() for day in sorted(days))
