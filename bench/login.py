"""Login: the share of a password-grant request's time spent in the argon2id hash.

identity runs as in production (its own process, database and vhost). Sequential `POST /oauth/token`
(grant_type=password) requests are timed end to end from a bare client on one kept-alive connection (bench/bare_http.py:
the client's own work is not the login's); between them, this process times `Passwords().hasher.verify` on the
account's stored hash (so with the very parameters identity uses, read from the hash itself).
share = median hash time / median request time.
"""

from __future__ import annotations

import time

import aiohttp
import asyncpg

from bench.bare_http import KeptConnection
from bench.common import Result, identity_process, median, register_and_login, spread, throwaway_stack
from services.identity.public import Passwords, database

TARGET = 0.9
_, SCHEMA = database()


async def run(*, requests: int = 100, warmup: int = 3) -> Result:
    times: dict[str, list[float]] = {"request": [], "hash": [], "floor": []}
    async with throwaway_stack("login") as stack, identity_process(stack) as identity, aiohttp.ClientSession() as http:
        login, password, _ = await register_and_login(http, identity.url)
        conn = await asyncpg.connect(stack.database_url, server_settings={"search_path": SCHEMA})
        try:
            stored: str = await conn.fetchval("SELECT password_hash FROM accounts WHERE login = $1", login)
        finally:
            await conn.close()
        hasher = Passwords().hasher
        connection = await KeptConnection.open(identity.url)
        form = {"grant_type": "password", "username": login, "password": password}
        grant = connection.form_post("/oauth/token", form)
        health = connection.get("/healthz")
        try:
            for n in range(warmup + requests):
                started = time.perf_counter()
                answer = await connection.send(grant)
                request_time = time.perf_counter() - started
                if answer.status != 200:
                    raise RuntimeError(f"password grant answered {answer.status}: {answer.body.decode()}")
                started = time.perf_counter()
                if not hasher.verify(stored, password):
                    raise RuntimeError("the stored hash does not verify")
                hash_time = time.perf_counter() - started
                # The floor: an HTTP round trip to the same process that does nothing (client + aiohttp + kernel).
                started = time.perf_counter()
                await connection.send(health)
                floor_time = time.perf_counter() - started
                if n >= warmup:
                    for name, seconds in (("request", request_time), ("hash", hash_time), ("floor", floor_time)):
                        times[name].append(seconds * 1000)
        finally:
            await connection.close()
    parameters = stored.split("$")[3]  # e.g. m=19456,t=2,p=1
    shares = [h / r for h, r in zip(times["hash"], times["request"], strict=True)]
    rest = median(times["request"]) - median(times["hash"])
    return Result(
        name="login",
        figure=median(times["hash"]),
        reference=median(times["request"]),
        unit="ms",
        figure_label="argon2id verify",
        reference_label="POST /oauth/token",
        target=TARGET,
        ratio_format="{:.0%}",
        details=[
            f"{requests} sequential password grants (a bare client, one kept-alive connection) after {warmup} warm-up, "
            f"each followed by one hash "
            f"verify in this process and one GET /healthz; argon2id {parameters}",
            f"request ms: {spread(times['request'], '{:.1f}')}",
            f"hash ms:    {spread(times['hash'], '{:.1f}')}",
            f"share per pair, median: {median(shares):.0%}",
            f"not hashing: {rest:.1f} ms a login, of which {median(times['floor']):.1f} ms is the HTTP round trip "
            f"of GET /healthz",
        ],
    )
