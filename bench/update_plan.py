"""`POST /v1/update-plan` (UPD-5) requests/s on a 5,000-release catalogue, vs a bare aiohttp JSON handler.

updates runs as in production (`python -m services.updates`, its own database and vhost, logging at INFO
into a file, one process). The catalogue is prepared directly (a benchmark may prepare state): 5,000
published releases of one configuration from `services.updates.plan.synthetic_releases` (three branching
lines, prereleases, cumulative updates), one update kit each, and platform releases covering their minimum
platform versions, inserted into updates.releases/kits; the subscriber holds the configuration through a
PROF product covered by a contract this month (registered_products, contract_coverage), so every step is
entitled and every kit gets a signed link. The token is signed here with a test key (tests/tokens.py),
served as JWKS by this process: identity is not running and takes no CPU from the service.

The requests ask, in turn, for the plans of clients some way behind: from the release 5, 10, 25, 50,
100, 150, 200 and 300 releases before the newest, to the newest (chains of 2 to about 50 steps; from the
oldest release it would be 662 steps and 400 kB, which no client that updates at all would ask). The
reference is a tiny aiohttp app in its own process that parses the same JSON bodies and answers each with
the very document updates answered to it (serialised per request). The load comes from `wrk` (Lua script
for the POST) with 200 connections, rounds alternating between the servers after a warm-up; the figure
is the median throughput, the target at least 0.5 times the reference (issue 19).

Latency: in the throughput rounds every connection sends its next request as soon as the answer comes,
so by Little's law the latency there is 200 / throughput, whatever the server does. The p99 target
(< 20 ms at 200 concurrent clients) is measured as clients behave: 200 connections, each pausing between
requests so that together they offer half of the measured throughput (`wrk --latency`, Lua `delay`),
for a minute: the time updates keeps its catalogue cached, so the phase holds one reload of it.

    python -m bench.update_plan serve-bare PORT DOCUMENT_FILE     the reference server
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import asyncpg
from aiohttp import web

from bench.common import (
    THREADS,
    CpuPerRequest,
    Process,
    Result,
    TestStack,
    entitle_subscriber,
    free_port,
    have_wrk,
    lua_string,
    median,
    migrate_schema,
    per_round,
    run_wrk,
    service_process,
    spread,
    throwaway_stack,
    wrk_latency_ms,
)
from bench.contracts_post import jwks_server
from services.updates.api_models import UpdatePlan
from services.updates.public import database, synthetic_releases
from services.updates.versions import Version
from shared.service_main import serve
from tests.tokens import TestKeys

TARGET = 0.5  # issue 19
P99_LIMIT_MS = 20.0
RELEASES = 5_000
SEED = 6
CONNECTIONS = 200
ROUND_SECONDS = 5
WARMUP_SECONDS = 2
# The paced phase lasts as long as updates keeps its catalogue cached (graphs.CACHE_SECONDS), so that it
# holds one reload of the 5,000 releases, as every minute of a replica's life does.
PACED_SECONDS = 60
CONFIGURATION = "ACC"
BEHIND = (5, 10, 25, 50, 100, 150, 200, 300)  # the clients' versions: this many releases before the newest
PLATFORM = "8.3.20.1000"
PLATFORM_VERSIONS = [f"8.3.{minor}.2000" for minor in range(20, 30)]  # above every synthetic min_platform


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    requests: int
    p99_ms: float
    p50_ms: float


# ---- the catalogue ----------------------------------------------------------------------------------


def _sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def prepare(stack: TestStack, size: int = RELEASES) -> tuple[uuid.UUID, str, list[str]]:
    """The updates schema with a catalogue of `size` releases and one entitled subscriber: (subscriber id, code,
    the clients' versions)."""
    await migrate_schema(stack, database())
    _, schema = database()
    releases = synthetic_releases(size, SEED)
    now = datetime.now(UTC)
    first_day = date(2020, 1, 1)
    release_rows: list[tuple[Any, ...]] = []
    kit_rows: list[tuple[Any, ...]] = []
    for n, r in enumerate(releases):
        published = now - timedelta(minutes=size - n)  # minutes, not days: 50,000 days would reach 1889
        release_rows.append(
            (
                r.release_id,
                "configuration",
                CONFIGURATION,
                str(r.version),
                list(r.version.key),
                first_day + timedelta(days=n),
                f"ITS-{n}",
                r.prerelease,
                str(r.min_platform) if r.min_platform else None,
                [str(v) for v in r.updates_from],
                None,
                "published",
                published,
                published,
                published,
            )
        )
        kit_rows.append(
            (uuid.uuid4(), r.release_id, "1Cv8.cfu", "update", None, None, 40_000_000 + n, _sha256_of(str(r.version)))
        )
    for n, version in enumerate(PLATFORM_VERSIONS):
        release_id = uuid.uuid4()
        published = now - timedelta(days=len(PLATFORM_VERSIONS) - n)
        key = [int(part) for part in version.split(".")]
        release_rows.append(
            (
                release_id,
                "platform",
                None,
                version,
                key,
                first_day + timedelta(days=n),
                f"PLT-{n}",
                False,
                None,
                [],
                "recommended",
                "published",
                published,
                published,
                published,
            )
        )
        for os_name in ("linux", "windows"):
            name = f"setup-{version}-{os_name}.zip"
            kit_rows.append(
                (uuid.uuid4(), release_id, name, "platform", os_name, "x86_64", 300_000_000, _sha256_of(name))
            )
    subscriber_id, code = uuid.uuid4(), "BENCH-0001"
    conn = await asyncpg.connect(stack.database_url, server_settings={"search_path": schema})
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "releases",
                columns=[
                    "id",
                    "kind",
                    "configuration",
                    "version",
                    "version_key",
                    "release_date",
                    "its_issue",
                    "prerelease",
                    "min_platform",
                    "updates_from",
                    "grade",
                    "state",
                    "created_at",
                    "updated_at",
                    "published_at",
                ],
                records=release_rows,
            )
            await conn.copy_records_to_table(
                "kits",
                columns=["id", "release_id", "name", "kind", "os", "arch", "size", "sha256"],
                records=kit_rows,
            )
            await conn.execute(
                "INSERT INTO configurations (code, name, updated_at) VALUES ($1, 'Accounting', $2)", CONFIGURATION, now
            )
            await entitle_subscriber(conn, subscriber_id, code, [CONFIGURATION], now)
        await conn.execute("ANALYZE releases; ANALYZE kits")
    finally:
        await conn.close()
    return subscriber_id, code, clients_versions(releases)


class _Release(Protocol):
    """What the clients' versions need of a synthetic release."""

    @property
    def version(self) -> Version: ...
    @property
    def updates_from(self) -> tuple[Version, ...]: ...
    @property
    def prerelease(self) -> bool: ...


def clients_versions(releases: Sequence[_Release]) -> list[str]:
    """The clients' versions (BEHIND releases before the newest), each moved to the next
    newer release where no chain leads from it to the newest (in a small catalogue an older line may have none)."""
    target = max(r.version for r in releases if not r.prerelease)
    # Backwards from the newest: every version from which a chain of newer, non-prerelease releases leads there.
    leads_to: dict[Version, list[Version]] = {}
    for r in releases:
        if not r.prerelease:
            for source in r.updates_from:
                if source < r.version:
                    leads_to.setdefault(r.version, []).append(source)
    reach, frontier = {target}, [target]
    while frontier:
        frontier = list({s for v in frontier for s in leads_to.get(v, ()) if s not in reach})
        reach.update(frontier)
    versions = []
    for behind in BEHIND:
        at = max(len(releases) - 1 - behind, 0)
        while releases[at].version not in reach:
            at += 1
        versions.append(str(releases[at].version))
    return versions


# ---- the reference server ---------------------------------------------------------------------------


def bare_app(documents: dict[str, Any]) -> web.Application:
    """Answers a plan request with the document updates answered for its version."""

    async def plan(request: web.Request) -> web.Response:
        body = await request.json()
        if not isinstance(body, dict) or body.get("version") not in documents:
            return web.json_response({"title": "bad request"}, status=422)
        return web.json_response(documents[body["version"]])

    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.router.add_post("/v1/update-plan", plan)
    app.router.add_get("/readyz", ready)
    return app


def serve_bare(port: int, documents_file: str) -> None:
    documents = json.loads(Path(documents_file).read_text())
    serve(bare_app(documents), host="127.0.0.1", port=port)


# ---- wrk --------------------------------------------------------------------------------------------


def wrk_script(bodies: list[str], token: str, delay_ms: float | None) -> str:
    """wrk's POSTs of `bodies` in turn; with `delay_ms`, each connection pauses about that long (±50 %)
    between its requests."""
    pause = ""
    if delay_ms:
        pause = f"function delay()\n  return math.random({int(delay_ms * 0.5)}, {int(delay_ms * 1.5)})\nend\n"
    return f"""
local bodies = {{{", ".join(lua_string(body) for body in bodies)}}}
local headers = {{
  ["Content-Type"] = "application/json",
  ["Authorization"] = {lua_string("Bearer " + token)},
}}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", nil, headers, bodies[counter % #bodies + 1])
end
{pause}"""


# wrk gives up on an answer after 2 s by default: at saturation, with every connection busy, the queue of a busy
# machine can hold an answer that long, and that is a figure of the saturated round (its p99), not a failure.
WRK_TIMEOUT = "10s"


async def wrk(url: str, seconds: int, script: Path) -> Load:
    argv = [
        "wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", WRK_TIMEOUT, "--latency",
        "-s", str(script), url,
    ]  # fmt: skip
    load, output = await run_wrk(argv)
    if load.bad:
        raise RuntimeError(f"{url}: {load.bad} of {load.requests} requests failed: {output}")
    return Load(load.requests_per_second, load.requests, wrk_latency_ms(output, "99"), wrk_latency_ms(output, "50"))


# ---- the benchmark ----------------------------------------------------------------------------------


async def check_plan(url: str, body: str, token: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as response:
        answer: dict[str, Any] = await response.json(content_type=None)
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}: {answer}")
    if "steps" in answer and UpdatePlan.model_validate(answer).model_dump(mode="json") != answer:
        raise RuntimeError(f"{url} answered other than the documented UpdatePlan: {str(answer)[:500]}")
    return answer


@contextlib.asynccontextmanager
async def bare_server(stack: TestStack, documents: dict[str, Any]) -> AsyncIterator[tuple[Process, str]]:
    """The reference server answering `documents` by version, and its update-plan URL."""
    document_file = stack.var_dir / "plans.json"
    document_file.write_text(json.dumps(documents))
    port = free_port()
    process = Process(
        [sys.executable, "-m", "bench.update_plan", "serve-bare", str(port), str(document_file)],
        ready_url=f"http://127.0.0.1:{port}/readyz",
        log_path=stack.var_dir / "log" / "bare.log",
    )
    await process.start()
    try:
        yield process, f"http://127.0.0.1:{port}/v1/update-plan"
    finally:
        await process.stop()


@contextlib.asynccontextmanager
async def bare_process(stack: TestStack, documents: dict[str, Any]) -> AsyncIterator[str]:
    async with bare_server(stack, documents) as (_, url):
        yield url


async def run(*, rounds: int = 5, seconds: int = ROUND_SECONDS, paced_seconds: int = PACED_SECONDS) -> Result:
    if not have_wrk():
        raise RuntimeError("this benchmark needs wrk (apt-get install wrk) for its POSTs and latencies")
    keys = TestKeys()
    rates: dict[str, list[float]] = {"updates": [], "bare": []}
    saturated_p99: dict[str, list[float]] = {"updates": [], "bare": []}
    async with throwaway_stack("update_plan", migrate_identity=False) as stack, jwks_server(keys) as jwks_url:
        subscriber_id, code, versions = await prepare(stack)
        subscriber = {"id": str(subscriber_id), "code": code, "role": "owner", "rights": []}
        token = keys.token(scope="", subscriber=subscriber, role="customer", login="bench", ttl=86_400)
        bodies = [
            json.dumps({"configuration": CONFIGURATION, "version": version, "platform_version": PLATFORM})
            for version in versions
        ]
        async with service_process(stack, "updates", ITS_JWKS_URL=jwks_url) as updates:
            urls = {"updates": f"{updates.url}/v1/update-plan"}
            documents = {}
            for version, body in zip(versions, bodies, strict=True):
                documents[version] = document = await check_plan(urls["updates"], body, token)
                if not document["steps"] or not all(step["entitled"] for step in document["steps"]):
                    raise RuntimeError(f"the plan should be a chain of entitled steps: {str(document)[:500]}")
            steps = [len(document["steps"]) for document in documents.values()]
            sizes = [len(json.dumps(document)) for document in documents.values()]
            async with bare_server(stack, documents) as (bare, bare_url):
                urls["bare"] = bare_url
                cpu = CpuPerRequest({"updates": updates.pid, "bare": bare.pid})
                await check_plan(bare_url, bodies[0], token)
                saturate = stack.var_dir / "saturate.lua"
                saturate.write_text(wrk_script(bodies, token, None))
                for url in urls.values():
                    await wrk(url, WARMUP_SECONDS, saturate)
                for _ in range(rounds):
                    for name, url in urls.items():
                        async with cpu.round(name) as served:
                            load = await wrk(url, seconds, saturate)
                            served.append(load.requests)
                        rates[name].append(load.requests_per_second)
                        saturated_p99[name].append(load.p99_ms)
                # Clients with pauses, offering half of what updates managed: each connection waits
                # about CONNECTIONS / (rate / 2) seconds between its requests.
                offered = median(rates["updates"]) / 2
                paced_script = stack.var_dir / "paced.lua"
                paced_script.write_text(wrk_script(bodies, token, 1000 * CONNECTIONS / offered))
                paced = await wrk(urls["updates"], paced_seconds, paced_script)
    ratios = [u / b for u, b in zip(rates["updates"], rates["bare"], strict=True)]
    p99_verdict = "PASS" if paced.p99_ms < P99_LIMIT_MS else "BELOW"
    return Result(
        rounds=list(ratios),
        name="POST /v1/update-plan",
        figure=median(rates["updates"]),
        reference=median(rates["bare"]),
        unit="req/s",
        figure_label=f"updates, {RELEASES:,} releases",
        reference_label="bare aiohttp JSON, same answers",
        target=TARGET,
        details=[
            f"wrk -t{THREADS} -c{CONNECTIONS} --latency, {seconds} s a round, {rounds} rounds alternating, "
            f"after {WARMUP_SECONDS} s warm-up each; one process each",
            f"updates req/s: {spread(rates['updates'])}",
            f"bare req/s:    {spread(rates['bare'])}",
            per_round(ratios),
            cpu.line("updates", "bare"),
            f"plans from {len(versions)} versions ({', '.join(map(str, BEHIND))} releases behind the newest) in turn: "
            f"{min(steps)} to {max(steps)} steps (mean {sum(steps) / len(steps):.0f}), "
            f"{min(sizes):,} to {max(sizes):,} bytes of JSON with a signed link per kit",
            f"p99 with {CONNECTIONS} clients pausing between requests so as to offer half the throughput "
            f"({paced.requests_per_second:,.0f} req/s came), for {paced_seconds} s: {paced.p99_ms:.1f} ms "
            f"(p50 {paced.p50_ms:.1f} ms); target < {P99_LIMIT_MS:.0f} ms: {p99_verdict}",
            f"p99 at saturation (every connection busy; 200 / throughput by Little's law): updates "
            f"{median(saturated_p99['updates']):.0f} ms, bare {median(saturated_p99['bare']):.0f} ms",
        ],
    )


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve-bare"] and len(argv) == 3:
        serve_bare(int(argv[1]), argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
