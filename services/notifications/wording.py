"""How letters say things: people's names, dates, moments and months, in each language of the templates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.events.contracts import Organisation
from shared.events.identity import Language

_MONTHS: dict[Language, tuple[str, ...]] = {
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
    # Genitive, as in a date: "15 января".
    "ru": (
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ),
}

# Nominative, as a month on its own (the ends of a period): "ноябрь", not "ноября".
_MONTHS_ALONE: dict[Language, tuple[str, ...]] = {
    "en": _MONTHS["en"],
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


def organisation_context(organisation: Organisation) -> dict[str, Any]:
    """The organisation as a letter shows it; `kpp` None when it has none (an individual entrepreneur)."""
    return {"organisation_name": organisation.name, "tin": organisation.tin, "kpp": organisation.kpp or None}


def display_name(full_name: str | None, fallback: str) -> str:
    """Greet by full name, or by `fallback` (the login, the address) where none was given."""
    return full_name.strip() if full_name and full_name.strip() else fallback


def name_and_address(full_name: str | None, email: str) -> str:
    """`Ivan Petrov (ivan@example.com)`, or the address alone where no name was given."""
    name = display_name(full_name, "")
    return f"{name} ({email})" if name else email


def format_moment(moment: datetime, language: Language, zone: ZoneInfo) -> str:
    """`15 January 2030, 15:00 (UTC+03:00)`, in Russian with the year as `2030 г.`; in the vendor's zone."""  # noqa: RUF002
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    label = f"UTC{offset[:3]}:{offset[3:]}"
    return f"{format_date(local.date(), language)}, {local:%H:%M} ({label})"


def format_date(day: date, language: Language) -> str:
    """`15 January 2030`, in Russian `15 января 2030 г.` (a calendar date: no time zone to apply)."""  # noqa: RUF002
    month = _MONTHS[language][day.month - 1]
    year = f"{day.year} г." if language == "ru" else str(day.year)  # noqa: RUF001 (Cyrillic, on purpose)
    return f"{day.day} {month} {year}"


def format_month(year_month: str, language: Language) -> str:
    """`2026-11` as `November 2026`, in Russian `ноябрь 2026 г.`."""  # noqa: RUF002
    year, month = int(year_month[:4]), int(year_month[5:7])
    name = _MONTHS_ALONE[language][month - 1]
    return f"{name} {year} г." if language == "ru" else f"{name} {year}"  # noqa: RUF001 (Cyrillic, on purpose)


def format_period(period_from: str, period_to: str, language: Language) -> str:
    """Whole months, both ends included (ITS-1): `November 2026 – October 2027`; one month alone."""  # noqa: RUF002
    first, last = format_month(period_from, language), format_month(period_to, language)
    return first if period_from == period_to else f"{first} \N{EN DASH} {last}"
