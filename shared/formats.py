"""Dates, months, moments, sizes and numbers as each of the system's languages (en, ru) writes them: the portal's
pages and notifications' e-mails say them alike."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

MONTHS: dict[str, tuple[str, ...]] = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    # Nominative: a month on its own ("декабрь 2026"); messages place it where the nominative reads right.
    "ru": (
        "январь",
        "февраль",
        "март",
        "апрель",
        "май",
        "июнь",
        "июль",
        "август",
        "сентябрь",
        "октябрь",
        "ноябрь",
        "декабрь",
    ),
}
SIZE_UNITS: dict[str, tuple[str, ...]] = {"en": ("B", "KB", "MB", "GB"), "ru": ("Б", "КБ", "МБ", "ГБ")}
_YEAR_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def format_date(value: date | str | None, language: str) -> str:
    """`28 December 2026`; in Russian `28.12.2026`. A string that is no ISO date is shown as it is."""
    if value is None:
        return ""
    day = value
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value[:10])
        except ValueError:
            return value
    assert isinstance(day, date)
    if language == "ru":
        return f"{day.day:02d}.{day.month:02d}.{day.year}"
    return f"{day.day} {MONTHS['en'][day.month - 1]} {day.year}"


def format_month(value: str | None, language: str) -> str:
    """`2026-12` as `December 2026`; in Russian `декабрь 2026`. Anything else is shown as it is."""
    if not value:
        return ""
    found = _YEAR_MONTH.match(value)
    if found is None or not 1 <= int(found[2]) <= 12:
        return value
    months = MONTHS.get(language, MONTHS["en"])
    return f"{months[int(found[2]) - 1]} {found[1]}"


def format_period(period_from: str, period_to: str, language: str) -> str:
    """Whole months, both ends included: `November 2026 – October 2027`; one month alone."""  # noqa: RUF002
    first, last = format_month(period_from, language), format_month(period_to, language)
    return first if period_from == period_to else f"{first} \N{EN DASH} {last}"


def format_time(instant: datetime, language: str, zone: ZoneInfo) -> str:
    """An instant in `zone`: `28 December 2026, 15:00`; in Russian `28.12.2026, 15:00`."""
    local = instant.astimezone(zone)
    return f"{format_date(local.date(), language)}, {local:%H:%M}"


def format_number(value: float, language: str, digits: int = 1) -> str:
    """`39.1`; in Russian `39,1` (a decimal comma)."""
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if language == "ru" else text


def format_size(size: object, language: str) -> str:
    """A file's size: `39.1 KB`; in Russian `39,1 КБ`."""
    units = SIZE_UNITS.get(language, SIZE_UNITS["en"])
    value = float(size) if isinstance(size, int | float) else 0.0
    for index, unit in enumerate(units):
        if value < 1024 or index == len(units) - 1:
            return f"{value:.0f} {unit}" if index == 0 else f"{format_number(value, language)} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
