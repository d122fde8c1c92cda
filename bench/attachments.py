"""SUP-1's attachments, "streamed, never whole in memory": asking a question with a 5 MiB attachment, the support
process's peak memory grows by less than the attachment's size.

support runs as in production (`python -m services.support`, one process, logging at INFO into a file) on a
throwaway database and vhost; the token is signed here with a test key served as JWKS by this process (identity is
not running). Its read models are written directly, as registration's and contracts' events would have written them
(a benchmark may prepare state, and waiting for consumers measures nothing here): the subscriber's Accounting PROF
product and an ITS contract on it for the months around this one, accompanied by a partner, so the question is
allowed and routed to that partner.

Each round asks a question (`POST /v1/questions`) and attaches to it (`PUT /v1/questions/{id}/attachments/{name}`) a
body streamed from this process (an async generator of 64 KiB chunks, chunked transfer encoding, no Content-Length),
`application/octet-stream`, fresh pseudo-random bytes each round (the storage keeps content by its sha256: the same
bytes twice would be stored once). Just before the upload the kernel's peak (VmHWM) is reset to the current resident
size (`echo 5 > /proc/<pid>/clear_refs`) and read; after the 201, VmHWM is read again: the growth is VmHWM after minus
VmRSS before. It counts pages the upload made resident: memory the allocator already holds, free, from earlier
requests is not growth (the details show the resident size at start, after the warm-up and at the end). Rounds
alternate a 5 MiB and a 1 KiB attachment (the growth of handling any upload: the reference beside the figure) after a
warm-up; the figure is the median growth for 5 MiB, the limit the attachment's size.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg

from bench.common import (
    Result,
    ServiceProcess,
    TestStack,
    median,
    migrate_schema,
    service_process,
    spread,
    throwaway_stack,
)
from bench.contracts_post import jwks_server
from bench.downloads import Memory
from rules.months import Month
from services.support.public import database
from tests.tokens import TestKeys

MIB = 1 << 20
KIB = 1 << 10
SIZE = 5 * MIB
TINY = 1 * KIB
CHUNK = 64 * KIB
SEED = 18
REGISTRATION_NUMBER = "80000000018"
CONFIGURATION = "Accounting"
PARTNER = "Bench Partner"


@dataclass(frozen=True)
class Customer:
    subscriber_id: uuid.UUID
    code: str
    account_id: uuid.UUID


async def prepare(stack: TestStack) -> Customer:
    """support's schema, and its read models as the events would have left them: a PROF product of the subscriber,
    covered by a partner's ITS contract from six months ago to six months ahead."""
    await migrate_schema(stack, database())
    _, schema = database()
    customer = Customer(uuid.uuid4(), "CL-0000018", uuid.uuid4())
    partner_id = uuid.uuid4()
    now = datetime.now(UTC)
    month = Month.of(now.date())
    conn = await asyncpg.connect(stack.database_url, server_settings={"search_path": schema})
    try:
        async with conn.transaction():
            await conn.execute("INSERT INTO partners (id, name) VALUES ($1, $2)", partner_id, PARTNER)
            await conn.execute(
                "INSERT INTO registered_products (registration_number, subscriber_id, subscriber_code, product_name, "
                "edition, configurations, its_required, purchase_date, active_from, updated_at) "
                "VALUES ($1, $2, $3, 'Accounting PROF', 'PROF', $4, true, $5, $6, $7)",
                REGISTRATION_NUMBER,
                customer.subscriber_id,
                customer.code,
                [CONFIGURATION],
                now.date() - timedelta(days=400),
                now - timedelta(days=400),
                now,
            )
            await conn.execute(
                "INSERT INTO contract_numbers (contract_id, registration_number, partner_id, partner_name, "
                "period_from, period_to) VALUES ($1, $2, $3, $4, $5, $6)",
                uuid.uuid4(),
                REGISTRATION_NUMBER,
                partner_id,
                PARTNER,
                str(month.plus(-6)),
                str(month.plus(6)),
            )
    finally:
        await conn.close()
    return customer


@dataclass(frozen=True)
class Upload:
    size: int
    growth: float  # MiB: VmHWM after the upload minus VmRSS before it
    rss_before: float  # MiB
    peak: float  # MiB: VmHWM after the upload
    seconds: float

    @property
    def mib_per_second(self) -> float:
        return self.size / MIB / self.seconds


def reset_peak(pid: int) -> None:
    """The process's VmHWM := its current VmRSS (Linux 4.0 and later; a file of /proc, no blocking I/O)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


class Round:
    """One question and one attachment, measured; the bytes differ every round."""

    def __init__(self, http: aiohttp.ClientSession, support: ServiceProcess, token: str) -> None:
        assert support.process is not None
        self.http, self.url = http, support.url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.pid = support.process.pid
        self.memory = Memory(self.pid)
        self.rounds = 0

    async def ask(self) -> str:
        question = {
            "kind": "consulting",
            "subject": "The VAT return does not post",
            "body": "The **VAT return** stops with an error; the log is attached.",
            "registration_number": REGISTRATION_NUMBER,
            "configuration": CONFIGURATION,
        }
        async with self.http.post(f"{self.url}/v1/questions", json=question, headers=self.headers) as response:
            answer = await response.json()
            if response.status != 201 or answer["routed_to"]["name"] != PARTNER:
                raise RuntimeError(f"asking: {response.status} {answer}")
        question_id: str = answer["id"]
        return question_id

    async def run(self, size: int) -> Upload:
        self.rounds += 1
        data = random.Random(SEED * 1_000 + self.rounds).randbytes(size)  # noqa: S311 (test data, not secrets)
        question_id = await self.ask()

        async def body() -> AsyncIterator[bytes]:
            for start in range(0, size, CHUNK):
                yield data[start : start + CHUNK]

        path = f"{self.url}/v1/questions/{question_id}/attachments/log-{self.rounds}.bin"
        headers = {**self.headers, "Content-Type": "application/octet-stream"}
        reset_peak(self.pid)
        rss_before = self.memory.read("VmHWM")  # the resident size at the reset, exactly
        began = time.perf_counter()
        async with self.http.put(path, data=body(), headers=headers) as response:
            stored = await response.json()
        seconds = time.perf_counter() - began
        peak = self.memory.read("VmHWM")
        if response.status != 201 or stored["size"] != size or stored["sha256"] != hashlib.sha256(data).hexdigest():
            raise RuntimeError(f"attaching {size} bytes: {response.status} {stored}")
        return Upload(size, peak - rss_before, rss_before, peak, seconds)


async def run(*, rounds: int = 7, warmup: int = 2) -> Result:
    keys = TestKeys()
    uploads: dict[int, list[Upload]] = {SIZE: [], TINY: []}
    async with throwaway_stack("attachments", migrate_identity=False) as stack, jwks_server(keys) as jwks_url:
        customer = await prepare(stack)
        token = keys.token(
            account_id=customer.account_id,
            role="customer",
            login="bench",
            ttl=86_400,
            subscriber={"id": str(customer.subscriber_id), "code": customer.code, "role": "owner", "rights": []},
        )
        async with (
            service_process(stack, "support", ITS_JWKS_URL=jwks_url) as support,
            aiohttp.ClientSession() as http,
        ):
            measured = Round(http, support, token)
            rss_at_start = measured.memory.read("VmRSS")
            for _ in range(warmup):  # the pool's connections, the imports and caches of a first request
                for size in uploads:
                    await measured.run(size)
            rss_after_warmup = measured.memory.read("VmRSS")
            for _ in range(rounds):
                for size in uploads:
                    uploads[size].append(await measured.run(size))
            rss_at_end = measured.memory.read("VmRSS")
            stored = sum(1 for p in (stack.var_dir / "attachments").rglob("*") if p.is_file())
    big, tiny = uploads[SIZE], uploads[TINY]
    baseline = median([u.growth for u in tiny])
    return Result(
        name="attach 5 MiB to a question",
        figure=median([u.growth for u in big]),
        reference=SIZE / MIB,
        unit="MiB",
        figure_label="support peak RSS growth",
        reference_label="the attachment's size",
        target=1.0,
        higher_is_better=False,
        details=[
            f"POST /v1/questions, then PUT …/attachments/{{name}} streamed in {CHUNK // KIB} KiB chunks (chunked, "
            f"application/octet-stream, new random bytes each round); {rounds} rounds alternating 5 MiB and 1 KiB "
            f"after {warmup} of each as warm-up; growth = VmHWM after (reset by clear_refs) - VmRSS before",
            f"peak growth, 5 MiB upload, MiB: {spread([u.growth for u in big], '{:.2f}')}",
            f"peak growth, 1 KiB upload, MiB: {spread([u.growth for u in tiny], '{:.2f}')} (any request's baseline)",
            f"5 MiB growth beyond the 1 KiB baseline: {median([u.growth for u in big]) - baseline:.2f} MiB",
            f"support RSS: {rss_at_start:.1f} MiB ready, {rss_after_warmup:.1f} MiB after the warm-up, "
            f"{rss_at_end:.1f} MiB at the end; highest VmHWM of a round {max(u.peak for u in big + tiny):.1f} MiB",
            f"5 MiB upload throughput, MiB/s: {spread([u.mib_per_second for u in big], '{:.0f}')} (for information)",
            f"{stored} files in the attachments' storage after {measured.rounds} uploads (none deduplicated)",
        ],
    )
