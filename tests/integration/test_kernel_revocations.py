"""Services refuse an excluded member's access token at once, not when it expires (rule SUB-6)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from shared.app import create_app, setup_auth, setup_bus, setup_exclusions
from shared.auth import Caller
from shared.bus import Bus
from shared.events import wrap
from shared.events.identity import MemberExcluded
from shared.http import Api
from shared.settings import BaseServiceSettings
from tests.infra import RunningApp, TestStack, wait_for
from tests.tokens import TestKeys


def service(keys: TestKeys) -> web.Application:
    api = Api("exclusions test")

    @api.get("/v1/subscriber-thing", summary="Something of the caller's subscriber", auth=True)
    async def thing(request: web.Request, caller: Caller) -> web.Response:
        subscriber = caller.require_subscriber()
        return web.json_response({"subscriber": subscriber.code})

    app = create_app(BaseServiceSettings(), service="exclusions-test", api=api)
    setup_bus(app, "exclusions-test")
    setup_auth(app, keys)
    setup_exclusions(app)
    return app


def member_token(keys: TestKeys, account_id: uuid.UUID, subscriber_id: uuid.UUID, issued: float) -> str:
    claims: dict[str, Any] = {
        "subscriber": {"id": str(subscriber_id), "code": "CL-1234567", "role": "user", "rights": ["its_access"]}
    }
    return keys.token(account_id=account_id, now=issued, **claims)


async def status(app: RunningApp, token: str) -> int:
    async with app.http.get("/v1/subscriber-thing", headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status


async def test_an_excluded_members_token_is_refused_at_once(stack: TestStack) -> None:
    keys = TestKeys()
    account_id, subscriber_id, other_subscriber = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    before = member_token(keys, account_id, subscriber_id, time.time() - 60)
    elsewhere = member_token(keys, account_id, other_subscriber, time.time() - 60)
    async with RunningApp(service(keys)) as app:
        assert await status(app, before) == 200
        bus = Bus(stack.amqp_url, name="exclusions-test-publisher", prefetch=10, delivery_limit=5)
        await bus.connect()
        try:
            envelope = wrap(
                MemberExcluded(account_id=account_id, subscriber_id=subscriber_id, excluded_at=datetime.now(UTC)),
                producer="identity",
                occurred_at=datetime.now(UTC),
            )
            await bus.publish(
                envelope.type,
                envelope.model_dump_json().encode(),
                message_id=str(envelope.id),
                message_type=envelope.type,
            )
        finally:
            await bus.close()
        await wait_for(lambda: _is(status(app, before), 403), timeout=10, what="the old token refused")
        assert await status(app, elsewhere) == 200  # other subscribers of the account are untouched
        rejoined = member_token(keys, account_id, subscriber_id, time.time() + 5)
        assert await status(app, rejoined) == 200  # a token issued after the exclusion passes

    # A process started after the exclusion learns it from the retained event log.
    async with RunningApp(service(keys)) as restarted:
        await wait_for(lambda: _is(status(restarted, before), 403), timeout=10, what="refused after a restart")


async def _is(value: Any, expected: int) -> bool:
    return bool(await value == expected)
