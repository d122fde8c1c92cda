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
    # Nominative, as a month on its own ("ноябрь 2026"); a Russian date is written in figures (28.12.2026).
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


# The same formats as the portal's pages (services.portal.formats; a unit test holds them alike).


def format_moment(moment: datetime, language: Language, zone: ZoneInfo) -> str:
    """`15 January 2030, 15:00 (UTC+03:00)`, in Russian `15.01.2030, 15:00 (UTC+03:00)`; in the vendor's zone."""
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    label = f"UTC{offset[:3]}:{offset[3:]}"
    return f"{format_date(local.date(), language)}, {local:%H:%M} ({label})"


def format_date(day: date, language: Language) -> str:
    """`15 January 2030`, in Russian `15.01.2030` (a calendar date: no time zone to apply)."""
    if language == "ru":
        return f"{day.day:02d}.{day.month:02d}.{day.year}"
    return f"{day.day} {_MONTHS['en'][day.month - 1]} {day.year}"


def format_month(year_month: str, language: Language) -> str:
    """`2026-11` as `November 2026`, in Russian `ноябрь 2026`."""
    year, month = int(year_month[:4]), int(year_month[5:7])
    return f"{_MONTHS[language][month - 1]} {year}"


def format_period(period_from: str, period_to: str, language: Language) -> str:
    """Whole months, both ends included (ITS-1): `November 2026 – October 2027`; one month alone."""  # noqa: RUF002
    first, last = format_month(period_from, language), format_month(period_to, language)
    return first if period_from == period_to else f"{first} \N{EN DASH} {last}"
