"""How letters say things: people's names, dates, moments and months, in each language of the templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.events.contracts import Organisation
from shared.events.identity import Language
from shared.formats import format_date


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


def masked_address(email: str) -> str:
    """`n***@example.com`: enough for the holder to recognise the address, too little for anyone else to use it."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else email


# Dates, months and periods as the portal's pages write them (shared.formats); a moment adds its UTC offset.


def format_moment(moment: datetime, language: Language, zone: ZoneInfo) -> str:
    """`15 January 2030, 15:00 (UTC+03:00)`, in Russian `15.01.2030, 15:00 (UTC+03:00)`; in the vendor's zone."""
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    label = f"UTC{offset[:3]}:{offset[3:]}"
    return f"{format_date(local.date(), language)}, {local:%H:%M} ({label})"
