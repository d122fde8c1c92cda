"""What the benchmarks share: a throwaway database + vhost, processes, medians and the report table."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from rules.months import Month
from services.identity.public import database
from shared.logging import configure_logging
from shared.migrate import migrate
from shared.settings import BaseServiceSettings
from tests.infra import ROOT, ServiceProcess, TestStack, create_stack, drop_stack, free_port

BENCH_VAR = ROOT / "var" / "bench"

__all__ = [
    "BENCH_VAR",
    "ROOT",
    "THREADS",
    "CpuPerRequest",
    "Load",
    "Process",
    "Result",
    "ServiceProcess",
    "TestStack",
    "busy_and_total_ticks",
    "cpu_seconds",
    "free_port",
    "generate_load",
    "have_wrk",
    "identity_process",
    "lua_string",
    "median",
    "migrate_schema",
    "new_login",
    "per_round",
    "production_env",
    "quiet_migrate",
    "register_and_login",
    "rounds_line",
    "run_python_load",
    "run_wrk",
    "service_logging",
    "service_process",
    "throwaway_stack",
    "wrk_latency_ms",
]


@dataclass
class Result:
    """One benchmark's figure beside its reference; `ratio` = figure / reference (where rounds alternate with the
    reference, the median of the rounds' ratios: each round's pair shared the machine's state), compared with
    `target`: at least `target` when higher is better (rates), at most `target` when lower is (durations). A figure
    with no target (None) is reported, not judged: its verdict is "-", never a PASS that could not have failed."""

    name: str
    figure: float
    reference: float
    unit: str
    figure_label: str
    reference_label: str
    target: float | None
    ratio_format: str = "{:.2f}x"
    higher_is_better: bool = True
    details: list[str] = field(default_factory=list)
    rounds: list[float] = field(default_factory=list)  # each round's ratio, where rounds alternate with the reference

    @property
    def ratio(self) -> float:
        if self.rounds:
            return statistics.median(self.rounds)
        return self.figure / self.reference if self.reference else 0.0

    @property
    def judged(self) -> bool:
        return self.target is not None

    @property
    def passed(self) -> bool:
        if self.target is None:
            return False
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target

    @property
    def target_text(self) -> str:
        if self.target is None:
            return "-"
        return ("≥ " if self.higher_is_better else "≤ ") + self.ratio_format.format(self.target)

    @property
    def noisy(self) -> bool:
        """Rounds spread by more than 2x (the machine busy with other work): not a result."""
        return len(self.rounds) >= 2 and (min(self.rounds) <= 0 or max(self.rounds) / min(self.rounds) > NOISY_SPREAD)

    @property
    def verdict(self) -> str:
        if self.noisy:
            return "NOISY"
        return "-" if self.target is None else "PASS" if self.passed else "BELOW"


NOISY_SPREAD = 2.0


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float], fmt: str = "{:,.0f}") -> str:
    """`median (min..max, n=…)` of the rounds, for the details lines."""
    low, high = fmt.format(min(values)), fmt.format(max(values))
    return f"{fmt.format(median(values))} (min {low}, max {high}, n={len(values)})"


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """The CPU time (user and system) process `pid`, or its thread `thread`, has used so far (Linux's
    /proc/PID/stat, /proc/PID/task/TID/stat)."""
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_and_total_ticks() -> tuple[int, int]:
    """The machine's busy and total CPU ticks so far, over every core (/proc/stat's first line; idle and iowait are
    not busy)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(ticks)
    return total - ticks[3] - ticks[4], total


@dataclass
class CpuPerRequest:
    """CPU time per request of each server, summed over the rounds: the servers' own work, which a machine busy
    with other processes changes far less than their rates (a throughput ratio moves with what else runs)."""

    pids: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)

    @contextlib.asynccontextmanager
    async def round(self, name: str) -> AsyncIterator[list[int]]:
        """Measures `name`'s CPU around a round; the caller appends the round's request count to the list."""
        served: list[int] = []
        before = cpu_seconds(self.pids[name])
        yield served
        self.seconds[name] = self.seconds.get(name, 0.0) + cpu_seconds(self.pids[name]) - before
        self.requests[name] = self.requests.get(name, 0) + sum(served)

    def microseconds(self, name: str) -> float:
        return 1e6 * self.seconds.get(name, 0.0) / max(1, self.requests.get(name, 0))

    def line(self, figure: str, reference: str) -> str:
        """The details line: each server's CPU per request and the ratio of the reference's to the figure's."""
        mine, theirs = self.microseconds(figure), self.microseconds(reference)
        return (
            f"CPU per request (the process's user + system time / requests): {figure} {mine:,.1f} µs, "
            f"{reference} {theirs:,.1f} µs; {theirs / mine if mine else 0:.2f}x"
        )


def per_round(ratios: Sequence[float]) -> str:
    """The details line of each round's ratio."""
    return f"ratio per round: {', '.join(f'{r:.2f}' for r in ratios)}"


def rounds_line(generator: str, seconds: int, rounds: int, warmup_seconds: int) -> str:
    """The details line of how two servers were loaded in turn."""
    return f"{generator}, {seconds} s a round, {rounds} rounds alternating, after {warmup_seconds} s warm-up each"


@contextlib.asynccontextmanager
async def throwaway_stack(name: str, *, migrate_identity: bool = True) -> AsyncIterator[TestStack]:
    """A database and a vhost of this benchmark's own, identity's schema migrated; dropped afterwards.

    Logs go under var/bench/<name>-<run>/; they are removed when the benchmark ends without error.
    """
    var_dir = BENCH_VAR / f"{name}-{uuid.uuid4().hex[:8]}"
    var_dir.mkdir(parents=True, exist_ok=True)
    stack = await create_stack(var_dir)
    ok = False
    try:
        if migrate_identity:
            await migrate_schema(stack, database())
        yield stack
        ok = True
    finally:
        await drop_stack(stack)
        if ok:
            shutil.rmtree(var_dir, ignore_errors=True)
        else:
            print(f"  (logs kept in {var_dir})", file=sys.stderr)


def quiet_migrate(migrations: Path, database_url: str, schema: str) -> None:
    """Migrate one service's schema without its output (run it in a thread)."""
    with contextlib.redirect_stdout(None), contextlib.redirect_stderr(None):
        migrate(migrations, database_url, schema)


async def migrate_schema(stack: TestStack, database: tuple[Path, str]) -> None:
    """Migrate a service's schema, `services.<svc>.public.database()`, on this stack, quietly."""
    migrations, schema = database
    await asyncio.to_thread(quiet_migrate, migrations, stack.database_url, schema)


@contextlib.contextmanager
def service_logging(log_path: Path) -> Iterator[TextIO]:
    """Log as a service does (structlog JSON lines at INFO), into a file as a service's stdout would be."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", buffering=8192) as log, contextlib.redirect_stdout(log):
        configure_logging("bench", "INFO")
        yield log


class Process:
    """A command run as its own process, ready when `ready_url` answers 200."""

    def __init__(self, argv: list[str], *, ready_url: str, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.argv, self.ready_url, self.log_path = argv, ready_url, log_path
        self.env = env if env is not None else dict(os.environ)
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.argv} is not started")
        return self.process.pid

    async def start(self, timeout: float = 30.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=asyncio.subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise RuntimeError(f"{self.argv} exited: {self.log_path.read_text(errors='replace')[-2000:]}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(self.ready_url) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        await self.stop()
        raise TimeoutError(f"{self.argv} not ready in {timeout}s")

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@contextlib.asynccontextmanager
async def identity_process(stack: TestStack, **env: str) -> AsyncIterator[ServiceProcess]:
    """identity started as in production (`python -m services.identity`), on this stack.

    The test stack's short poll intervals are put back to the service defaults, so that background
    polling costs what it costs in production.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"ITS_PUBLIC_URL": url, "ITS_JWKS_URL": f"{url}/.well-known/jwks.json", **env}
    async with _running(_production_process(stack, "identity", port, env)) as process:
        yield process


def production_env() -> dict[str, str]:
    """The service defaults for what the test stack shortens (poll intervals, retry delays, log level)."""
    defaults = BaseServiceSettings()
    return {
        "ITS_JOBS_POLL_SECONDS": str(defaults.jobs_poll_seconds),
        "ITS_OUTBOX_POLL_SECONDS": str(defaults.outbox_poll_seconds),
        "ITS_CONSUMER_RETRY_DELAYS_MS": json.dumps(defaults.consumer_retry_delays_ms),
        "ITS_LOG_LEVEL": defaults.log_level,
    }


@contextlib.asynccontextmanager
async def service_process(stack: TestStack, name: str, **env: str) -> AsyncIterator[ServiceProcess]:
    """`python -m services.<name>` on this stack, with the production poll intervals; `env` on top."""
    async with _running(_production_process(stack, name, free_port(), env)) as process:
        yield process


def _production_process(stack: TestStack, name: str, port: int, env: dict[str, str]) -> ServiceProcess:
    return ServiceProcess(name, stack.env(**{**production_env(), **env}), port, stack.var_dir / "log" / f"{name}.log")


@contextlib.asynccontextmanager
async def _running(process: ServiceProcess) -> AsyncIterator[ServiceProcess]:
    await process.start()
    try:
        yield process
    finally:
        await process.stop()


# ---- wrk, the HTTP load generator -------------------------------------------------------------------

THREADS = 1  # wrk is cheap; leave the other core to the server, the database and the broker


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    requests: int
    bad: int  # non-2xx answers and socket errors: a round with any is an error, not a figure


def lua_string(text: str) -> str:
    """`text` as a Lua long string (a wrk script's literal)."""
    return "[==[" + text + "]==]"


async def run_wrk(argv: list[str]) -> tuple[Load, str]:
    """Run wrk; its figures and its whole output (for what a benchmark reads beyond them)."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output = (await process.communicate())[0].decode()
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if process.returncode != 0 or rate is None or total is None:
        raise RuntimeError(f"wrk failed: {output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    bad = (int(non_2xx[1]) if non_2xx else 0) + (sum(int(g) for g in errors.groups()) if errors else 0)
    return Load(float(rate[1]), int(total[1]), bad), output


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_latency_ms(output: str, percentile: str) -> float:
    """A percentile of the latency in the output of `wrk --latency` (`"50"`, `"99"`), in ms."""
    match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {percentile}% latency in wrk's output: {output}")
    return float(match[1]) * _UNITS[match[2]]


# ---- the Python load generator, where wrk is missing -------------------------------------------------


async def run_python_load(argv: list[str]) -> Load:
    """Run a Python load generator (`argv`, a process of its own) that prints generate_load's counts as JSON."""
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    output = (await process.communicate())[0].decode()
    if process.returncode != 0:
        raise RuntimeError(f"load generator failed: {output}")
    result = json.loads(output)
    return Load(result["requests"] / result["seconds"], result["requests"], result["bad"])


Send = Callable[[aiohttp.ClientSession], Awaitable[int]]


async def generate_load(seconds: int, connections: int, send: Send) -> dict[str, Any]:
    """`connections` workers each sending a request (`send`, answering its status) after the other for
    `seconds`: how many requests, how many bad (not 2xx, or no answer) and the seconds they took."""
    counts = {"requests": 0, "bad": 0}
    deadline = time.monotonic() + seconds

    async def worker(http: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            try:
                status = await send(http)
                counts["requests"] += 1
                counts["bad"] += status >= 300
            except aiohttp.ClientError:
                counts["bad"] += 1

    started = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as http:
        await asyncio.gather(*(worker(http) for _ in range(connections)))
    return {**counts, "seconds": time.monotonic() - started}


def new_login() -> str:
    return f"bench{uuid.uuid4().hex[:10]}"


async def register_and_login(http: aiohttp.ClientSession, base_url: str) -> tuple[str, str, dict[str, Any]]:
    """Register a fresh account; returns (login, password, token response)."""
    login = new_login()
    password = f"bench passphrase {uuid.uuid4().hex}"
    async with http.post(
        f"{base_url}/v1/accounts", json={"login": login, "password": password, "email": f"{login}@example.com"}
    ) as response:
        if response.status != 201:
            raise RuntimeError(f"registration failed: {response.status} {await response.text()}")
    async with http.post(
        f"{base_url}/oauth/token", data={"grant_type": "password", "username": login, "password": password}
    ) as response:
        if response.status != 200:
            raise RuntimeError(f"password grant failed: {response.status} {await response.text()}")
        token: dict[str, Any] = await response.json()
    return login, password, token


def print_table(results: Sequence[Result], out: TextIO = sys.stdout) -> None:
    rows = [("benchmark", "figure", "reference", "ratio", "target", "result")]
    for r in results:
        rows.append(
            (
                r.name,
                f"{_num(r.figure)} {r.unit} ({r.figure_label})",
                f"{_num(r.reference)} {r.unit} ({r.reference_label})",
                r.ratio_format.format(r.ratio) + _rounds_range(r),
                r.target_text,
                r.verdict,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * width for width in widths), file=out)
    for r in results:
        if r.details:
            print(f"\n{r.name}:", file=out)
            for line in r.details:
                print(f"  {line}", file=out)


def _rounds_range(result: Result) -> str:
    """The rounds' lowest and highest ratio, where there are rounds."""
    if len(result.rounds) < 2:
        return ""
    low, high = min(result.rounds), max(result.rounds)
    return f" ({result.ratio_format.format(low)} to {result.ratio_format.format(high)})"


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


async def entitle_subscriber(
    conn: Any, subscriber_id: uuid.UUID, code: str, configurations: list[str], now: datetime
) -> None:
    """In updates' schema: the subscriber's PROF product with `configurations`, registered 400 days before `now`,
    and an ITS contract covering six months either side of it: entitled to every kit and to the rates (UPD-4,
    DAT-1)."""
    month = Month.of(now.date())
    await conn.execute(
        "INSERT INTO registered_products (registration_number, subscriber_id, subscriber_code, article, "
        "product_name, edition, configurations, its_required, purchase_date, active_from, updated_at) "
        "VALUES ('8000000000001', $1, $2, '4601546041807', 'Accounting PROF', 'PROF', $3, true, $4, $5, $5)",
        subscriber_id,
        code,
        configurations,
        now.date() - timedelta(days=400),
        now - timedelta(days=400),
    )
    await conn.execute(
        "INSERT INTO contract_coverage (contract_id, registration_number, period_from, period_to) "
        "VALUES ($1, '8000000000001', $2, $3)",
        uuid.uuid4(),
        str(month.plus(-6)),
        str(month.plus(6)),
    )
