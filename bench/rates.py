"""`GET /v1/rates` (DAT-1): a whole history in one answer, and many client programs asking for yesterday's rates.

updates runs as in production (`python -m services.updates`, its own database and vhost, one process). The rates
are prepared directly (a benchmark may prepare state): 34 currencies on every business day since 1991 (the demo's
generator, devtools.demo.rates: some 300,000 rows), and a subscriber entitled to them (a PROF product covered by a
contract this month). The token is signed here with a test key, served as JWKS by this process.

(a) The whole history of the 34 currencies, 1991-01-01 to today, in one answer (~450,000 rows, ~17 MB of JSON):
    the time to receive it from updates, beside a bare aiohttp handler answering the same bytes from memory, rounds
    alternating; and updates' peak RSS (VmHWM) while it answers, beside the answer's size — the figure: streamed
    through a cursor, the answer is never held whole, so the peak grows by a small part of the answer (target: at
    most TARGET_MEMORY of it).
(b) 1,000 client programs asking "since yesterday" for 5 currencies (10 rows): `wrk` with 1,000 connections, first
    saturating (throughput, rounds alternating with the bare handler answering the same bytes), then each
    connection pausing between requests so that together they offer half of updates' throughput, to updates and to
    the bare handler alike; the figure is updates' p99 beside the bare one's, target < 20 ms.

    python -m bench.rates serve-bare PORT DIR     the reference server (DIR/full.json, DIR/since.json)
"""

from __future__ import annotations

import contextlib
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

from bench.common import (
    THREADS,
    Process,
    Result,
    TestStack,
    entitle_subscriber,
    free_port,
    have_wrk,
    lua_string,
    median,
    migrate_schema,
    run_wrk,
    service_process,
    spread,
    throwaway_stack,
    wrk_latency_ms,
)
from bench.contracts_post import jwks_server
from devtools.demo.rates import generated_rates_csv
from services.updates.public import RATE_CURRENCIES, database
from shared.clock import local_date
from shared.service_main import serve
from shared.settings import BaseServiceSettings
from tests.tokens import TestKeys

CURRENCIES = tuple(RATE_CURRENCIES)[:34]
SINCE_CURRENCIES = "USD,EUR,GBP,JPY,CNY"
TARGET_MEMORY = 0.5  # the peak RSS grows by at most half of the answer's size
P99_LIMIT_MS = 20.0
CONNECTIONS = 1_000
ROUND_SECONDS = 5
WARMUP_SECONDS = 2
PACED_SECONDS = 20


async def prepare(stack: TestStack, today: datetime) -> tuple[uuid.UUID, int]:
    """The rates and one entitled subscriber: (subscriber id, rows)."""
    await migrate_schema(stack, database())
    _, schema = database()
    lines = generated_rates_csv(CURRENCIES, last=today.date() - timedelta(days=1)).decode().splitlines()[1:]
    rows = []
    for line in lines:
        day, code, nominal, value = line.split(",")
        rows.append((code, datetime.fromisoformat(day).date(), int(nominal), Decimal(value), 1))
    subscriber_id = uuid.uuid4()
    conn = await asyncpg.connect(stack.database_url, server_settings={"search_path": schema})
    try:
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO currencies (char_code, num_code, name) VALUES ($1, $2, $3)",
                [(c, RATE_CURRENCIES[c].num_code, RATE_CURRENCIES[c].name) for c in CURRENCIES],
            )
            await conn.execute(
                "INSERT INTO rate_imports (id, source, format, sha256, imported_at, days, currencies, rows_added, "
                "rows_corrected, rows_unchanged) VALUES (1, 'bench', 'csv', $1, $2, 0, 34, $3, 0, 0)",
                "0" * 64,
                today,
                len(rows),
            )
            await conn.copy_records_to_table(
                "exchange_rates", columns=["currency", "day", "nominal", "value", "import_id"], records=rows
            )
            await entitle_subscriber(conn, subscriber_id, "BENCH-0001", ["ACC"], today)
        await conn.execute("ANALYZE exchange_rates")
    finally:
        await conn.close()
    return subscriber_id, len(rows)


# ---- the reference server ---------------------------------------------------------------------------


def bare_app(directory: Path) -> web.Application:
    """Answers /full and /since with the bytes updates answered, from memory."""
    full, since = (directory / "full.json").read_bytes(), (directory / "since.json").read_bytes()

    async def answer_full(request: web.Request) -> web.Response:
        return web.Response(body=full, content_type="application/json")

    async def answer_since(request: web.Request) -> web.Response:
        return web.Response(body=since, content_type="application/json")

    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.router.add_get("/full", answer_full)
    app.router.add_get("/since", answer_since)
    app.router.add_get("/readyz", ready)
    return app


# ---- measuring --------------------------------------------------------------------------------------


def memory_kib(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (the peak so far) of process `pid`, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


async def fetch(http: aiohttp.ClientSession, url: str, token: str) -> tuple[float, bytes]:
    started = time.monotonic()
    async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
        body = await response.read()
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}: {body[:500]!r}")
    return time.monotonic() - started, body


def get_script(token: str, delay_ms: float | None) -> str:
    pause = ""
    if delay_ms:
        pause = f"function delay()\n  return math.random({int(delay_ms * 0.5)}, {int(delay_ms * 1.5)})\nend\n"
    return f'wrk.headers["Authorization"] = {lua_string("Bearer " + token)}\n{pause}'


async def wrk_get(url: str, seconds: int, script: Path) -> tuple[float, float]:
    """(requests/s, p99 ms) of `seconds` of GETs of `url` over CONNECTIONS connections."""
    argv = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "--latency", "-s",
            str(script), url]  # fmt: skip
    load, output = await run_wrk(argv)
    if load.bad:
        raise RuntimeError(f"{url}: {load.bad} of {load.requests} requests failed: {output}")
    return load.requests_per_second, wrk_latency_ms(output, "99")


# ---- the benchmark ----------------------------------------------------------------------------------


@dataclass
class Served:
    """updates and the bare server, both answering; what was asked and answered."""

    updates_pid: int
    http: aiohttp.ClientSession
    token: str
    urls: dict[str, dict[str, str]]  # "full" | "since" -> server -> URL
    full_body: bytes
    stored: int
    rss_before: int
    peak: int
    var_dir: Path


@contextlib.asynccontextmanager
async def served() -> AsyncIterator[Served]:
    keys = TestKeys()
    now = datetime.now(UTC)
    today = local_date(now, BaseServiceSettings().vendor_zone)
    async with throwaway_stack("rates", migrate_identity=False) as stack, jwks_server(keys) as jwks_url:
        subscriber_id, stored = await prepare(stack, now)
        subscriber = {"id": str(subscriber_id), "code": "BENCH-0001", "role": "owner", "rights": []}
        token = keys.token(scope="", subscriber=subscriber, role="customer", login="bench", ttl=86_400)
        full_query = f"currencies={','.join(CURRENCIES)}&from=1991-01-01&to={today}"
        since_query = f"currencies={SINCE_CURRENCIES}&since={today - timedelta(days=1)}"
        async with service_process(stack, "updates", ITS_JWKS_URL=jwks_url) as updates, aiohttp.ClientSession() as http:
            base = f"{updates.url}/v1/rates?"
            _, since_body = await fetch(http, base + since_query, token)
            rss_before = memory_kib(updates.pid, "VmRSS")
            _, full_body = await fetch(http, base + full_query, token)
            peak = memory_kib(updates.pid, "VmHWM")
            (stack.var_dir / "full.json").write_bytes(full_body)
            (stack.var_dir / "since.json").write_bytes(since_body)
            port = free_port()
            bare = Process(
                [sys.executable, "-m", "bench.rates", "serve-bare", str(port), str(stack.var_dir)],
                ready_url=f"http://127.0.0.1:{port}/readyz",
                log_path=stack.var_dir / "log" / "bare.log",
            )
            await bare.start()
            try:
                urls = {
                    "full": {"updates": base + full_query, "bare": f"http://127.0.0.1:{port}/full"},
                    "since": {"updates": base + since_query, "bare": f"http://127.0.0.1:{port}/since"},
                }
                yield Served(updates.pid, http, token, urls, full_body, stored, rss_before, peak, stack.var_dir)
            finally:
                await bare.stop()


async def run_history(*, rounds: int = 5) -> Result:
    """(a) The whole history of 34 currencies: updates' peak RSS growth beside the answer's size; time beside bare."""
    times: dict[str, list[float]] = {"updates": [], "bare": []}
    async with served() as s:
        for _ in range(rounds):
            for name, url in s.urls["full"].items():
                took, body = await fetch(s.http, url, s.token)
                if body != s.full_body:
                    raise RuntimeError(f"{name} answered other bytes for the whole history")
                times[name].append(took)
        peak = max(s.peak, memory_kib(s.updates_pid, "VmHWM"))
    growth_mib, answer_mib = (peak - s.rss_before) / 1024, len(s.full_body) / 1024**2
    ratios = [u / b for u, b in zip(times["updates"], times["bare"], strict=True)]
    return Result(
        name="GET /v1/rates, 34 currencies since 1991",
        figure=growth_mib,
        reference=answer_mib,
        unit="MiB",
        figure_label="updates' peak RSS growth",
        reference_label="the answer's size",
        target=TARGET_MEMORY,
        higher_is_better=False,
        details=[
            f"{s.stored:,} stored rows (business days) answered for every calendar day: {len(s.full_body):,} bytes "
            "of JSON, streamed",
            f"time to receive it: updates {spread(times['updates'], '{:.2f} s')}, bare aiohttp (the same bytes from "
            f"memory) {spread(times['bare'], '{:.3f} s')}; {median(ratios):.0f}x, {rounds} rounds alternating",
            f"updates' RSS {s.rss_before / 1024:.0f} MiB before, peak {peak / 1024:.0f} MiB (VmHWM)",
        ],
    )


async def run_since(*, rounds: int = 5, seconds: int = ROUND_SECONDS, paced_seconds: int = PACED_SECONDS) -> Result:
    """(b) 1,000 clients asking since yesterday: updates' p99 beside the bare handler's, at the same offered rate."""
    if not have_wrk():
        raise RuntimeError("this benchmark needs wrk (apt-get install wrk) for its latencies")
    throughput: dict[str, list[float]] = {"updates": [], "bare": []}
    async with served() as s:
        urls = s.urls["since"]
        saturate = s.var_dir / "saturate.lua"
        saturate.write_text(get_script(s.token, None))
        for url in urls.values():
            await wrk_get(url, WARMUP_SECONDS, saturate)
        for _ in range(rounds):
            for name, url in urls.items():
                throughput[name].append((await wrk_get(url, seconds, saturate))[0])
        offered = median(throughput["updates"]) / 2
        paced = s.var_dir / "paced.lua"
        paced.write_text(get_script(s.token, 1000 * CONNECTIONS / offered))
        p99 = {name: (await wrk_get(url, paced_seconds, paced))[1] for name, url in urls.items()}
    return Result(
        name="GET /v1/rates since yesterday, 1,000 clients",
        figure=p99["updates"],
        reference=p99["bare"],
        unit="ms p99",
        figure_label=f"updates, {SINCE_CURRENCIES}",
        reference_label="bare aiohttp, same bytes",
        target=P99_LIMIT_MS / p99["bare"] if p99["bare"] else 0.0,  # the ratio at which updates' p99 is the limit
        higher_is_better=False,
        details=[
            f"wrk -t{THREADS} -c{CONNECTIONS} --latency; saturated {seconds} s a round, {rounds} rounds alternating: "
            f"updates {spread(throughput['updates'])} req/s, bare {spread(throughput['bare'])} req/s",
            f"p99 with {CONNECTIONS} clients pausing between requests to offer {offered:,.0f} req/s (half of updates' "
            f"throughput) for {paced_seconds} s each: updates {p99['updates']:.1f} ms, bare {p99['bare']:.1f} ms; "
            f"target < {P99_LIMIT_MS:.0f} ms: {'PASS' if p99['updates'] < P99_LIMIT_MS else 'BELOW'}",
        ],
    )


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve-bare"] and len(argv) == 3:
        serve(bare_app(Path(argv[2])), host="127.0.0.1", port=int(argv[1]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
