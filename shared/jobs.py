"""Deferred jobs: durable "run job X with payload at time T" rows in the service's schema.

`schedule` writes the row in the caller's transaction. A `JobWorker` claims a
due row with `FOR UPDATE SKIP LOCKED` and runs its handler in that same
transaction: the job's effects and its completion commit together, two
workers never run one job at once, and if the worker dies its transaction
rolls back, the row lock is released and another worker runs the job
(at-least-once for effects outside the database, such as e-mail). "Due" is
read from the shared clock, so the test clock triggers jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared import tracing
from shared.clock import Clock
from shared.db import Connection, Pool, unreachable
from shared.logging import bound_contextvars, get_logger
from shared.metrics import Metrics

log = get_logger(__name__)

MAX_ERROR_LENGTH = 2_000
# A job still waiting this long after it was due is overdue (/metrics): the workers are stuck, too few or failing.
OVERDUE_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    payload: dict[str, Any]
    run_at: datetime
    attempts: int  # earlier attempts, not counting this one
    max_attempts: int
    # The trace context that scheduled it (shared/tracing.py), None when tracing was off; its run's span links to it.
    trace_context: dict[str, str] | None = None


JobHandler = Callable[[Connection, Job], Awaitable[None]]


def backoff(attempt: int) -> timedelta:
    """Delay before the next try after `attempt` failed tries: 2 s, 4 s, 8 s … capped at 15 min."""
    return timedelta(seconds=min(2**attempt, 900))


_SCHEDULE = (
    "INSERT INTO deferred_jobs (kind, payload, run_at, dedupe_key, max_attempts, trace_context) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"
)
_SCHEDULE_REARM = (
    "INSERT INTO deferred_jobs (kind, payload, run_at, dedupe_key, max_attempts, trace_context) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dedupe_key) DO UPDATE SET state = 'pending', attempts = 0, "
    "finished_at = NULL, run_at = LEAST(deferred_jobs.run_at, EXCLUDED.run_at), "
    "trace_context = EXCLUDED.trace_context "
    "WHERE deferred_jobs.state <> 'pending' RETURNING id"
)


async def schedule(
    conn: Connection,
    kind: str,
    payload: dict[str, Any],
    run_at: datetime,
    *,
    dedupe_key: str | None = None,
    max_attempts: int = 10,
    rearm: bool = False,
) -> int | None:
    """Schedule a job in the caller's transaction; with `dedupe_key`, a second schedule is a no-op (None).

    With `rearm`, a job of that key that has finished is made pending again (due at the earlier of its
    time and `run_at`): for jobs that sweep up whatever is due, so that work arriving after the sweep
    ran is swept too.
    """
    job_id: int | None = await conn.fetchval(
        _SCHEDULE_REARM if rearm else _SCHEDULE, kind, payload, run_at, dedupe_key, max_attempts, _scheduled_by()
    )
    return job_id


async def job_pending(conn: Connection, dedupe_key: str, *, due_by: datetime | None = None) -> bool:
    """Whether the job of `dedupe_key` waits to run (at `due_by` or before, if given). A plain read, no lock:
    callers that schedule the same sweep many times skip the `schedule` (a row lock) when it is pending."""
    pending = await conn.fetchval(
        "SELECT 1 FROM deferred_jobs WHERE dedupe_key = $1 AND state = 'pending' "
        "AND ($2::timestamptz IS NULL OR run_at <= $2)",
        dedupe_key,
        due_by,
    )
    return pending is not None


async def schedule_many(
    conn: Connection,
    kind: str,
    jobs: Sequence[tuple[dict[str, Any], str]],
    run_at: datetime,
    *,
    max_attempts: int = 10,
) -> None:
    """`schedule` for many jobs of one kind in one statement: (payload, dedupe key) each; keys already
    scheduled are skipped. For fan-outs (an e-mail per recipient) where one round trip each is too slow."""
    if not jobs:
        return
    await conn.execute(
        "INSERT INTO deferred_jobs (kind, payload, run_at, dedupe_key, max_attempts, trace_context) "
        "SELECT $1, payload, $2, dedupe_key, $3, $6 FROM unnest($4::jsonb[], $5::text[]) AS j (payload, dedupe_key) "
        "ON CONFLICT (dedupe_key) DO NOTHING",
        kind,
        run_at,
        max_attempts,
        [payload for payload, _ in jobs],
        [key for _, key in jobs],
        _scheduled_by(),
    )


def _scheduled_by() -> dict[str, str] | None:
    """The trace context of the span that schedules a job (None when tracing is off or outside any span)."""
    return tracing.trace_headers() or None


class JobWorker:
    def __init__(
        self,
        pool: Pool,
        clock: Clock,
        handlers: dict[str, JobHandler],
        *,
        metrics: Metrics,
        poll_seconds: float = 0.5,
    ) -> None:
        self.pool = pool
        self.clock = clock
        self.handlers = handlers
        self.metrics = metrics
        self.poll_seconds = poll_seconds
        self._stopping = False
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Run due jobs until `stop()`; a job under way is finished, so a shutdown does not cut off its work
        (an e-mail half sent would go out again on the next start)."""
        while not self._stopping:
            try:
                ran = await self.run_one()
            except Exception as exc:  # database away: try again later
                if not unreachable(exc):  # an outage is logged once by the pool's Outage, not at every poll
                    log.warning("jobs.worker_failed", error=repr(exc))
                ran = False
            if not ran and not self._stopping:
                with contextlib.suppress(TimeoutError):  # a stop() ends the wait at once
                    async with asyncio.timeout(self.poll_seconds):
                        await self._wake.wait()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run_one(self) -> bool:
        """Claim one due job and run it; False when none is due."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT id, kind, payload, run_at, attempts, max_attempts, trace_context FROM deferred_jobs "
                "WHERE state = 'pending' AND run_at <= $1 AND kind = ANY($2) "
                "ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                self.clock.now(),
                list(self.handlers),
            )
            if row is None:
                return False
            job = Job(**dict(row))
            with bound_contextvars(job_id=job.id, job_kind=job.kind), _run_span(job):
                await self._run(conn, job)
        return True

    async def _run(self, conn: Connection, job: Job) -> None:
        try:
            async with conn.transaction():  # a savepoint: a failure undoes only the handler's writes
                await self.handlers[job.kind](conn, job)
        except Exception as exc:
            # The database going away is not the job's failure: its transaction is lost, and it runs again once
            # the database is back, without an attempt counted.
            if unreachable(exc):
                raise
            attempts = job.attempts + 1
            final = attempts >= job.max_attempts
            log.warning("jobs.failed", attempt=attempts, final=final, error=repr(exc))
            await conn.execute(
                "UPDATE deferred_jobs SET attempts = $2, last_error = $3, "
                "state = CASE WHEN $4 THEN 'failed' ELSE 'pending' END, "
                "run_at = CASE WHEN $4 THEN run_at ELSE $5 END, "
                "finished_at = CASE WHEN $4 THEN clock_timestamp() END WHERE id = $1",
                job.id,
                attempts,
                repr(exc)[:MAX_ERROR_LENGTH],
                final,
                self.clock.now() + backoff(attempts),
            )
            self.metrics.jobs.labels(job.kind, "failed" if final else "retry").inc()
            return
        await conn.execute(
            "UPDATE deferred_jobs SET state = 'done', attempts = attempts + 1, finished_at = clock_timestamp() "
            "WHERE id = $1",
            job.id,
        )
        self.metrics.jobs.labels(job.kind, "done").inc()


def _run_span(job: Job) -> contextlib.AbstractContextManager[None]:
    """The span of a job's run: a trace of its own, linked to what scheduled it (shared/tracing.py)."""
    if not tracing.ENABLED:
        return contextlib.nullcontext()
    return tracing.linked_root(f"job {job.kind}", job.trace_context, {"its.job.id": job.id, "its.job.kind": job.kind})


DailyWork = Callable[[Connection, datetime], Awaitable[None]]


@dataclass(frozen=True)
class Daily:
    """A job that runs once a day: `work(conn, run_at)`, then the next day's run is scheduled in the same
    transaction. `dedupe` names the day's run, so whichever replica or restart schedules it first wins and a
    day is never run twice."""

    kind: str
    dedupe: str  # e.g. "purge-pin-failures": the day's key is "purge-pin-failures:2026-12-04"
    work: DailyWork

    async def handle(self, conn: Connection, job: Job) -> None:
        await self.work(conn, job.run_at)
        await self.schedule(conn, job.run_at + timedelta(days=1))

    async def schedule(self, conn: Connection, at: datetime) -> None:
        await schedule(conn, self.kind, {}, at, dedupe_key=f"{self.dedupe}:{at.date()}")


async def sample_jobs(pool: Pool, metrics: Metrics, now: datetime, kinds: Sequence[str]) -> None:
    """For /metrics (shared.app.setup_jobs): jobs due and overdue per kind, by the shared clock's `now` (jobs that
    failed for good are counted as they fail: `deferred_jobs_total{outcome="failed"}`). `kinds` (this process's) are
    reported as 0 when none is due, so that a figure falls back rather than staying at its last value."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT kind, count(*) AS due, count(*) FILTER (WHERE run_at <= $2) AS overdue "
            "FROM deferred_jobs WHERE state = 'pending' AND run_at <= $1 GROUP BY kind",
            now,
            now - OVERDUE_AFTER,
        )
    counts = dict.fromkeys(kinds, (0, 0))
    counts.update({row["kind"]: (row["due"], row["overdue"]) for row in rows})
    for kind, (due, overdue) in counts.items():
        metrics.jobs_due.labels(kind).set(due)
        metrics.jobs_overdue.labels(kind).set(overdue)
