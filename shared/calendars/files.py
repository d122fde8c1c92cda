"""Calendar files: reading the JSON a pinned calendar (`ITS_CALENDAR=/path/xx.json`) and an overrides file
(`<stem>.overrides.json`, `ru.overrides.json` here) are written in. Every problem is a ValueError naming the file
and what is wrong. Pure but for reading the file.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YEAR = re.compile(r"^\d{4}$")
KINDS = ("non_working", "working")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error


def read_overrides(path: Path) -> tuple[set[date], set[date]]:
    """The non-working and working days of an overrides file; none when there is no such file."""
    if not path.is_file():
        return set(), set()
    return parse_overrides(read_json(path), str(path))


def parse_calendar(data: Any, where: str) -> tuple[str, set[int], set[date], set[date]]:
    """A calendar file's country, years, non-working and working days."""
    check_keys(data, where, required={"country", "years"}, optional={"source", "generated", "comment"})
    country = data["country"]
    if not isinstance(country, str) or not country:
        raise ValueError(f"{where}: 'country' must be a non-empty string (got {country!r})")
    if "generated" in data:
        parse_date(data["generated"], f"{where}: 'generated'")
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
        check_keys(lists, year_where, required=set(KINDS), optional=set())
        parsed = {kind: _parse_date_list(lists[kind], f"{year_where} {kind!r}") for kind in KINDS}
        for kind, days in parsed.items():
            stray = {day for day in days if day.year != year}
            if stray:
                raise ValueError(f"{year_where} {kind!r}: {dates(stray)} not in {year}")
        both = parsed["non_working"] & parsed["working"]
        if both:
            raise ValueError(f"{year_where}: {dates(both)} in both 'non_working' and 'working'")
        years.add(year)
        non_working |= parsed["non_working"]
        working |= parsed["working"]
    return country, years, non_working, working


def parse_overrides(data: Any, where: str) -> tuple[set[date], set[date]]:
    check_keys(data, where, required=set(), optional={"comment", *KINDS})
    parsed = {kind: _parse_override_list(data.get(kind, []), f"{where}: {kind!r}") for kind in KINDS}
    both = parsed["non_working"] & parsed["working"]
    if both:
        raise ValueError(f"{where}: {dates(both)} in both 'non_working' and 'working'")
    return parsed["non_working"], parsed["working"]


def _parse_override_list(entries: Any, where: str) -> set[date]:
    """Entries are `{"date": "YYYY-MM-DD", "note": "..."}`, or bare `"YYYY-MM-DD"` strings."""
    if not isinstance(entries, list):
        raise ValueError(f"{where} must be a list (got {type(entries).__name__})")
    days: set[date] = set()
    for entry in entries:
        if isinstance(entry, dict):
            check_keys(entry, f"{where} entry {entry!r}", required={"date", "note"}, optional=set())
            if not isinstance(entry["note"], str):
                raise ValueError(f"{where} entry {entry!r}: 'note' must be a string")
            days.add(parse_date(entry["date"], where))
        else:
            days.add(parse_date(entry, where))
    return days


def _parse_date_list(entries: Any, where: str) -> set[date]:
    if not isinstance(entries, list):
        raise ValueError(f"{where} must be a list of YYYY-MM-DD dates (got {type(entries).__name__})")
    return {parse_date(entry, where) for entry in entries}


def parse_date(text: Any, where: str) -> date:
    # fromisoformat alone would also take "20260101" and "2026-W01-1"; the files use one spelling only.
    if isinstance(text, str) and _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"{where}: {text!r} is not a date (YYYY-MM-DD)")


def check_keys(data: Any, where: str, *, required: set[str], optional: set[str]) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a JSON object (got {type(data).__name__})")
    unknown = sorted(set(data) - required - optional)
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {allowed})")
    missing = sorted(required - set(data))
    if missing:
        raise ValueError(f"{where}: missing key(s) {', '.join(missing)}")


def dates(days: set[date] | frozenset[date]) -> str:
    return ", ".join(day.isoformat() for day in sorted(days))
