"""What contracts' handlers find on the application besides the kernel's (the production calendar is the
kernel's, `shared.keys.CALENDAR`): its settings."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from services.contracts.settings import ContractsSettings
from shared.clock import local_date
from shared.keys import CLOCK

SETTINGS = web.AppKey("contracts_settings", ContractsSettings)


def today(app: web.Application) -> date:
    """Today in the vendor's zone, by the application's clock."""
    return local_date(app[CLOCK].now(), app[SETTINGS].vendor_zone)
