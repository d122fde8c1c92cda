"""What every support handler needs from its request: who calls (from the verified token) and the desk the use
cases work at."""

from __future__ import annotations

from aiohttp import web

from services.support.callers import Who
from services.support.desk import Desk
from services.support.keys import LEVELS
from shared.auth import Caller
from shared.keys import CLOCK, OUTBOX, POOL


def who_of(caller: Caller) -> Who:
    subscriber = caller.subscriber
    login = caller.claims.get("login")
    return Who(
        account_id=caller.account_id,
        login=login if isinstance(login, str) else "",
        subscriber_id=subscriber.id if subscriber else None,
        subscriber_code=subscriber.code if subscriber else None,
        role=subscriber.role if subscriber else None,
        rights=subscriber.rights if subscriber else frozenset(),
        partner_id=caller.partner_id,
        operator="operator" in caller.scopes,
    )


def desk(request: web.Request) -> Desk:
    app = request.app
    return Desk(app[POOL], app[OUTBOX], app[CLOCK], app[LEVELS])
