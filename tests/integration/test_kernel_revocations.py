"""Every service refuses a token at once when identity takes its grant away, not when the token expires
(shared.revocations): an exclusion (SUB-6), a change of rights (SUB-5), a revoked API client, a person removed
from a partner's staff, a deactivated partner. The events travel through the real broker's event log stream."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aiohttp import web

from shared.app import create_app, setup_auth, setup_bus, setup_revocations
from shared.auth import Caller
from shared.bus import Bus
from shared.events import Event, wrap
from shared.events.identity import (
    AccountRegistered,
    MemberExcluded,
    MemberRightsChanged,
    PartnerClientRevoked,
    PartnerDeactivated,
    PartnerStaffRemoved,
)
from shared.http import Api
from shared.revocations import REVOCATIONS, REVOKING_TYPES, micros
from shared.settings import BaseServiceSettings
from tests.infra import RunningApp, TestStack, wait_for
from tests.tokens import TestKeys

PROBLEMS = "https://its-portal.dev/problems/"


def service(keys: TestKeys) -> web.Application:
    api = Api("revocations test")

    @api.get("/v1/subscriber-thing", summary="Something of the caller's subscriber", auth=True)
    async def thing(request: web.Request, caller: Caller) -> web.Response:
        subscriber = caller.require_subscriber()
        return web.json_response({"subscriber": subscriber.code})

    @api.get("/v1/partner-thing", summary="Something of the caller's partner", auth=True)
    async def partner_thing(request: web.Request, caller: Caller) -> web.Response:
        return web.json_response({"partner": str(caller.require_partner())})

    settings = BaseServiceSettings()
    app = create_app(settings, service="revocations-test", api=api)
    setup_bus(app, settings, "revocations-test")
    setup_auth(app, settings, keys)
    setup_revocations(app)
    return app


def at(moment: float) -> dict[str, Any]:
    """The issue-time claims of a token issued at `moment` (seconds, with a fraction)."""
    return {"now": moment, "iat_us": round(moment * 1_000_000)}


def member_token(keys: TestKeys, account_id: uuid.UUID, subscriber_id: uuid.UUID, **issued: Any) -> str:
    claims: dict[str, Any] = {
        "subscriber": {"id": str(subscriber_id), "code": "CL-1234567", "role": "user", "rights": ["its_access"]}
    }
    return keys.token(account_id=account_id, **issued, **claims)


def partner_token(keys: TestKeys, subject: uuid.UUID, partner_id: uuid.UUID, **issued: Any) -> str:
    return keys.token(account_id=subject, scope="partner", partner={"id": str(partner_id), "admin": False}, **issued)


async def answer(app: RunningApp, path: str, token: str) -> tuple[int, str]:
    async with app.http.get(path, headers={"Authorization": f"Bearer {token}"}) as response:
        body = await response.json()
        return response.status, str(body.get("type", "")).removeprefix(PROBLEMS)


async def publish(stack: TestStack, *events: Event, raw: list[bytes] | None = None) -> None:
    bus = Bus(stack.amqp_url, name="revocations-test-publisher", prefetch=10, delivery_limit=5)
    await bus.connect()
    try:
        for body in raw or []:
            await bus.publish(
                "identity.member.excluded", body, message_id=str(uuid.uuid4()), message_type="identity.member.excluded"
            )
        for event in events:
            envelope = wrap(event, producer="identity", occurred_at=datetime.now(UTC))
            await bus.publish(
                envelope.type,
                envelope.model_dump_json().encode(),
                message_id=str(envelope.id),
                message_type=envelope.type,
            )
    finally:
        await bus.close()


async def refused(app: RunningApp, path: str, token: str, expected: tuple[int, str]) -> None:
    async def seen() -> bool:
        return await answer(app, path, token) == expected

    await wait_for(seen, timeout=10, interval=0.05, what=f"{path} answering {expected}")


async def test_a_token_is_refused_at_once_when_its_grant_is_taken_away(stack: TestStack) -> None:
    keys = TestKeys()
    now = time.time()
    earlier = at(now - 60)
    account, subscriber, other_subscriber = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    excluded_account, excluded_from = uuid.uuid4(), uuid.uuid4()
    client, partner, staff, other_partner = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    deactivated_partner, their_client, their_staff = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    tokens = {
        "rights": member_token(keys, account, subscriber, **earlier),
        "elsewhere": member_token(keys, account, other_subscriber, **earlier),
        "excluded": member_token(keys, excluded_account, excluded_from, **earlier),
        "client": partner_token(keys, client, partner, **earlier),
        "staff": partner_token(keys, staff, partner, **earlier),
        "staff_elsewhere": partner_token(keys, staff, other_partner, **earlier),
        "their_client": partner_token(keys, their_client, deactivated_partner, **earlier),
        "their_staff": partner_token(keys, their_staff, deactivated_partner, **earlier),
    }
    changed = datetime.now(UTC)
    async with RunningApp(service(keys)) as app:
        for name in ("rights", "elsewhere", "excluded"):
            assert await answer(app, "/v1/subscriber-thing", tokens[name]) == (200, ""), name
        for name in ("client", "staff", "staff_elsewhere", "their_client", "their_staff"):
            assert await answer(app, "/v1/partner-thing", tokens[name]) == (200, ""), name

        await publish(
            stack,
            MemberRightsChanged(subscriber_id=subscriber, account_id=account, its_access=False, changed_at=changed),
            MemberExcluded(subscriber_id=excluded_from, account_id=excluded_account, excluded_at=changed),
            PartnerClientRevoked(partner_id=partner, client_id=client, revoked_at=changed),
            PartnerStaffRemoved(partner_id=partner, account_id=staff, removed_at=changed),
            PartnerDeactivated(partner_id=deactivated_partner, deactivated_at=changed),
        )
        # SUB-5: the rights claim is stale: 401, and the client refreshes; SUB-6: 403 as before.
        await refused(app, "/v1/subscriber-thing", tokens["rights"], (401, "rights-changed"))
        await refused(app, "/v1/subscriber-thing", tokens["excluded"], (403, "membership-ended"))
        for name in ("client", "staff", "their_client", "their_staff"):
            await refused(app, "/v1/partner-thing", tokens[name], (401, "access-revoked"))
        # Grants not taken away are untouched: the account's other subscriber, the person's other partner.
        assert await answer(app, "/v1/subscriber-thing", tokens["elsewhere"]) == (200, "")
        assert await answer(app, "/v1/partner-thing", tokens["staff_elsewhere"]) == (200, "")
        # Tokens issued after the change pass (the new rights, the re-joined member, the reactivated partner).
        later = at(changed.timestamp() + 5)
        assert await answer(app, "/v1/subscriber-thing", member_token(keys, account, subscriber, **later)) == (200, "")
        after = partner_token(keys, their_staff, deactivated_partner, **later)
        assert await answer(app, "/v1/partner-thing", after) == (200, "")

    # A process started after the changes learns them from the retained stream.
    async with RunningApp(service(keys)) as restarted:
        await refused(restarted, "/v1/subscriber-thing", tokens["rights"], (401, "rights-changed"))
        await refused(restarted, "/v1/subscriber-thing", tokens["excluded"], (403, "membership-ended"))
        await refused(restarted, "/v1/partner-thing", tokens["client"], (401, "access-revoked"))
        await refused(restarted, "/v1/partner-thing", tokens["their_staff"], (401, "access-revoked"))


async def test_a_token_issued_in_the_same_second_after_a_change_passes(stack: TestStack) -> None:
    """`iat` is whole seconds: the precise `iat_us` decides, so a token issued just after a change is not refused
    for ever; one issued just before it is refused, and so is one without `iat_us` from that second."""
    keys = TestKeys()
    account, subscriber = uuid.uuid4(), uuid.uuid4()
    second = int(time.time()) - 30
    change = datetime.fromtimestamp(second, UTC) + timedelta(microseconds=500_000)
    just_after = member_token(keys, account, subscriber, now=second, iat_us=micros(change) + 1)
    just_before = member_token(keys, account, subscriber, now=second, iat_us=micros(change) - 1)
    at_change = member_token(keys, account, subscriber, now=second, iat_us=micros(change))
    imprecise = member_token(keys, account, subscriber, now=second)  # iat only: the start of its second
    async with RunningApp(service(keys)) as app:
        await publish(
            stack, MemberRightsChanged(subscriber_id=subscriber, account_id=account, its_access=True, changed_at=change)
        )
        await refused(app, "/v1/subscriber-thing", just_before, (401, "rights-changed"))
        assert await answer(app, "/v1/subscriber-thing", just_after) == (200, "")
        assert await answer(app, "/v1/subscriber-thing", at_change) == (401, "rights-changed")
        assert await answer(app, "/v1/subscriber-thing", imprecise) == (401, "rights-changed")


async def test_a_malformed_revocation_on_the_stream_changes_nothing_and_the_next_one_counts(stack: TestStack) -> None:
    keys = TestKeys()
    account, subscriber = uuid.uuid4(), uuid.uuid4()
    token = member_token(keys, account, subscriber, **at(time.time() - 60))
    async with RunningApp(service(keys)) as app:
        await publish(
            stack,
            MemberExcluded(subscriber_id=subscriber, account_id=account, excluded_at=datetime.now(UTC)),
            raw=[b"not json", b'{"type": "identity.member.excluded", "version": 1, "data": {}}'],
        )
        await refused(app, "/v1/subscriber-thing", token, (403, "membership-ended"))


async def test_the_stream_every_process_follows_holds_the_revoking_events_alone(stack: TestStack) -> None:
    """Every process reads `its.revocations` whole: an event that takes no grant away is not in it."""
    keys = TestKeys()
    other = AccountRegistered(
        account_id=uuid.uuid4(), login="stream-test", email="stream-test@example.com", full_name="A B", language="en"
    )
    revoking = MemberExcluded(subscriber_id=uuid.uuid4(), account_id=uuid.uuid4(), excluded_at=datetime.now(UTC))
    async with RunningApp(service(keys)):  # declares the stream and its bindings, as every service does
        await publish(stack, other, revoking)
    types: set[str | None] = set()
    last = asyncio.Event()

    async def on_message(message: AbstractIncomingMessage) -> None:
        types.add(message.type)
        if message.type == revoking.TYPE and str(revoking.account_id).encode() in message.body:
            last.set()
        await message.ack()

    connection = await aio_pika.connect(stack.amqp_url)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=100)
        queue = await channel.declare_queue(REVOCATIONS.name, durable=True, arguments=REVOCATIONS.arguments)
        await queue.consume(on_message, arguments={"x-stream-offset": "first"})
        await asyncio.wait_for(last.wait(), 10)
    finally:
        await connection.close()
    assert types <= REVOKING_TYPES, types - REVOKING_TYPES
