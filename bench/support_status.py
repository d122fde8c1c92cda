"""Support statuses answered a second: `GET /v1/support-status` (MON-1) through contracts, vs a bare JSON handler.

Every installed client program polls it: "is this product supported?". contracts runs as in production
(`python -m services.contracts`, its own database and vhost, logging at INFO into a file, one process). Its read
models hold a realistic catalogue and customer base, written directly (a benchmark may prepare state) instead of
arriving as registration's and identity's events:

- 300 configurations (category 1 or 2) and 300 products, each including one to three of them;
- 1,000 subscribers with 10 registered (active) numbers each, 10,000 in all, one in ten a BASIC edition;
- 50 partners; 20,000 ITS contracts (the number's contract of last year, expired, and this year's, active; one in
  ten numbers has none this year), each listing its main number and often an additional one;
- a maintenance activation for most subscribers' configurations.

contracts keeps the answers it gives until what they were read from changes (support_cache.py): after the first
pass over the numbers every poll is answered from memory, as most of a real day's polls are (a status changes a few
times a year). That pass is made before the rounds (`ask_every_poll`), so that every kept round measures the same
thing. The rounds with nothing kept, each program's first poll after a change, are in the details.

Each request is one program's poll: the token of the number's subscriber (1,000 tokens signed here with a test key
whose JWKS this process serves, so identity is not running) and one of the 10,000 numbers with its product's
configuration (one in ten asks about another configuration). wrk's Lua script walks the numbers in turn.

The reference, in the same run: a bare aiohttp app (`web.run_app` in its own process, no access log) answering
the document contracts answered for one of the numbers, with the same headers; rounds alternate.

    python -m bench.support_status serve-reference PORT DOCUMENT_FILE       the reference server
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from bench.common import (
    THREADS,
    Load,
    Process,
    Result,
    free_port,
    have_wrk,
    lua_string,
    median,
    migrate_schema,
    per_round,
    rounds_line,
    run_wrk,
    service_process,
    spread,
    throwaway_stack,
)
from bench.contracts_post import jwks_server
from bench.contracts_processing import CONTRACT_COLUMNS
from rules.months import Month
from services.contracts.public import SUPPORT_CHANNEL, ContractsSettings, database
from shared.service_main import serve
from tests.tokens import TestKeys

TARGET = 0.35
CONNECTIONS = 32
ROUND_SECONDS = 5
WARMUP_SECONDS = 2
UNKEPT_SECONDS = 2
SUBSCRIBERS = 1_000
NUMBERS_EACH = 10
CONFIGURATIONS = 300
PRODUCTS = 300
PARTNERS = 50
NUMBER_BASE = 8_000_000_000
_, SCHEMA = database()


def current_month() -> Month:
    return Month.of(datetime.now(UTC).astimezone(ContractsSettings().vendor_zone).date())


async def forget_everything(database_url: str) -> None:
    """What any change to every subscriber announces (services.contracts.support_cache.CHANNEL, empty: everyone)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SELECT pg_notify($1, '')", SUPPORT_CHANNEL)
    finally:
        await conn.close()


# ---- the reference server ----------------------------------------------------------------------


def reference_app(document: bytes) -> web.Application:
    async def status(request: web.Request) -> web.Response:
        return web.Response(body=document, content_type="application/json")

    app = web.Application()
    app.router.add_get("/v1/support-status", status)
    return app


def serve_reference(port: int, document_file: str) -> None:
    serve(reference_app(Path(document_file).read_bytes()), host="127.0.0.1", port=port)


# ---- the data ----------------------------------------------------------------------------------


class World:
    """What the read models hold, and each request's (subscriber's token index, number, configuration)."""

    def __init__(self, seed: int = 19) -> None:
        self.random = random.Random(seed)  # noqa: S311 - the same data every run, not a secret
        self.subscribers = [uuid.UUID(int=self.random.getrandbits(128)) for _ in range(SUBSCRIBERS)]
        self.partners = [uuid.UUID(int=self.random.getrandbits(128)) for _ in range(PARTNERS)]
        self.configurations = [f"Config{i:03d}" for i in range(CONFIGURATIONS)]
        self.products = [
            (f"46015{i:08d}", self.random.sample(self.configurations, self.random.randint(1, 3)))
            for i in range(PRODUCTS)
        ]
        self.requests: list[tuple[int, str, str]] = []

    async def write(self, conn: asyncpg.Connection[asyncpg.Record]) -> None:
        rnd, current = self.random, current_month()
        today = date.today()
        await conn.copy_records_to_table(
            "configurations",
            columns=["code", "name", "category"],
            records=[(c, f"Configuration {c}", 1 + i % 2) for i, c in enumerate(self.configurations)],
        )
        await conn.copy_records_to_table(
            "products",
            columns=["article", "name", "edition", "configurations", "its_required"],
            records=[(a, f"Product {a}", "PROF", cs, True) for a, cs in self.products],
        )
        await conn.copy_records_to_table(
            "subscribers",
            columns=["id", "code", "name"],
            records=[(s, f"CL-{i:07d}", f"Subscriber {i}") for i, s in enumerate(self.subscribers)],
        )
        await conn.copy_records_to_table(
            "partners",
            columns=["id", "name", "contact_email"],
            records=[(p, f"Partner {i} LLC", f"partner{i}@example.com") for i, p in enumerate(self.partners)],
        )
        numbers, contracts, contract_numbers, activations = [], [], [], []
        zone = ContractsSettings().vendor_zone
        for s, subscriber in enumerate(self.subscribers):
            configurations: set[str] = set()
            owned: list[str] = []
            for k in range(NUMBERS_EACH):
                number = str(NUMBER_BASE + s * NUMBERS_EACH + k)
                article, product_configurations = rnd.choice(self.products)
                basic = rnd.random() < 0.1
                purchase = today - timedelta(days=rnd.randint(30, 2_000))
                numbers.append(
                    (
                        number,
                        article,
                        "BASIC" if basic else "PROF",
                        subscriber,
                        f"CL-{s:07d}",
                        purchase,
                        not basic,
                        product_configurations,
                        "active",
                    )
                )
                configurations.update(product_configurations)
                owned.append(number)
                asked = product_configurations[0] if rnd.random() < 0.9 else rnd.choice(self.configurations)
                self.requests.append((s, number, asked))
            for k, number in enumerate(owned):
                partner = rnd.choice(self.partners)
                periods = [(current.plus(-12), current.plus(-1), "expired")]
                if rnd.random() < 0.9:
                    periods.append((current.plus(-rnd.randint(0, 6)), current.plus(rnd.randint(0, 11)), "active"))
                for start, end, state in periods:
                    contract_id = uuid.UUID(int=rnd.getrandbits(128))
                    additional = [owned[(k + 1) % len(owned)]] if rnd.random() < 0.5 else []
                    received = datetime.combine(start.first_day, datetime.min.time(), tzinfo=zone) - timedelta(days=3)
                    expires = datetime.combine(end.plus(1).first_day, datetime.min.time(), tzinfo=zone)
                    contracts.append(
                        (
                            contract_id,
                            partner,
                            f"ITS-{contract_id.hex[:10]}",
                            f"CL-{s:07d}",
                            f"Org {s}",
                            "7707083893",
                            None,
                            number,
                            additional,
                            str(start),
                            str(end),
                            "ITS PROF",
                            state,
                            received,
                            received.date() + timedelta(days=1),
                            received + timedelta(days=1),
                            expires,
                            received + timedelta(days=1),
                            expires if state == "expired" else None,
                        )
                    )
                    contract_numbers.append((contract_id, number, True))
                    contract_numbers.extend((contract_id, n, False) for n in additional)
            for configuration in sorted(configurations):
                if rnd.random() < 0.7:
                    start = current.plus(-rnd.randint(0, 11))
                    activations.append(
                        (
                            uuid.UUID(int=rnd.getrandbits(128)),
                            subscriber,
                            configuration,
                            1,
                            str(start),
                            str(start.plus(11)),
                            owned[0],
                            rnd.choice(self.partners),
                            subscriber,
                            datetime.now(UTC) - timedelta(days=30),
                        )
                    )
        await conn.copy_records_to_table(
            "numbers",
            columns=[
                "number",
                "article",
                "edition",
                "subscriber_id",
                "subscriber_code",
                "purchase_date",
                "its_required",
                "configurations",
                "registration",
            ],
            records=numbers,
        )
        await conn.copy_records_to_table("contracts", columns=CONTRACT_COLUMNS, records=contracts)
        await conn.copy_records_to_table(
            "contract_numbers", columns=["contract_id", "registration_number", "is_main"], records=contract_numbers
        )
        await conn.copy_records_to_table(
            "activations",
            columns=[
                "id",
                "subscriber_id",
                "configuration",
                "category",
                "period_from",
                "period_to",
                "registration_number",
                "partner_id",
                "activated_by",
                "activated_at",
            ],
            records=activations,
        )
        await conn.execute("ANALYZE")
        self.counts = {"contracts": len(contracts), "activations": len(activations)}
        self.random.shuffle(self.requests)

    def tokens(self, keys: TestKeys) -> list[str]:
        """The program's token of each subscriber (a user's, with the right to ITS)."""
        return [
            keys.token(
                role="customer",
                subscriber={"id": str(s), "code": f"CL-{i:07d}", "role": "user", "rights": ["its_access"]},
                ttl=86_400,
            )
            for i, s in enumerate(self.subscribers)
        ]


# ---- the load ----------------------------------------------------------------------------------


def wrk_script(world: World, tokens: list[str]) -> str:
    """A wrk script: request i is the i-th (subscriber, number, configuration), with that subscriber's token."""
    token_list = ",\n".join(lua_string("Bearer " + t) for t in tokens)
    request_list = ",\n".join(f'{{{s + 1}, "{n}", "{c}"}}' for s, n, c in world.requests)
    return f"""
local tokens = {{
{token_list}
}}
local polls = {{
{request_list}
}}
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local counter = 0
local headers = {{}}
request = function()
  counter = counter + 1
  local poll = polls[(counter * 7 + tid * 4999) % #polls + 1]
  headers["Authorization"] = tokens[poll[1]]
  return wrk.format("GET", "/v1/support-status?registration_number=" .. poll[2] .. "&configuration=" .. poll[3],
    headers)
end
"""


async def wrk(url: str, seconds: int, script: Path) -> Load:
    argv = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script), url]
    load, _ = await run_wrk(argv)
    if load.bad:
        raise RuntimeError(f"{url}: {load.bad} of {load.requests} requests failed")
    return load


async def answers(base_url: str, world: World, tokens: list[str], count: int) -> list[dict[str, Any]]:
    """The first `count` polls answered by contracts: each must be 200."""
    async with aiohttp.ClientSession() as http:
        return [json.loads(await poll(http, base_url, tokens, *asked)) for asked in world.requests[:count]]


async def poll(
    http: aiohttp.ClientSession, base_url: str, tokens: list[str], subscriber: int, number: str, configuration: str
) -> bytes:
    """One program's poll, as the wrk script makes it; anything but 200 is an error of the benchmark."""
    params = {"registration_number": number, "configuration": configuration}
    headers = {"Authorization": f"Bearer {tokens[subscriber]}"}
    async with http.get(f"{base_url}/v1/support-status", params=params, headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"support-status answered {response.status}: {await response.text()}")
        return await response.read()


async def ask_every_poll(base_url: str, world: World, tokens: list[str]) -> None:
    """Every poll of the script asked once, 16 at a time: what contracts keeps is then what the kept rounds
    measure (a warm-up of a few seconds covered about half of them, so the first round read the rest from the
    database and came out at about 0.2x while the others were at 0.3-0.45x)."""
    gate = asyncio.Semaphore(16)
    async with aiohttp.ClientSession() as http:

        async def ask(subscriber: int, number: str, configuration: str) -> None:
            async with gate:
                await poll(http, base_url, tokens, subscriber, number, configuration)

        await asyncio.gather(*(ask(*asked) for asked in world.requests))


async def run(*, rounds: int = 5, seconds: int = ROUND_SECONDS) -> Result:
    if not have_wrk():
        raise RuntimeError("support_status needs wrk")
    keys = TestKeys()
    world = World()
    tokens = world.tokens(keys)
    rates: dict[str, list[float]] = {"contracts": [], "reference": []}
    unkept: list[float] = []
    async with throwaway_stack("support_status", migrate_identity=False) as stack, jwks_server(keys) as jwks_url:
        await migrate_schema(stack, database())
        conn = await asyncpg.connect(stack.database_url, server_settings={"search_path": SCHEMA})
        try:
            await world.write(conn)
        finally:
            await conn.close()
        async with service_process(stack, "contracts", ITS_JWKS_URL=jwks_url) as contracts:
            sample = await answers(contracts.url, world, tokens, 200)
            overall = {o: sum(1 for a in sample if a["overall"] == o) for o in ("OK", "WARNING", "NOT_COMPLIED")}
            # The reference answers a typical document: a registered product with its contracts and activations.
            document = max(sample, key=lambda a: len(json.dumps(a)) if a["overall"] == "OK" else 0)
            document_file = stack.var_dir / "document.json"
            document_file.write_bytes(json.dumps(document).encode())
            port = free_port()
            reference = Process(
                [sys.executable, "-m", "bench.support_status", "serve-reference", str(port), str(document_file)],
                ready_url=f"http://127.0.0.1:{port}/v1/support-status",
                log_path=stack.var_dir / "log" / "reference.log",
            )
            await reference.start()
            script = stack.var_dir / "polls.lua"
            script.write_text(wrk_script(world, tokens))
            try:
                urls = {"contracts": contracts.url, "reference": f"http://127.0.0.1:{port}"}
                await ask_every_poll(contracts.url, world, tokens)
                for url in urls.values():
                    await wrk(url, WARMUP_SECONDS, script)
                for _ in range(rounds):
                    for name, url in urls.items():
                        rates[name].append((await wrk(url, seconds, script)).requests_per_second)
                for _ in range(rounds):  # the first polls of the day: contracts told to forget what it keeps
                    await forget_everything(stack.database_url)
                    unkept.append((await wrk(contracts.url, UNKEPT_SECONDS, script)).requests_per_second)
            finally:
                await reference.stop()
    ratios = [c / r for c, r in zip(rates["contracts"], rates["reference"], strict=True)]
    return Result(
        rounds=ratios,
        name="GET /v1/support-status",
        figure=median(rates["contracts"]),
        reference=median(rates["reference"]),
        unit="req/s",
        figure_label="contracts, token + number each",
        reference_label="bare aiohttp JSON",
        target=TARGET,
        details=[
            rounds_line(f"wrk -t{THREADS} -c{CONNECTIONS} + Lua", seconds, rounds, WARMUP_SECONDS)
            + "; one process each; every poll asked once before the rounds (ask_every_poll)",
            f"contracts req/s: {spread(rates['contracts'])}",
            f"reference req/s: {spread(rates['reference'])}",
            per_round(ratios),
            f"read models: {SUBSCRIBERS * NUMBERS_EACH:,} numbers of {SUBSCRIBERS:,} subscribers, "
            f"{world.counts['contracts']:,} contracts, {world.counts['activations']:,} activations, "
            f"{CONFIGURATIONS} configurations; {SUBSCRIBERS:,} tokens",
            f"answers of the first 200 polls: {overall}; the reference's document {len(json.dumps(document))} bytes",
            f"with nothing kept (each program's first poll after a change; {UNKEPT_SECONDS} s rounds, fewer polls than "
            f"numbers, so every answer is read from the database): {spread(unkept)} req/s, "
            f"{median(unkept) / median(rates['reference']):.2f}x the reference",
        ],
    )


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve-reference"] and len(argv) == 3:
        serve_reference(int(argv[1]), argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
