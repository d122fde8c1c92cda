"""Registration numbers: issuing numbers with PINs through the service, against one process hashing alone.

identity and registration run as in production (their own processes, database and vhost). An operator
(made with services.identity.public.ensure_account, logged in at identity) puts a configuration and a product with
PIN envelopes, then issues `count` numbers with PINs in sequential requests of `chunk`, through the very
code of `itsctl registration issue` (rows appended to a CSV file as each answer arrives); the wall time
of all the requests is the figure. The reference, in the same run: this process, on one thread, draws
as many numbers and PINs (services.registration.public) and hashes the PINs with `pin_hasher().hash`.
Both as numbers a second; target: the service, hashing on every core, reaches at least that floor.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import time
from collections.abc import AsyncIterator

import aiohttp

from bench.common import (
    Result,
    ServiceProcess,
    TestStack,
    identity_process,
    migrate_schema,
    service_process,
    spread,
    throwaway_stack,
)
from itsctl._http import Api, log_in
from itsctl.registration import Issued, issue_numbers
from services.identity.public import IdentitySettings, ensure_account
from services.registration.public import (
    MEMORY_KIB,
    PARALLELISM,
    TIME_COST,
    database,
    new_pin,
    new_registration_number,
    pin_hasher,
)

TARGET = 1.0
ARTICLE = "4601546041807"
OPERATOR_LOGIN = "bench-operator"
OPERATOR_PASSWORD = "bench operator passphrase 2026"  # noqa: S105 -- a throwaway database's account


async def run(count: int = 100_000, *, chunk: int = 10_000) -> Result:
    async with throwaway_stack("registration_numbers") as stack:
        await migrate_schema(stack, database())
        await ensure_account(
            IdentitySettings(database_url=stack.database_url, var_dir=stack.var_dir, env="test"),
            login=OPERATOR_LOGIN,
            password=OPERATOR_PASSWORD,
            email="bench-operator@example.com",
            full_name=None,
            operator=True,
        )
        async with (
            identity_process(stack) as identity,
            registration_process(stack, identity.url) as registration,
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=900)) as http,
        ):
            token = await log_in(http, identity.url, OPERATOR_LOGIN, OPERATOR_PASSWORD)
            api = Api(http, "registration", registration.url, token)
            await api.call(
                "PUT",
                "/v1/configurations/Accounting",
                {"name": "Accounting", "maintenance_category": 1, "vendor": "Bench"},
            )
            await api.call(
                "PUT",
                f"/v1/products/{ARTICLE}",
                {"name": "Accounting PROF", "edition": "PROF", "configurations": ["Accounting"], "pin_envelope": True},
            )
            # Warm-up (not timed): the JWKS fetch, the first connections, the hashing threads.
            await _issue(api, stack, "warmup.csv", 20, chunk)
            service_seconds, chunk_seconds = await _issue(api, stack, "numbers.csv", count, chunk)
        # The reference, while the services are stopped: one process, one thread.
        generate_seconds, hash_seconds = await asyncio.to_thread(_single_thread, count)
    figure = count / service_seconds
    reference = count / (generate_seconds + hash_seconds)
    cores = os.cpu_count() or 1
    return Result(
        name="registration_numbers",
        figure=figure,
        reference=reference,
        unit="numbers/s",
        figure_label=f"service, {cores} cores",
        reference_label="1 process, 1 thread",
        target=TARGET,
        details=[
            f"{count:,} numbers with PINs issued in {-(-count // chunk)} sequential requests of up to {chunk:,}: "
            f"{service_seconds:.1f} s through the service, {generate_seconds + hash_seconds:.1f} s in one thread",
            f"argon2id m={MEMORY_KIB},t={TIME_COST},p={PARALLELISM}: {hash_seconds / count * 1000:.3f} ms a hash "
            f"in one thread; drawing a number and a PIN: {generate_seconds / count * 1e6:.1f} µs",
            f"seconds a request: {spread(chunk_seconds, '{:.2f}')}",
            f"service time a number: {service_seconds / count * 1000:.3f} ms; the cores' hashing floor "
            f"{hash_seconds / count / cores * 1000:.3f} ms ({cores} cores, if hashing were all it did)",
        ],
    )


@contextlib.asynccontextmanager
async def registration_process(stack: TestStack, identity_url: str) -> AsyncIterator[ServiceProcess]:
    """registration started as in production (`python -m services.registration`), trusting this identity."""
    async with service_process(stack, "registration", ITS_JWKS_URL=f"{identity_url}/.well-known/jwks.json") as process:
        yield process


async def _issue(api: Api, stack: TestStack, name: str, count: int, chunk: int) -> tuple[float, list[float]]:
    """Wall time of issuing `count` numbers with PINs as `itsctl registration issue` does; and each request's."""
    path = stack.var_dir / name
    chunk_seconds: list[float] = []
    last = time.perf_counter()

    def lap(_: int) -> None:
        nonlocal last
        now = time.perf_counter()
        chunk_seconds.append(now - last)
        last = now

    with path.open("w", newline="") as out:
        started = time.perf_counter()
        last = started
        issued = await issue_numbers(api, ARTICLE, count, with_pin=True, batch=chunk, out=out, on_batch=lap)
        seconds = time.perf_counter() - started
    _check(path, issued, count)
    path.unlink()  # it holds PINs
    return seconds, chunk_seconds


def _check(path: os.PathLike[str], issued: Issued, count: int) -> None:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    numbers = {row["registration_number"] for row in rows}
    if issued.written != count or len(rows) != count or len(numbers) != count or not all(r["pin"] for r in rows):
        raise RuntimeError(
            f"expected {count} distinct numbers with PINs, got {len(rows)} rows, {len(numbers)} distinct"
        )


def _single_thread(count: int) -> tuple[float, float]:
    """Seconds to draw `count` numbers and PINs, and seconds to hash the PINs, in this thread."""
    hasher = pin_hasher()
    started = time.perf_counter()
    drawn = [(new_registration_number(), new_pin()) for _ in range(count)]
    generated = time.perf_counter()
    hashes = [hasher.hash(pin) for _, pin in drawn]
    hashed = time.perf_counter()
    if len(hashes) != count:
        raise RuntimeError("hashing lost PINs")
    return generated - started, hashed - generated
