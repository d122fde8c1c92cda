"""Partners' webhooks: the URL a partner sets to receive its contracts' outcomes, signed, and their delivery
as deferred jobs (one per event, retried with back-off until the partner's endpoint accepts it)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from datetime import datetime
from typing import Any

import aiohttp

from services.contracts import webhooks_store
from shared.db import Connection, Pool
from shared.events import Envelope
from shared.jobs import Job, JobHandler, schedule
from shared.logging import get_logger

log = get_logger(__name__)

WEBHOOK_JOB = "contracts.webhook"


async def set_webhook(pool: Pool, partner_id: uuid.UUID, url: str, now: datetime) -> str:
    """Set (or replace) the partner's webhook; the answer is its new secret, shown this once."""
    secret = secrets.token_urlsafe(32)
    async with pool.acquire() as conn:
        await webhooks_store.set_webhook(conn, partner_id, url, secret, now)
    return secret


async def webhook_url(pool: Pool, partner_id: uuid.UUID) -> str | None:
    async with pool.acquire() as conn:
        hook = await webhooks_store.webhook(conn, partner_id)
    return hook.url if hook is not None else None


async def remove_webhook(pool: Pool, partner_id: uuid.UUID) -> bool:
    """False if the partner had none."""
    async with pool.acquire() as conn:
        return await webhooks_store.delete_webhook(conn, partner_id)


async def schedule_deliveries(conn: Connection, envelopes: list[Envelope], max_attempts: int) -> None:
    """One delivery job per event for partners that set a webhook (the job reads the URL when it runs)."""
    with_hook = await webhooks_store.partners_with_webhook(conn, {str(e.data["partner_id"]) for e in envelopes})
    for envelope in envelopes:
        if str(envelope.data["partner_id"]) in with_hook:
            await schedule(
                conn,
                WEBHOOK_JOB,
                {"partner_id": envelope.data["partner_id"], "event": envelope.model_dump(mode="json")},
                envelope.occurred_at,
                dedupe_key=f"webhook:{envelope.id}",
                max_attempts=max_attempts,
            )


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the receiver recomputes it and checks the
    time, so a captured delivery cannot be replayed later (as Stripe's and GitHub's webhooks do)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def delivery(event: dict[str, Any], secret: str, timestamp: int) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery of `event` (an envelope as JSON), signed at `timestamp`; webhook_api's
    OpenAPI `webhooks` entry documents them."""
    body = json.dumps(event, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-ITS-Event": str(event["type"]),
        "X-ITS-Delivery": str(event["id"]),
        "X-ITS-Signature": signature(secret, timestamp, body),
    }
    return body, headers


class WebhookFailed(Exception):
    """The partner's endpoint did not accept the delivery: the job is tried again later (back-off)."""


def webhook_job(session: aiohttp.ClientSession) -> JobHandler:
    async def deliver(conn: Connection, job: Job) -> None:
        hook = await webhooks_store.webhook(conn, uuid.UUID(str(job.payload["partner_id"])))
        if hook is None:
            return  # the partner removed its webhook meanwhile
        event = job.payload["event"]
        body, headers = delivery(event, hook.secret, int(time.time()))
        try:
            async with session.post(hook.url, data=body, headers=headers, allow_redirects=False) as response:
                if not 200 <= response.status < 300:
                    raise WebhookFailed(f"{hook.url} answered {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise WebhookFailed(f"{hook.url}: {exc!r}") from exc
        log.info(
            "webhook.delivered", partner_id=str(hook.partner_id), event_type=event["type"], attempt=job.attempts + 1
        )

    return deliver
