"""The HTTP edge of access.py: the access of the request's caller (SUB-7: the subscriber of the token; a token
for no subscriber is refused)."""

from __future__ import annotations

from aiohttp import web

from services.updates.access import SubscriberAccess, subscriber_access
from services.updates.keys import CACHE, SETTINGS
from shared.auth import Caller
from shared.keys import CLOCK, POOL


async def caller_access(request: web.Request, caller: Caller) -> SubscriberAccess:
    settings = request.app[SETTINGS]
    return await subscriber_access(
        request.app[POOL],
        request.app[CACHE],
        caller.require_subscriber(),
        now=request.app[CLOCK].now(),
        vendor_zone=settings.vendor_zone,
        keep_covered_releases=settings.keep_covered_releases,
    )
