"""The business day's processing (ITS-2), expiry, and the purge of old Idempotency-Keys, as deferred jobs.

A contract received on day D gets `effective_at` = the start of the first business day after D
(calendar.py) and a job `contracts.process` due then (one per moment, deduplicated). When it runs
it activates, in batches, every contract in processing whose moment has come — not only its own:
a job that ran late or a contract whose job was lost is caught up by the next one. Each batch's
state change and its `contracts.contract.activated` events commit together in the job's
transaction; a crash rolls the batch back and the job runs again, so nothing is done twice.
Expiry works the same way at the start of the month after a contract's period.
"""

from __future__ import annotations

from datetime import datetime

from services.contracts import events, idempotency_store, read_models, store, webhooks
from services.contracts.domain import IDEMPOTENCY_KEPT
from services.contracts.settings import ContractsSettings
from shared import tracing
from shared.clock import Clock
from shared.db import Connection
from shared.jobs import Daily, Job, JobHandler, job_pending, schedule
from shared.logging import get_logger
from shared.outbox import Outbox

log = get_logger(__name__)

PROCESS_JOB = "contracts.process"
EXPIRE_JOB = "contracts.expire"
PURGE_KEYS_JOB = "contracts.purge_idempotency_keys"


def processing_job(at: datetime) -> tuple[str, str, datetime]:
    """The job that processes the contracts due at `at`: its kind, dedupe key and time (one job per moment)."""
    return PROCESS_JOB, f"process:{at.isoformat()}", at


async def schedule_processing(conn: Connection, at: datetime) -> None:
    """One job per moment; re-armed if it ran already (a contract due at a moment whose run is over).

    Every contract of a day has the same moment: the common case, a pending job, is a read without a
    lock, so the day's POSTs do not queue behind one job row. A partner's POST schedules it in the same way inside
    its one statement (migration 0005's `receive_contract`).
    """
    kind, key, _ = processing_job(at)
    if not await job_pending(conn, key, due_by=at):
        await schedule(conn, kind, {}, at, dedupe_key=key, rearm=True)


def process_job(outbox: Outbox, clock: Clock, settings: ContractsSettings) -> JobHandler:
    async def process(conn: Connection, job: Job) -> None:
        now = max(job.run_at, clock.now())
        due = await store.activate_due(conn, now, settings.process_batch)
        activated = [contract for contract, _ in due]
        if activated:
            partners = await read_models.partners(conn, list({c.partner_id for c in activated}))
            envelopes = await outbox.add_many(
                conn,
                [events.contract_activated(c, partners.get(c.partner_id), now) for c in activated],
                traces=_continuing_intakes([intake for _, intake in due]),
            )
            for expires_at in sorted({c.expires_at for c in activated}):
                await schedule(
                    conn, EXPIRE_JOB, {}, expires_at, dedupe_key=f"expire:{expires_at.isoformat()}", rearm=True
                )
            await webhooks.schedule_deliveries(conn, envelopes, settings.webhook_max_attempts)
            log.info("contracts.activated", count=len(activated))
        if len(activated) == settings.process_batch:  # more are due: the next batch in its own transaction
            await schedule(conn, PROCESS_JOB, {}, now, dedupe_key=f"process:{now.isoformat()}:after:{job.id}")

    return process


def _continuing_intakes(intakes: list[dict[str, str] | None]) -> list[tracing.Carrier] | None:
    """Traces: the run links to the POSTs of the contracts it activates (the first tracing.MAX_LINKS, 128: a day
    activates thousands in one batch, and a viewer lists every link), and each contract's events continue its own
    POST's trace through an `activate contract` span: one trace from the POST to the e-mail sent."""
    if not tracing.ENABLED:
        return None
    tracing.link_to(intakes)
    return tracing.continued("activate contract", intakes)


def expire_job(outbox: Outbox, clock: Clock, settings: ContractsSettings) -> JobHandler:
    async def expire(conn: Connection, job: Job) -> None:
        now = clock.now()
        expired = await store.expire_due(conn, now, settings.process_batch)
        await outbox.add_many(conn, [events.contract_expired(c, now) for c in expired])
        if len(expired) == settings.process_batch:
            await schedule(conn, EXPIRE_JOB, {}, now, dedupe_key=f"expire:{now.isoformat()}:after:{job.id}")

    return expire


async def purge_idempotency_keys(conn: Connection, now: datetime) -> None:
    """Idempotency-Keys are kept IDEMPOTENCY_KEPT, then purged."""
    await idempotency_store.purge_idempotency_keys(conn, now - IDEMPOTENCY_KEPT)


IDEMPOTENCY_KEYS_PURGE = Daily(PURGE_KEYS_JOB, "purge-idempotency-keys", purge_idempotency_keys)
