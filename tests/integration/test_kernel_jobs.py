"""Deferred jobs: due by the shared (test) clock, claimed with SKIP LOCKED, surviving dead workers."""

from __future__ import annotations

import asyncio
import random
import sys
import uuid
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING

from shared.clock import TestClock
from shared.db import Connection
from shared.jobs import OVERDUE_AFTER, Job, JobHandler, JobWorker, sample_jobs, schedule, schedule_many
from shared.tasks import background
from tests.infra import ROOT, wait_for

if TYPE_CHECKING:
    from tests.integration.kernel_fixtures import Kernel

pytest_plugins = ["tests.integration.kernel_fixtures"]

KIND = "kernel_test.job"


def worker(kernel: Kernel, handler: JobHandler, *, clock: TestClock | None = None) -> JobWorker:
    return JobWorker(kernel.pool, clock or kernel.clock, {KIND: handler}, metrics=kernel.metrics, poll_seconds=0.05)


def record(source: str) -> JobHandler:
    async def handle(conn: Connection, job: Job) -> None:
        await conn.execute(
            "INSERT INTO effects (source, key, n) VALUES ($1, $2, $3)", source, str(job.id), job.payload.get("n")
        )

    return handle


async def job_row(kernel: Kernel, job_id: int) -> dict[str, object]:
    row = await kernel.pool.fetchrow("SELECT * FROM deferred_jobs WHERE id = $1", job_id)
    assert row is not None
    return dict(row)


async def add_job(kernel: Kernel, run_in: timedelta, **kwargs: object) -> int:
    async with kernel.pool.acquire() as conn, conn.transaction():
        job_id = await schedule(conn, KIND, {"n": 1}, kernel.clock.now() + run_in, **kwargs)  # type: ignore[arg-type]
    assert job_id is not None
    return job_id


async def test_a_job_due_in_the_future_runs_only_once_the_test_clock_passes_its_time(kernel: Kernel) -> None:
    job_id = await add_job(kernel, timedelta(hours=1))
    # The worker reads the clock file through its own TestClock, as another process would.
    other_process_clock = TestClock(kernel.clock.path.parent)
    kernel.start(worker(kernel, record("ran"), clock=other_process_clock).run(), "worker")

    await asyncio.sleep(1.0)
    kernel.clock.advance(timedelta(minutes=59))
    await asyncio.sleep(1.0)
    assert await kernel.effects("ran") == (0, 0)
    assert (await job_row(kernel, job_id))["state"] == "pending"

    kernel.clock.advance(timedelta(minutes=2))
    await wait_for(lambda: _ran(kernel, "ran"), timeout=3, what="the job to run after the clock moved")
    row = await job_row(kernel, job_id)
    assert row["state"] == "done"
    assert row["attempts"] == 1
    assert row["finished_at"] is not None
    await asyncio.sleep(0.3)
    assert await kernel.effects("ran") == (1, 1)


async def _ran(kernel: Kernel, source: str, n: int = 1) -> bool:
    rows, _ = await kernel.effects(source)
    return rows >= n


WORKER_PROCESS = """
import asyncio, sys
from pathlib import Path
from shared.clock import TestClock
from shared.db import create_pool
from shared.jobs import JobWorker
from shared.metrics import Metrics

async def main(database_url, schema, var_dir, kind):
    pool = await create_pool(database_url, schema)

    async def handler(conn, job):
        await pool.execute("INSERT INTO effects (source, key) VALUES ('claimed', $1)", str(job.id))
        await conn.execute("INSERT INTO effects (source, key) VALUES ('ran', $1)", str(job.id))
        await asyncio.sleep(3600)  # killed here, effect not committed

    worker = JobWorker(pool, TestClock(Path(var_dir)), {kind: handler}, metrics=Metrics("w"))
    while not await worker.run_one():
        await asyncio.sleep(0.05)

asyncio.run(main(*sys.argv[1:]))
"""


async def test_a_job_claimed_by_a_worker_process_that_dies_is_run_by_another(kernel: Kernel) -> None:
    job_id = await add_job(kernel, timedelta(0))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER_PROCESS,
        kernel.stack.database_url,
        kernel.schema,
        str(kernel.clock.path.parent),
        KIND,
        cwd=ROOT,
    )
    try:
        await wait_for(lambda: _ran(kernel, "claimed"), timeout=20, what="the worker process to claim the job")
        survivor = worker(kernel, record("ran"))
        assert not await survivor.run_one(), "claimed by a live worker: not to be run again"
    finally:
        process.kill()
        await process.wait()

    async def run_it() -> bool:
        return await survivor.run_one()

    await wait_for(run_it, timeout=10, what="another worker to run the dead worker's job")
    row = await job_row(kernel, job_id)
    assert row["state"] == "done"
    assert row["attempts"] == 1
    assert await kernel.effects("ran") == (1, 1)  # the dead worker's writes rolled back


async def test_a_worker_whose_database_connection_is_killed_releases_its_job(kernel: Kernel) -> None:
    job_id = await add_job(kernel, timedelta(0))
    calls: list[str] = []
    backend = asyncio.get_running_loop().create_future()

    async def first_hangs(conn: Connection, job: Job) -> None:
        if not calls:
            calls.append("hung")
            backend.set_result(await conn.fetchval("SELECT pg_backend_pid()"))
            await conn.execute("SELECT pg_sleep(60)")
        calls.append("ran")
        await record("ran")(conn, job)

    stuck, other = worker(kernel, first_hangs), worker(kernel, first_hangs)
    kernel.start(stuck.run(), "stuck-worker")
    pid = await asyncio.wait_for(backend, 10)
    kernel.start(other.run(), "other-worker")
    await asyncio.sleep(0.5)
    assert calls == ["hung"]  # the other worker skips the locked job

    assert await kernel.pool.fetchval("SELECT pg_terminate_backend($1)", pid)
    await wait_for(lambda: _ran(kernel, "ran"), timeout=10, what="the job to run on a live connection")
    row = await job_row(kernel, job_id)
    assert row["state"] == "done"
    assert row["attempts"] == 1
    assert calls == ["hung", "ran"]


async def test_concurrent_workers_never_run_the_same_job_at_once(kernel: Kernel) -> None:
    jobs = 200
    async with kernel.pool.acquire() as conn, conn.transaction():
        for n in range(jobs):
            await schedule(conn, KIND, {"n": n}, kernel.clock.now() - timedelta(seconds=1))
    running: set[int] = set()
    overlaps: list[int] = []
    runs: Counter[int] = Counter()
    by_worker: Counter[int] = Counter()

    def handler_of(worker_no: int) -> JobHandler:
        async def handle(conn: Connection, job: Job) -> None:
            if job.id in running:
                overlaps.append(job.id)
            running.add(job.id)
            try:
                await asyncio.sleep(random.uniform(0.001, 0.02))  # noqa: S311
                await record("ran")(conn, job)
            finally:
                running.discard(job.id)
            runs[job.id] += 1
            by_worker[worker_no] += 1

        return handle

    for n in range(4):
        kernel.start(worker(kernel, handler_of(n)).run(), f"worker-{n}")

    async def all_done() -> bool:
        done = await kernel.pool.fetchval("SELECT count(*) FROM deferred_jobs WHERE state = 'done'")
        return bool(done == jobs)

    await wait_for(all_done, timeout=30, what="all jobs done")
    await asyncio.sleep(0.3)
    assert overlaps == []
    assert len(runs) == jobs
    assert set(runs.values()) == {1}
    assert await kernel.effects("ran") == (jobs, jobs)
    assert len(by_worker) == 4, f"every worker should have taken jobs: {by_worker}"


async def test_a_failing_job_is_retried_with_back_off_and_ends_failed_after_max_attempts(kernel: Kernel) -> None:
    job_id = await add_job(kernel, timedelta(0), max_attempts=3)

    async def fails(conn: Connection, job: Job) -> None:
        await conn.execute("INSERT INTO effects (source, key) VALUES ('half-done', $1)", str(job.id))
        raise ValueError(f"cannot do job {job.id} (try {job.attempts + 1})")

    jobs = worker(kernel, fails)
    assert await jobs.run_one()
    row = await job_row(kernel, job_id)
    assert row["state"] == "pending"
    assert row["attempts"] == 1
    assert "cannot do job" in str(row["last_error"])
    assert "try 1" in str(row["last_error"])
    assert not await jobs.run_one(), "not before its back-off"

    kernel.clock.advance(timedelta(seconds=3))  # first back-off: 2 s
    assert await jobs.run_one()
    assert (await job_row(kernel, job_id))["attempts"] == 2
    kernel.clock.advance(timedelta(seconds=3))  # second back-off is longer: 4 s
    assert not await jobs.run_one()
    kernel.clock.advance(timedelta(seconds=2))
    assert await jobs.run_one()

    row = await job_row(kernel, job_id)
    assert row["state"] == "failed"
    assert row["attempts"] == 3
    assert row["finished_at"] is not None
    assert "try 3" in str(row["last_error"])
    kernel.clock.advance(timedelta(days=1))
    assert not await jobs.run_one(), "a failed job is not run again"
    assert await kernel.effects("half-done") == (0, 0)  # each failed try's writes rolled back
    assert kernel.metrics.registry.get_sample_value("deferred_jobs_total", {"kind": KIND, "outcome": "failed"}) == 1


async def test_scheduling_with_a_dedupe_key_is_idempotent_and_part_of_the_callers_transaction(kernel: Kernel) -> None:
    due = kernel.clock.now()
    async with kernel.pool.acquire() as conn, conn.transaction():
        first = await schedule(conn, KIND, {"n": 1}, due, dedupe_key="activate:42")
        second = await schedule(conn, KIND, {"n": 2}, due, dedupe_key="activate:42")
    async with kernel.pool.acquire() as conn, conn.transaction():
        third = await schedule(conn, KIND, {"n": 3}, due, dedupe_key="activate:42")
    assert first is not None
    assert second is None
    assert third is None

    class Abandon(Exception):
        pass

    try:
        async with kernel.pool.acquire() as conn, conn.transaction():
            await schedule(conn, KIND, {"n": 4}, due, dedupe_key="rolled-back")
            raise Abandon
    except Abandon:
        pass

    rows = await kernel.pool.fetch("SELECT payload, dedupe_key FROM deferred_jobs")
    assert [(r["payload"], r["dedupe_key"]) for r in rows] == [({"n": 1}, "activate:42")]
    jobs = worker(kernel, record("ran"))
    assert await jobs.run_one()
    assert not await jobs.run_one()
    assert await kernel.effects("ran") == (1, 1)


async def test_schedule_many_writes_every_job_once_and_runs_them(kernel: Kernel) -> None:
    """One statement for a fan-out; keys already scheduled (by schedule or an earlier call) are skipped."""
    prefix = f"many:{uuid.uuid4().hex}:"
    async with kernel.pool.acquire() as conn, conn.transaction():
        await schedule(conn, KIND, {"n": 0}, kernel.clock.now(), dedupe_key=prefix + "0")
        await schedule_many(conn, KIND, [({"n": n}, f"{prefix}{n}") for n in range(5)], kernel.clock.now())
        await schedule_many(conn, KIND, [({"n": n}, f"{prefix}{n}") for n in range(3, 8)], kernel.clock.now())
        await schedule_many(conn, KIND, [], kernel.clock.now())
    rows = await kernel.pool.fetch(
        "SELECT dedupe_key, payload FROM deferred_jobs WHERE dedupe_key LIKE $1 ORDER BY id", prefix + "%"
    )
    assert [r["dedupe_key"] for r in rows] == [f"{prefix}{n}" for n in range(8)]
    assert rows[0]["payload"] == {"n": 0} and rows[7]["payload"] == {"n": 7}
    kernel.start(worker(kernel, record(prefix)).run(), "worker")

    async def all_ran() -> bool:
        return await kernel.effects(prefix) == (8, 8)

    await wait_for(all_ran, timeout=10, what="all eight jobs")


async def test_a_stopped_worker_finishes_the_job_under_way_and_takes_no_other(kernel: Kernel) -> None:
    """A shutdown (setup_jobs stops the worker before cancelling it) does not cut a job off half done:
    an e-mail interrupted mid-send would go out again on the next start."""
    first, second = await add_job(kernel, timedelta(0)), await add_job(kernel, timedelta(0))
    started = asyncio.Event()

    async def slow(conn: Connection, job: Job) -> None:
        started.set()
        await asyncio.sleep(0.5)
        await record("ran")(conn, job)

    jobs = worker(kernel, slow)
    async with background(jobs.run(), "test.jobs", stop=jobs.stop) as task:
        await asyncio.wait_for(started.wait(), 10)
    assert task.done() and not task.cancelled()
    assert await kernel.effects("ran") == (1, 1)
    states = {(await job_row(kernel, job_id))["state"] for job_id in (first, second)}
    assert states == {"done", "pending"}


async def test_jobs_due_and_overdue_are_measured_per_kind_by_the_shared_clock(kernel: Kernel) -> None:
    now = kernel.clock.now()
    async with kernel.pool.acquire() as conn:
        await schedule(conn, "kernel_test.waiting", {}, now - OVERDUE_AFTER - timedelta(seconds=1))
        await schedule(conn, "kernel_test.waiting", {}, now - timedelta(seconds=30))
        await schedule(conn, "kernel_test.later", {}, now + timedelta(hours=1))

    def gauge(name: str, kind: str) -> float | None:
        return kernel.metrics.registry.get_sample_value(name, {"kind": kind})

    await sample_jobs(kernel.pool, kernel.metrics, now, [KIND])  # what a scrape of /metrics does first
    assert (
        gauge("deferred_jobs_due", "kernel_test.waiting"),
        gauge("deferred_jobs_overdue", "kernel_test.waiting"),
    ) == (
        2,
        1,
    )
    assert (gauge("deferred_jobs_due", KIND), gauge("deferred_jobs_overdue", KIND)) == (0, 0)  # this process's kind
    assert gauge("deferred_jobs_due", "kernel_test.later") is None  # not due yet

    # An hour later by the shared clock the later one is due too; none of them has run.
    await sample_jobs(kernel.pool, kernel.metrics, now + timedelta(hours=1), [KIND])
    assert gauge("deferred_jobs_due", "kernel_test.later") == 1
    assert gauge("deferred_jobs_overdue", "kernel_test.waiting") == 2
