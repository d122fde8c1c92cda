"""Partner contracts accepted a second: `POST /v1/contracts` through the contracts service, vs one INSERT.

contracts runs as in production (`python -m services.contracts`, its own database and vhost, logging at
INFO into a file, one process). Every request is a new contract: a fresh `Idempotency-Key` and a fresh
contract number, for one of 10,000 registration numbers, with one additional number. So each POST does
what a partner's POST does: the token verified, the key locked and looked up, the numbers checked, the
contract, its numbers, the processing job, the `contracts.contract.received` event (published by the
relay meanwhile) and the answer to replay stored, in one transaction.

Prepared directly (a benchmark may prepare state): the registration numbers are inserted into the
contracts schema's read model `numbers`, and the partner into `partners`, instead of arriving as
registration's and identity's events. Tokens: the partner's token is signed here with a test key
(tests/tokens.py TestKeys); contracts fetches the public key from a tiny JWKS server that this process
serves (`ITS_JWKS_URL`), so identity is not running and takes no CPU from the service.

The reference, in the same run: a minimal aiohttp app, also one process (`web.run_app`, no access log),
whose handler parses the same JSON body and INSERTs it (key, number, body as jsonb) into a table through
an asyncpg pool of the service's pool size. The load comes from `wrk` with a Lua script generating the
unique keys and numbers (or, where wrk is missing, from a Python aiohttp generator in its own process),
the same for both; rounds alternate between the servers. Target: the service at ≥ 0.35x the reference (issue 19).

    python -m bench.contracts_post serve-reference PORT DB_URL               the reference server
    python -m bench.contracts_post load URL SECONDS CONNS TOKEN PREFIX       the fallback load generator
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from jwt.algorithms import OKPAlgorithm

from bench.common import (
    THREADS,
    Load,
    Process,
    Result,
    TestStack,
    free_port,
    generate_load,
    have_wrk,
    lua_string,
    median,
    migrate_schema,
    per_round,
    rounds_line,
    run_python_load,
    run_wrk,
    service_process,
    spread,
    throwaway_stack,
)
from rules.months import Month
from services.contracts.public import ContractsSettings, database
from shared.service_main import serve
from shared.settings import BaseServiceSettings
from tests.tokens import TestKeys

TARGET = 0.35  # issue 19
CONNECTIONS = 32
ROUND_SECONDS = 5
WARMUP_SECONDS = 2
NUMBERS = 10_000  # registration numbers in the read model; a request names two of them
NUMBER_BASE = 7_000_000_000
REFERENCE_SCHEMA = "bench_reference"  # the reference's table `posted`
_, SCHEMA = database()
DEFAULTS = BaseServiceSettings()
PARTNER_NAME = "Bench Partner LLC"


# ---- the request body -------------------------------------------------------------------------


def body_parts(current: Month) -> tuple[str, str, str, str]:
    """The JSON body around three holes: the contract number, the main and the additional number."""
    marker = "\x00"
    body = {
        "number": marker,
        "organisation": {"name": "OOO Romashka", "tin": "7707083893", "kpp": "773601001"},
        "main_registration_number": marker,
        "additional_registration_numbers": [marker],
        "period": {"from": str(current), "to": str(current.plus(11))},
        "kind": "ITS PROF",
    }
    first, second, third, fourth = json.dumps(body, separators=(",", ":")).split(json.dumps(marker))
    return first + '"', '"' + second + '"', '"' + third + '"', '"' + fourth


def request_body(parts: tuple[str, str, str, str], prefix: str, n: int) -> str:
    """The body of request n: contract number `<prefix>-<n>`, two of the registration numbers."""
    main, additional = NUMBER_BASE + n % NUMBERS, NUMBER_BASE + (n + 1) % NUMBERS
    return f"{parts[0]}{prefix}-{n}{parts[1]}{main}{parts[2]}{additional}{parts[3]}"


def current_month() -> Month:
    return Month.of(datetime.now(UTC).astimezone(ContractsSettings().vendor_zone).date())


# ---- the reference server ----------------------------------------------------------------------


def reference_app(database_url: str) -> web.Application:
    pools: list[asyncpg.Pool[asyncpg.Record]] = []

    async def setup(app: web.Application) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(
            database_url,
            min_size=DEFAULTS.db_pool_min,
            max_size=DEFAULTS.db_pool_max,
            server_settings={"search_path": REFERENCE_SCHEMA},
        )
        assert pool is not None
        pools.append(pool)
        yield
        await pool.close()

    async def post(request: web.Request) -> web.Response:
        body = await request.json()
        contract_id = uuid.uuid4()
        async with pools[0].acquire() as conn:
            await conn.execute(
                "INSERT INTO posted (id, key, number, body) VALUES ($1, $2, $3, $4::jsonb)",
                contract_id,
                request.headers.get("Idempotency-Key", ""),
                body["number"],
                json.dumps(body),
            )
        return web.json_response({"id": str(contract_id), "state": "processing"}, status=202)

    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.cleanup_ctx.append(setup)
    app.router.add_post("/v1/contracts", post)
    app.router.add_get("/readyz", ready)
    return app


def serve_reference(port: int, database_url: str) -> None:
    serve(reference_app(database_url), host="127.0.0.1", port=port)


# ---- the JWKS server ---------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def jwks_server(keys: TestKeys) -> AsyncIterator[str]:
    """Serves the test key as a JWKS document in this process; yields its URL."""
    jwk = {**OKPAlgorithm.to_jwk(keys.private_key.public_key(), as_dict=True), "kid": keys.kid, "alg": "EdDSA"}

    async def document(request: web.Request) -> web.Response:
        return web.json_response({"keys": [jwk]})

    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", document)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/.well-known/jwks.json"
    finally:
        await runner.cleanup()


# ---- load generators ---------------------------------------------------------------------------


def wrk_script(parts: tuple[str, str, str, str], token: str, prefix: str) -> str:
    """A wrk script: every request a new Idempotency-Key and contract number `<prefix>-<thread>-<n>`."""
    return f"""
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local counter = 0
local numbers, base = {NUMBERS}, {NUMBER_BASE}
local p1, p2, p3, p4 = {", ".join(lua_string(p) for p in parts)}
local headers = {{
  ["Content-Type"] = "application/json",
  ["Authorization"] = {lua_string("Bearer " + token)},
}}
request = function()
  counter = counter + 1
  local n = string.format("{prefix}-%d-%d", tid, counter)
  local main = base + (counter % numbers)
  local additional = base + ((counter + 1) % numbers)
  headers["Idempotency-Key"] = n
  local body = p1 .. n .. p2 .. string.format("%d", main) .. p3 .. string.format("%d", additional) .. p4
  return wrk.format("POST", nil, headers, body)
end
"""


async def wrk(url: str, seconds: int, token: str, prefix: str, parts: tuple[str, str, str, str], work: Path) -> Load:
    script = work / f"post-{prefix}.lua"
    script.write_text(wrk_script(parts, token, prefix))
    argv = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script), url]
    try:
        load, _ = await run_wrk(argv)
    finally:
        script.unlink()
    return load


async def python_load(url: str, seconds: int, token: str, prefix: str) -> Load:
    """The fallback: the generator below, run in a process of its own."""
    argv = [sys.executable, "-m", "bench.contracts_post", "load", url, str(seconds), str(CONNECTIONS), token, prefix]
    return await run_python_load(argv)


async def post_load(url: str, seconds: int, connections: int, token: str, prefix: str) -> dict[str, Any]:
    parts = body_parts(current_month())
    sent = 0

    async def send(http: aiohttp.ClientSession) -> int:
        nonlocal sent
        sent += 1
        key = f"{prefix}-{sent}"
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        }
        async with http.post(url, data=request_body(parts, prefix, sent), headers=headers) as response:
            await response.read()
            return response.status

    return await generate_load(seconds, connections, send)


# ---- the benchmark -----------------------------------------------------------------------------


class Loader:
    """Runs load rounds with a new prefix each, so that every key and contract number is new."""

    def __init__(self, token: str, parts: tuple[str, str, str, str], work: Path) -> None:
        self.token, self.parts, self.work = token, parts, work
        self.rounds = 0

    async def load(self, url: str, seconds: int) -> Load:
        self.rounds += 1
        prefix = f"B{uuid.uuid4().hex[:8]}r{self.rounds}"
        if have_wrk():
            result = await wrk(url, seconds, self.token, prefix, self.parts, self.work)
        else:
            result = await python_load(url, seconds, self.token, prefix)
        if result.bad:
            raise RuntimeError(f"{url}: {result.bad} of {result.requests} requests failed")
        return result


async def prepare(stack: TestStack, partner_id: uuid.UUID) -> None:
    """The contracts schema migrated; its read models hold the partner and the registration numbers;
    the reference's table."""
    await migrate_schema(stack, database())
    conn = await _connect(stack)
    try:
        await conn.execute(
            "INSERT INTO partners (id, name, contact_email) VALUES ($1, $2, 'partner@example.com')",
            partner_id,
            PARTNER_NAME,
        )
        await conn.copy_records_to_table(
            "numbers",
            columns=["number", "article", "edition"],
            records=[(str(NUMBER_BASE + i), "4601546041807", "PROF") for i in range(NUMBERS)],
        )
        await conn.execute("CREATE SCHEMA bench_reference")
        await conn.execute(
            "CREATE TABLE bench_reference.posted (id uuid PRIMARY KEY, key text NOT NULL, number text NOT NULL, "
            "body jsonb NOT NULL)"
        )
    finally:
        await conn.close()


async def _connect(stack: TestStack) -> asyncpg.Connection[asyncpg.Record]:
    """A connection to the contracts schema (and the reference's, after it)."""
    return await asyncpg.connect(stack.database_url, server_settings={"search_path": f"{SCHEMA},{REFERENCE_SCHEMA}"})


async def check_one(url: str, token: str, parts: tuple[str, str, str, str]) -> None:
    """One POST answered 202: the token, the body and the numbers are right."""
    prefix = f"check{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": prefix}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=request_body(parts, prefix, 1), headers=headers) as response,
    ):
        if response.status != 202:
            raise RuntimeError(f"{url} answered {response.status}: {await response.text()}")


async def counts(stack: TestStack) -> tuple[int, int, int]:
    """(contracts stored, idempotency keys stored, rows of the reference)."""
    conn = await _connect(stack)
    try:
        contracts = await conn.fetchval("SELECT count(*) FROM contracts")
        keys = await conn.fetchval("SELECT count(*) FROM idempotency_keys")
        reference = await conn.fetchval("SELECT count(*) FROM posted")
    finally:
        await conn.close()
    return int(contracts), int(keys), int(reference)


async def run(*, rounds: int = 5, seconds: int = ROUND_SECONDS) -> Result:
    generator = (
        f"wrk -t{THREADS} -c{CONNECTIONS} + Lua" if have_wrk() else f"Python aiohttp generator, {CONNECTIONS} conns"
    )
    keys = TestKeys()
    partner_id = uuid.uuid4()
    token = keys.token(role="partner", scope="partner", partner={"id": str(partner_id), "admin": False}, ttl=86_400)
    parts = body_parts(current_month())
    rates: dict[str, list[float]] = {"contracts": [], "reference": []}
    totals = {"contracts": 0, "reference": 0}
    async with throwaway_stack("contracts_post", migrate_identity=False) as stack, jwks_server(keys) as jwks_url:
        await prepare(stack, partner_id)
        async with service_process(stack, "contracts", ITS_JWKS_URL=jwks_url) as contracts:
            port = free_port()
            reference = Process(
                [sys.executable, "-m", "bench.contracts_post", "serve-reference", str(port), stack.database_url],
                ready_url=f"http://127.0.0.1:{port}/readyz",
                log_path=stack.var_dir / "log" / "reference.log",
            )
            await reference.start()
            try:
                urls = {
                    "contracts": f"{contracts.url}/v1/contracts",
                    "reference": f"http://127.0.0.1:{port}/v1/contracts",
                }
                for url in urls.values():
                    await check_one(url, token, parts)
                loader = Loader(token, parts, stack.var_dir)
                for url in urls.values():
                    await loader.load(url, WARMUP_SECONDS)
                before = await counts(stack)
                for _ in range(rounds):
                    for name, url in urls.items():
                        result = await loader.load(url, seconds)
                        rates[name].append(result.requests_per_second)
                        totals[name] += result.requests
                after = await counts(stack)
            finally:
                await reference.stop()
    stored = {"contracts": after[0] - before[0], "keys": after[1] - before[1], "reference": after[2] - before[2]}
    # wrk counts the answers that came within the round; a request still in flight at its end may be stored
    # without being counted, never the other way round — the warm-up's last ones too, after `before` was read.
    in_flight = CONNECTIONS * (rounds + 1)
    if not (totals["contracts"] <= stored["contracts"] == stored["keys"] <= totals["contracts"] + in_flight):
        raise RuntimeError(f"contracts stored {stored} for {totals['contracts']} accepted POSTs")
    if not totals["reference"] <= stored["reference"] <= totals["reference"] + in_flight:
        raise RuntimeError(f"reference stored {stored['reference']} rows for {totals['reference']} POSTs")
    ratios = [c / r for c, r in zip(rates["contracts"], rates["reference"], strict=True)]
    return Result(
        rounds=list(ratios),
        name="POST /v1/contracts",
        figure=median(rates["contracts"]),
        reference=median(rates["reference"]),
        unit="req/s",
        figure_label="contracts, new key + number each",
        reference_label="aiohttp + one asyncpg INSERT",
        target=TARGET,
        details=[
            rounds_line(generator, seconds, rounds, WARMUP_SECONDS)
            + f"; one process each, pool {DEFAULTS.db_pool_min}..{DEFAULTS.db_pool_max}",
            f"contracts POST req/s (202): {spread(rates['contracts'])}",
            f"reference req/s (202):      {spread(rates['reference'])}",
            per_round(ratios),
            f"stored in the timed rounds: {stored['contracts']:,} contracts with {stored['keys']:,} idempotency keys "
            f"for {totals['contracts']:,} answers; {stored['reference']:,} reference rows",
            "prepared directly: 10,000 registration numbers in contracts.numbers, the partner in contracts.partners; "
            "token signed with a test key served as JWKS by the benchmark (identity not running)",
        ],
    )


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve-reference"] and len(argv) == 3:
        serve_reference(int(argv[1]), argv[2])
    elif argv[:1] == ["load"] and len(argv) == 6:
        result = asyncio.run(post_load(argv[1], int(argv[2]), int(argv[3]), argv[4], argv[5]))
        print(json.dumps(result))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
