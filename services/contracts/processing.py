"""The business day's processing (ITS-2), expiry, and partners' webhooks, as deferred jobs.

A contract received on day D gets `effective_at` = the start of the first business day after D
(calendar.py) and a job `contracts.process` due then (one per moment, deduplicated). When it runs
it activates, in batches, every contract in processing whose moment has come — not only its own:
a job that ran late or a contract whose job was lost is caught up by the next one. Each batch's
state change and its `contracts.contract.activated` events commit together in the job's
transaction; a crash rolls the batch back and the job runs again, so nothing is done twice.
Expiry works the same way at the start of the month after a contract's period.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime, timedelta
from typing import Any, TypeVar

import aiohttp

from services.contracts import store
from services.contracts.settings import ContractsSettings
from shared.db import Connection
from shared.events import Envelope
from shared.events.contracts import ContractActivated, ContractEvent, ContractExpired, Organisation
from shared.jobs import Job, JobHandler, schedule
from shared.logging import get_logger
from shared.outbox import Outbox

log = get_logger(__name__)

PROCESS_JOB = "contracts.process"
EXPIRE_JOB = "contracts.expire"
WEBHOOK_JOB = "contracts.webhook"
PURGE_KEYS_JOB = "contracts.purge_idempotency_keys"
IDEMPOTENCY_KEPT = timedelta(hours=48)

C = TypeVar("C", bound=ContractEvent)


def contract_event(event: type[C], c: store.Contract, partner: store.Partner | None, **extra: Any) -> C:
    """`event` about contract `c`, with the partner's name and address for its e-mail."""
    return event(
        contract_id=c.id,
        number=c.number,
        partner_id=c.partner_id,
        subscriber_code=c.subscriber_code,
        organisation=Organisation(name=c.org_name, tin=c.tin, kpp=c.kpp),
        main_registration_number=c.main_number,
        additional_registration_numbers=c.additional_numbers,
        period_from=c.period_from,
        period_to=c.period_to,
        kind=c.kind,
        partner_name=partner.name if partner else "",
        partner_email=partner.contact_email if partner else "",
        **extra,
    )


async def schedule_processing(conn: Connection, at: datetime) -> None:
    """One job per moment; re-armed if it ran already (a contract due at a moment whose run is over).

    Every contract of a day has the same moment: the common case, a pending job, is a read without a
    lock, so the day's POSTs do not queue behind one job row.
    """
    key = f"process:{at.isoformat()}"
    pending = await conn.fetchval(
        "SELECT 1 FROM deferred_jobs WHERE dedupe_key = $1 AND state = 'pending' AND run_at <= $2", key, at
    )
    if not pending:
        await schedule(conn, PROCESS_JOB, {}, at, dedupe_key=key, rearm=True)


def process_job(outbox: Outbox, settings: ContractsSettings) -> JobHandler:
    async def process(conn: Connection, job: Job) -> None:
        now = max(job.run_at, outbox.clock.now())
        activated = await store.activate_due(conn, now, settings.process_batch)
        if activated:
            partners = await store.partners(conn, list({c.partner_id for c in activated}))
            envelopes = await outbox.add_many(
                conn,
                [contract_event(ContractActivated, c, partners.get(c.partner_id), activated_at=now) for c in activated],
            )
            for expires_at in sorted({c.expires_at for c in activated}):
                await schedule(
                    conn, EXPIRE_JOB, {}, expires_at, dedupe_key=f"expire:{expires_at.isoformat()}", rearm=True
                )
            await _webhooks(conn, envelopes, settings)
            log.info("contracts.activated", count=len(activated))
        if len(activated) == settings.process_batch:  # more are due: the next batch in its own transaction
            await schedule(conn, PROCESS_JOB, {}, now, dedupe_key=f"process:{now.isoformat()}:after:{job.id}")

    return process


def expire_job(outbox: Outbox, settings: ContractsSettings) -> JobHandler:
    async def expire(conn: Connection, job: Job) -> None:
        now = outbox.clock.now()
        expired = await store.expire_due(conn, now, settings.process_batch)
        await outbox.add_many(
            conn,
            [
                ContractExpired(contract_id=c.id, number=c.number, period_to=c.period_to, expired_at=now)
                for c in expired
            ],
        )
        if len(expired) == settings.process_batch:
            await schedule(conn, EXPIRE_JOB, {}, now, dedupe_key=f"expire:{now.isoformat()}:after:{job.id}")

    return expire


async def purge_idempotency_keys(conn: Connection, job: Job) -> None:
    await store.purge_idempotency_keys(conn, job.run_at - IDEMPOTENCY_KEPT)
    await schedule_purge(conn, job.run_at + timedelta(days=1))


async def schedule_purge(conn: Connection, at: datetime) -> None:
    await schedule(conn, PURGE_KEYS_JOB, {}, at, dedupe_key=f"purge-idempotency-keys:{at.date()}")


# ---- webhooks ---------------------------------------------------------------------------------


async def _webhooks(conn: Connection, envelopes: list[Envelope], settings: ContractsSettings) -> None:
    """One delivery job per event for partners that set a webhook (the job reads the URL when it runs)."""
    with_hook = await store.partners_with_webhook(conn, {str(e.data["partner_id"]) for e in envelopes})
    for envelope in envelopes:
        if str(envelope.data["partner_id"]) in with_hook:
            await schedule(
                conn,
                WEBHOOK_JOB,
                {"partner_id": envelope.data["partner_id"], "event": envelope.model_dump(mode="json")},
                envelope.occurred_at,
                dedupe_key=f"webhook:{envelope.id}",
                max_attempts=settings.webhook_max_attempts,
            )


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the receiver recomputes it and checks the
    time, so a captured delivery cannot be replayed later (as Stripe's and GitHub's webhooks do)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class WebhookFailed(Exception):
    """The partner's endpoint did not accept the delivery: the job is tried again later (back-off)."""


def webhook_job(session: aiohttp.ClientSession) -> JobHandler:
    async def deliver(conn: Connection, job: Job) -> None:
        hook = await store.webhook(conn, uuid.UUID(str(job.payload["partner_id"])))
        if hook is None:
            return  # the partner removed its webhook meanwhile
        event = job.payload["event"]
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-ITS-Event": str(event["type"]),
            "X-ITS-Delivery": str(event["id"]),
            "X-ITS-Signature": signature(hook.secret, int(time.time()), body),
        }
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
