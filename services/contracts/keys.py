"""What contracts' handlers find on the application besides the kernel's (the production calendar is the
kernel's, `shared.keys.CALENDAR`): its settings and the support statuses it keeps."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from services.contracts.settings import ContractsSettings
from services.contracts.support_cache import SupportCache
from shared.clock import local_date
from shared.keys import CLOCK

SETTINGS = web.AppKey("contracts_settings", ContractsSettings)
SUPPORT_CACHE = web.AppKey("contracts_support_cache", SupportCache)


def today(app: web.Application) -> date:
    """Today in the vendor's zone, by the application's clock."""
    return local_date(app[CLOCK].now(), app[SETTINGS].vendor_zone)
