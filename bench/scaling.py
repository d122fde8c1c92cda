"""How cost grows with the work (issue 19): one table, each point beside its reference measured in the same run.

- update-plan at 500, 5,000 and 50,000 releases in the configuration: updates as in production (one process, its
  own database and vhost), the catalogue of that size prepared directly as bench/update_plan.py prepares 5,000
  (same generator, seed, clients' versions, platform releases and entitled subscriber). Per size:
  - request rate: wrk, 200 connections, rounds alternating with the bare aiohttp server answering the same
    documents (bench/update_plan.py's reference);
  - planning time: one request at a time from one keep-alive connection, updates vs the bare server, rounds
    alternating; the difference is what updates does for a plan (token, entitlement, the walk, links, JSON);
    beside it, the first plan's time (the catalogue read and its graph built) in the notes;
  - memory of the catalogue graph: the updates process's resident memory after the plans minus before the first
    one (both after a request for an unknown configuration, so that code paths are warm), beside the catalogue's
    tables in PostgreSQL (releases + kits, heap and TOAST): memory for information, no target.
- the processing day at 10,000 and 100,000 due contracts: bench/contracts_processing.py at that size (seconds until
  every contract is active and its event published, vs this process publishing as many confirmed messages).
- login rate at 1, 2 and 4 concurrent password grants (wrk's connections, identity as in production, argon2id
  m=19 MiB t=2), vs argon2id verifies/s of the same stored hash in this process at the same concurrency, on the
  same bounded thread pool as identity's (shared/hashing.py): the ratio is the share of a login's cost that is the
  hash, five rounds of each side alternating at each concurrency. Beside it, where the CPU went (Linux's /proc): a
  login's in identity's event loop, in its hashing threads and in PostgreSQL's backends, a verify's here, and how
  busy the cores were during each side's rounds.
- the event pipeline at 1,000 and 10,000 events: bench/pipeline.py at that size (outbox → relay → consumer +
  inbox vs raw aio-pika confirm + ack), with enough rounds for 25,000 events a side at each size (at least three,
  five at 1,000 events): a round of 1,000 events lasts under a second, and single rounds of either side then spread
  by 2x on a shared machine.

Targets are issue 19's; a point whose alternating rounds spread by more than 2x is NOISY (bench/common.py).
The benchmark's one Result counts the points at target; the table and each point's notes are its details.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import tempfile
import time
import urllib.parse
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg

from bench import contracts_processing, pipeline, update_plan
from bench.common import (
    THREADS,
    Result,
    TestStack,
    busy_and_total_ticks,
    cpu_seconds,
    generate_load,
    have_wrk,
    identity_process,
    lua_string,
    median,
    register_and_login,
    run_wrk,
    service_process,
    spread,
    throwaway_stack,
    wrk_latency_ms,
)
from bench.contracts_post import jwks_server
from services.identity.public import Passwords
from services.identity.public import database as identity_database
from services.updates.public import database as updates_database
from tests.tokens import TestKeys

# Issue 19's targets.
PLAN_TARGET = update_plan.TARGET  # update-plan's rate beside the bare server, as its own benchmark judges it
PROCESSING_TARGET = 1.3  # the processing day's time, at most 1.3x the reference's confirmed publishes
LOGIN_TARGET = 0.9  # the hash at least 90 % of a login
PIPELINE_TARGET = 0.75  # the pipeline at least 0.75x raw aio-pika

MiB = 1024 * 1024


@dataclass(frozen=True)
class Point:
    """One point of the table: a workload at one size, its figure beside its reference (`result`). A point with no
    target (information, such as memory) shows its ratio and no verdict."""

    workload: str
    work: str  # the size, as the table shows it: "5,000 releases"
    result: Result
    notes: tuple[str, ...] = ()


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}" if value >= 10 else f"{value:,.2f}"


def table(points: Sequence[Point]) -> list[str]:
    """The scaling table: a row a point (figure, reference, ratio with the rounds' range, target, verdict), then each
    point's notes."""
    rows = [("workload", "work", "figure", "reference", "ratio (rounds)", "target", "result")]
    for point in points:
        r = point.result
        ratio = r.ratio_format.format(r.ratio)
        if len(r.rounds) >= 2:
            ratio += f" ({r.ratio_format.format(min(r.rounds))}-{r.ratio_format.format(max(r.rounds))})"
        rows.append(
            (
                point.workload,
                point.work,
                f"{_num(r.figure)} {r.unit} ({r.figure_label})",
                f"{_num(r.reference)} {r.unit} ({r.reference_label})",
                ratio,
                r.target_text,
                r.verdict,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    for point in points:
        if point.notes:
            lines.append(f"{point.workload}, {point.work}:")
            lines.extend(f"  {note}" for note in point.notes)
    return lines


def summary(points: Sequence[Point], took_seconds: float) -> Result:
    """The benchmark's one Result: how many of the judged points are at target (a NOISY point is not), the table
    in its details."""
    judged = [p for p in points if p.result.judged]
    passed = sum(p.result.verdict == "PASS" for p in judged)
    noisy = [f"{p.workload} at {p.work}" for p in points if p.result.verdict == "NOISY"]
    below = [f"{p.workload} at {p.work}" for p in judged if p.result.verdict == "BELOW"]
    return Result(
        name="scaling",
        figure=passed,
        reference=len(judged),
        unit="points",
        figure_label="at target",
        reference_label="with a target",
        target=1.0,
        ratio_format="{:.0%}",
        details=[
            *table(points),
            f"BELOW: {', '.join(below) or 'none'}",
            f"NOISY (rounds spread > 2x, not results): {', '.join(noisy) or 'none'}",
            f"the whole table took {took_seconds:.0f} s",
        ],
    )


# ---- update-plan at a catalogue size -----------------------------------------------------------------


async def _catalogue_bytes(stack: TestStack) -> int:
    """The catalogue's tables in PostgreSQL (heap and TOAST, no indexes)."""
    _, schema = updates_database()
    conn = await asyncpg.connect(stack.database_url, server_settings={"search_path": schema})
    try:
        size: int = await conn.fetchval("SELECT pg_table_size('releases') + pg_table_size('kits')")
    finally:
        await conn.close()
    return size


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def _sequential_ms(http: aiohttp.ClientSession, url: str, bodies: list[str], token: str, count: int) -> float:
    """The median time of `count` plan requests sent one at a time (the bodies in turn), ms."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    times = []
    for n in range(count):
        started = time.perf_counter()
        async with http.post(url, data=bodies[n % len(bodies)], headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"{url} answered {response.status}")
        times.append((time.perf_counter() - started) * 1000)
    return median(times)


async def update_plan_points(sizes: Sequence[int], *, rounds: int, seconds: int, requests: int) -> list[Point]:
    if not have_wrk():
        raise RuntimeError("the update-plan points need wrk (apt-get install wrk)")
    keys = TestKeys()
    points: list[Point] = []
    async with jwks_server(keys) as jwks_url:
        for size in sizes:
            points.extend(
                await _update_plan_at(size, keys, jwks_url, rounds=rounds, seconds=seconds, requests=requests)
            )
    return points


async def _update_plan_at(
    size: int, keys: TestKeys, jwks_url: str, *, rounds: int, seconds: int, requests: int
) -> list[Point]:
    work = f"{size:,} releases"
    rates: dict[str, list[float]] = {"updates": [], "bare": []}
    latencies: dict[str, list[float]] = {"updates": [], "bare": []}
    async with throwaway_stack(f"scaling-plan-{size}", migrate_identity=False) as stack:
        subscriber_id, code, versions = await update_plan.prepare(stack, size)
        database_bytes = await _catalogue_bytes(stack)
        subscriber = {"id": str(subscriber_id), "code": code, "role": "owner", "rights": []}
        token = keys.token(scope="", subscriber=subscriber, role="customer", login="bench", ttl=86_400)
        bodies = [
            json.dumps(
                {
                    "configuration": update_plan.CONFIGURATION,
                    "version": version,
                    "platform_version": update_plan.PLATFORM,
                }
            )
            for version in versions
        ]
        async with service_process(stack, "updates", ITS_JWKS_URL=jwks_url) as updates:
            assert updates.process is not None
            pid = updates.process.pid
            urls = {"updates": f"{updates.url}/v1/update-plan"}
            # Warm the request path (and the platform catalogue) on a configuration that has no releases.
            unknown = json.dumps({"configuration": "NONE", "version": "1.0.0.1", "platform_version": "8.3.20.1000"})
            async with aiohttp.ClientSession() as http:
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                async with http.post(urls["updates"], data=unknown, headers=headers) as response:
                    if response.status >= 500:
                        raise RuntimeError(f"updates answered {response.status}: {await response.text()}")
            rss_before = _rss_bytes(pid)
            started = time.perf_counter()
            documents = {versions[0]: await update_plan.check_plan(urls["updates"], bodies[0], token)}
            first_ms = (time.perf_counter() - started) * 1000
            for version, body in zip(versions[1:], bodies[1:], strict=True):
                documents[version] = await update_plan.check_plan(urls["updates"], body, token)
            rss_after = _rss_bytes(pid)
            steps = [len(document["steps"]) for document in documents.values()]
            async with update_plan.bare_process(stack, documents) as bare_url, aiohttp.ClientSession() as http:
                urls["bare"] = bare_url
                saturate = stack.var_dir / "saturate.lua"
                saturate.write_text(update_plan.wrk_script(bodies, token, None))
                for url in urls.values():
                    await update_plan.wrk(url, update_plan.WARMUP_SECONDS, saturate)
                    await _sequential_ms(http, url, bodies, token, requests // 4 + 1)
                for _ in range(rounds):
                    for name, url in urls.items():
                        latencies[name].append(await _sequential_ms(http, url, bodies, token, requests))
                        rates[name].append((await update_plan.wrk(url, seconds, saturate)).requests_per_second)
    rate_rounds = [u / b for u, b in zip(rates["updates"], rates["bare"], strict=True)]
    latency_rounds = [u / b for u, b in zip(latencies["updates"], latencies["bare"], strict=True)]
    graph_bytes = rss_after - rss_before
    plans = f"plans of {min(steps)} to {max(steps)} steps from {len(versions)} versions in turn"
    rate = Result(
        name="update-plan rate",
        figure=median(rates["updates"]),
        reference=median(rates["bare"]),
        unit="req/s",
        figure_label="updates",
        reference_label="bare, same answers",
        target=PLAN_TARGET,
        rounds=rate_rounds,
    )
    planning = Result(
        name="update-plan planning",
        figure=median(latencies["updates"]),
        reference=median(latencies["bare"]),
        unit="ms",
        figure_label="updates, one at a time",
        reference_label="bare",
        target=None,
        higher_is_better=False,
        rounds=latency_rounds,
    )
    memory = Result(
        name="update-plan memory",
        figure=graph_bytes / MiB,
        reference=database_bytes / MiB,
        unit="MiB",
        figure_label="updates RSS growth",
        reference_label="releases + kits tables",
        target=None,
    )
    return [
        Point(
            "update-plan rate",
            work,
            rate,
            notes=(
                f"wrk -t{THREADS} -c{update_plan.CONNECTIONS}, {seconds} s a round, {rounds} rounds alternating",
                plans,
                f"updates req/s {spread(rates['updates'])}; bare {spread(rates['bare'])}",
            ),
        ),
        Point(
            "update-plan planning",
            work,
            planning,
            notes=(
                f"{requests} requests one at a time a round, alternating with the bare server; median ms updates "
                f"{spread(latencies['updates'], '{:.2f}')}, bare {spread(latencies['bare'], '{:.2f}')}",
                f"work of a plan beyond the bare answer: {planning.figure - planning.reference:.2f} ms; the first "
                f"plan (catalogue read, graph built): {first_ms:,.0f} ms",
            ),
        ),
        Point(
            "update-plan memory",
            work,
            memory,
            notes=(f"{graph_bytes / size:,.0f} bytes of resident memory a release (after {len(versions)} plans)",),
        ),
    ]


# ---- the processing day and the pipeline: their own benchmarks at a size ------------------------------


async def processing_points(sizes: Sequence[int], *, rounds: int) -> list[Point]:
    points = []
    for size in sizes:
        result = await contracts_processing.run(contracts=size, rounds=rounds)
        events_per_second = size / result.figure
        reference_rate = size / result.reference
        points.append(
            Point(
                "processing day",
                f"{size:,} contracts",
                dataclasses.replace(
                    result,
                    target=PROCESSING_TARGET,
                    figure_label="activated + published",
                    reference_label="raw confirmed publishes",
                ),
                notes=(
                    f"events/s: service {events_per_second:,.0f}, reference {reference_rate:,.0f}; {rounds} rounds",
                    *(line for line in result.details if "after s" in line or line.startswith("publishing after")),
                ),
            )
        )
    return points


async def pipeline_points(sizes: Sequence[int], *, rounds: int, events: int, round_events: int) -> list[Point]:
    """At each size, rounds of at least `round_events` events a side: as many backlogs of the size as that takes,
    drained one after another (a round of one 1,000-event backlog lasted a third of a second, and single
    rounds of either side ran at half or twice their median); `rounds` rounds, or as many as `events` events a
    side take, whichever is more."""
    points = []
    for size in sizes:
        backlogs = max(1, round_events // size)
        result = await pipeline.run(events=size, rounds=max(rounds, -(-events // (size * backlogs))), backlogs=backlogs)
        points.append(
            Point(
                "event pipeline",
                f"{size:,} events",
                dataclasses.replace(
                    result,
                    target=PIPELINE_TARGET,
                    figure_label="outbox → consumer",
                    reference_label="raw aio-pika, same routing",
                ),
                notes=(
                    result.details[0],  # the rounds' shape
                    *(line for line in result.details if line.startswith(("CPU", "ratio"))),
                ),
            )
        )
    return points


# ---- login at a concurrency ---------------------------------------------------------------------------


@dataclass
class _Cpu:
    """Where the CPU went over a side's rounds (Linux's /proc): the serving process's event loop (its main thread),
    its other threads (the hashing pool), the PostgreSQL backends of the stack's database, and how busy the cores
    were at all. Tick-counted (10 ms), hence summed over the rounds before dividing by the logins or verifies."""

    loop: float = 0.0  # seconds of CPU over the rounds
    hashing: float = 0.0
    postgres: float = 0.0
    done: float = 0.0  # logins or verifies over the rounds
    busy_ticks: int = 0
    total_ticks: int = 0

    @contextlib.asynccontextmanager
    async def round(self, pid: int, database: asyncpg.Connection) -> AsyncIterator[list[float]]:
        """Measures a round of process `pid`; the caller appends the round's logins or verifies to the list."""
        done: list[float] = []
        (loop, hashing), backends, (busy, total) = (
            _threads_cpu(pid),
            await _backends_cpu(database),
            busy_and_total_ticks(),
        )
        yield done
        (loop_after, hashing_after), backends_after = _threads_cpu(pid), await _backends_cpu(database)
        busy_after, total_after = busy_and_total_ticks()
        self.loop += loop_after - loop
        self.hashing += hashing_after - hashing
        # A backend started during the round counts from nothing; one ended during it is not known at its end.
        self.postgres += sum(s - backends.get(b, 0.0) for b, s in backends_after.items())
        self.done += sum(done)
        self.busy_ticks += busy_after - busy
        self.total_ticks += total_after - total

    def ms(self, seconds: float) -> float:
        """`seconds` of CPU over the rounds, in ms a login or verify."""
        return 1000 * seconds / max(self.done, 1.0)

    @property
    def busy(self) -> float:
        return self.busy_ticks / max(self.total_ticks, 1)


def _threads_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds so far of process `pid`'s main thread (its event loop) and of its other threads."""
    loop = cpu_seconds(pid, pid)
    return loop, cpu_seconds(pid) - loop


async def _backends_cpu(database: asyncpg.Connection) -> dict[int, float]:
    """CPU seconds so far of each backend serving `database`'s database, other than `database`'s own (which only
    asks this)."""
    rows = await database.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    seconds = {}
    for row in rows:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a connection closed meanwhile
            seconds[row["pid"]] = cpu_seconds(row["pid"])
    return seconds


@dataclass
class _Rounds:
    rates: list[float] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)  # the median time of one login / one hash, per round
    cpu: _Cpu = field(default_factory=_Cpu)


async def _login_round(url: str, form: dict[str, str], concurrency: int, seconds: int) -> tuple[float, float]:
    """(password grants/s, median ms of one) with `concurrency` clients for `seconds`: wrk's connections, which cost
    the two cores next to nothing, or the Python generator where wrk is missing."""
    if have_wrk():
        with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
            script.write(
                'wrk.method = "POST"\n'
                'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
                f"wrk.body = {lua_string(urllib.parse.urlencode(form))}\n"
            )
            script.flush()
            argv = ["wrk", f"-t{THREADS}", f"-c{concurrency}", f"-d{seconds}s", "--latency", "-s", script.name, url]
            load, output = await run_wrk(argv)
        if load.bad:
            raise RuntimeError(f"{load.bad} of {load.requests} password grants failed")
        return load.requests_per_second, wrk_latency_ms(output, "50")
    times: list[float] = []

    async def send(http: aiohttp.ClientSession) -> int:
        started = time.perf_counter()
        async with http.post(url, data=form) as response:
            await response.read()
        times.append((time.perf_counter() - started) * 1000)
        return response.status

    counts = await generate_load(seconds, concurrency, send)
    if counts["bad"]:
        raise RuntimeError(f"{counts['bad']} of {counts['requests']} password grants failed")
    return counts["requests"] / counts["seconds"], median(times)


async def _hash_round(
    passwords: Passwords, stored: str, password: str, concurrency: int, seconds: int
) -> tuple[float, float]:
    """(argon2id verifies/s, median ms of one) with `concurrency` callers for `seconds`, on identity's kind of pool."""
    times: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            if not await passwords.verify(stored, password):
                raise RuntimeError("the stored hash does not verify")
            times.append((time.perf_counter() - started) * 1000)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(times) / (time.monotonic() - started), median(times)


async def login_points(concurrencies: Sequence[int], *, rounds: int, seconds: int) -> list[Point]:
    _, schema = identity_database()
    measured: dict[int, tuple[_Rounds, _Rounds]] = {c: (_Rounds(), _Rounds()) for c in concurrencies}
    passwords = Passwords()
    try:
        async with (
            throwaway_stack("scaling-login") as stack,
            identity_process(stack) as identity,
            aiohttp.ClientSession() as http,
        ):
            login, password, _ = await register_and_login(http, identity.url)
            conn = await asyncpg.connect(stack.database_url, server_settings={"search_path": schema})
            try:
                stored: str = await conn.fetchval("SELECT password_hash FROM accounts WHERE login = $1", login)
            finally:
                await conn.close()
            url = f"{identity.url}/oauth/token"
            form = {"grant_type": "password", "username": login, "password": password}
            await _login_round(url, form, max(concurrencies), 1)  # warm-up
            await _hash_round(passwords, stored, password, max(concurrencies), 1)
            database = await asyncpg.connect(stack.database_url)
            try:
                for concurrency in concurrencies:
                    logins, hashes = measured[concurrency]
                    for _ in range(rounds):
                        async with logins.cpu.round(identity.pid, database) as done:
                            rate, ms = await _login_round(url, form, concurrency, seconds)
                            done.append(rate * seconds)
                        logins.rates.append(rate)
                        logins.ms.append(ms)
                        async with hashes.cpu.round(os.getpid(), database) as done:
                            rate, ms = await _hash_round(passwords, stored, password, concurrency, seconds)
                            done.append(rate * seconds)
                        hashes.rates.append(rate)
                        hashes.ms.append(ms)
            finally:
                await database.close()
    finally:
        passwords.close()
    parameters = stored.split("$")[3]  # e.g. m=19456,t=2,p=1
    points = []
    for concurrency, (logins, hashes) in measured.items():
        result = Result(
            name="login",
            figure=median(logins.rates),
            reference=median(hashes.rates),
            unit="/s",
            figure_label="password grants",
            reference_label="argon2id verifies",
            target=LOGIN_TARGET,
            ratio_format="{:.0%}",
            rounds=[lo / h for lo, h in zip(logins.rates, hashes.rates, strict=True)],
        )
        points.append(
            Point(
                "login",
                f"{concurrency} concurrent",
                result,
                notes=(
                    f"argon2id {parameters}, {passwords.threads} hashing threads (identity's and the reference's); "
                    f"{rounds} rounds of {seconds} s alternating",
                    f"one login ms {spread(logins.ms, '{:.1f}')}; one hash ms {spread(hashes.ms, '{:.1f}')}; "
                    f"hash share of a login's time: {median(hashes.ms) / median(logins.ms):.0%}",
                    f"CPU ms a login: hashing {logins.cpu.ms(logins.cpu.hashing):.1f}, identity's loop "
                    f"{logins.cpu.ms(logins.cpu.loop):.2f}, PostgreSQL {logins.cpu.ms(logins.cpu.postgres):.2f}; "
                    f"a verify here: hashing {hashes.cpu.ms(hashes.cpu.hashing):.1f}, "
                    f"this loop {hashes.cpu.ms(hashes.cpu.loop):.2f}; "
                    f"cores busy {logins.cpu.busy:.0%} during the logins, {hashes.cpu.busy:.0%} during the verifies",
                ),
            )
        )
    return points


# ---- the table ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    releases: tuple[int, ...] = (500, 5_000, 50_000)
    contracts: tuple[int, ...] = (10_000, 100_000)
    concurrencies: tuple[int, ...] = (1, 2, 4)
    events: tuple[int, ...] = (1_000, 10_000)
    rounds: int = 3
    # Events a side at each pipeline size, at least: more rounds for a smaller size (the 1,000-event point's rounds
    # ranged 0.65-0.81x within one run: five rounds of it, not three, for a median that stays put).
    pipeline_events: int = 25_000
    pipeline_round_events: int = 5_000  # events a side in one round, at least: more backlogs for a smaller size
    # Login rounds alternate with verify rounds; on a shared virtual machine one pair's ratio ranged 0.78-1.08 within
    # a run (2026-12-08, an AMD EPYC): five pairs, not three, for a median that one slow round does not move.
    login_rounds: int = 5
    processing_rounds: int = 2  # a 100,000-contract round and its reference take about three minutes
    seconds: int = 4
    requests: int = 60  # one-at-a-time plan requests a round


FULL = Sizes()
QUICK = Sizes(
    releases=(500, 5_000),
    contracts=(1_000, 5_000),
    concurrencies=(1, 2),
    events=(500, 1_000),
    rounds=1,
    pipeline_events=0,
    pipeline_round_events=0,
    processing_rounds=1,
    login_rounds=1,
    seconds=2,
    requests=20,
)


async def run(*, quick: bool = False, sizes: Sizes | None = None) -> Result:
    sizes = sizes or (QUICK if quick else FULL)
    started = time.monotonic()
    points = [
        *await update_plan_points(sizes.releases, rounds=sizes.rounds, seconds=sizes.seconds, requests=sizes.requests),
        *await processing_points(sizes.contracts, rounds=sizes.processing_rounds),
        *await login_points(sizes.concurrencies, rounds=sizes.login_rounds, seconds=sizes.seconds),
        *await pipeline_points(
            sizes.events, rounds=sizes.rounds, events=sizes.pipeline_events, round_events=sizes.pipeline_round_events
        ),
    ]
    return summary(points, time.monotonic() - started)
