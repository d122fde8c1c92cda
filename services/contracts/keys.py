"""What contracts' handlers find on the application besides the kernel's: its settings and the production
calendar (ITS-2)."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from services.contracts.calendar import ProductionCalendar
from services.contracts.settings import ContractsSettings
from shared.clock import local_date
from shared.keys import CLOCK

SETTINGS = web.AppKey("contracts_settings", ContractsSettings)
CALENDAR = web.AppKey("calendar", ProductionCalendar)


def today(app: web.Application) -> date:
    """Today in the vendor's zone, by the application's clock."""
    return local_date(app[CLOCK].now(), app[SETTINGS].vendor_zone)
