"""`GET /v1/me` requests/s with a JWT verified, vs a bare aiohttp JSON handler.

identity runs as in production (`python -m services.identity`, its own database and vhost, logging at
INFO into a file); the reference is a tiny aiohttp app returning a JSON dict of the same shape, served
the same way (`web.run_app` in its own process, no access log). The load comes from `wrk` in its own
process (or, where wrk is missing, from a Python aiohttp generator in its own process), with the same
connections and duration for all; rounds alternate between the servers.

identity keeps the accounts it answered until their rows change (services/identity/accounts_kept.py), so after the
first request `/v1/me` verifies the token and answers from memory, as it does for a portal user moving between pages.

A third server, reported in the details only, does the same work as `/v1/me` with the libraries alone
(PyJWT verifies the token with identity's JWKS key once and keeps it, asyncpg reads the account on every request,
aiohttp answers): what the stack gives without the kernel and without keeping accounts.

    python -m bench.http_me serve-bare PORT                          the reference server
    python -m bench.http_me serve-equivalent PORT JWKS_URL DB_URL    the same work without the kernel
    python -m bench.http_me load URL SECONDS CONNS [HEADER...]       the fallback load generator
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import jwt
from aiohttp import web

from bench.common import (
    THREADS,
    CpuPerRequest,
    Load,
    Process,
    Result,
    TestStack,
    free_port,
    generate_load,
    have_wrk,
    identity_process,
    median,
    per_round,
    register_and_login,
    rounds_line,
    run_python_load,
    run_wrk,
    spread,
    throwaway_stack,
)
from services.identity.public import database
from shared.service_main import serve
from shared.settings import BaseServiceSettings

TARGET = 0.3  # issue 19: /v1/me at least 0.30x the bare handler
CONNECTIONS = 32
ROUND_SECONDS = 5
_, SCHEMA = database()
DEFAULTS = BaseServiceSettings()  # issuer and audience of identity's tokens
WARMUP_SECONDS = 2
HEALTHZ_TARGET = 0.8  # issue 19: the kernel costs a request at most a fifth of the bare handler's rate


# ---- the reference server ---------------------------------------------------------------------------


def bare_app() -> web.Application:
    body = {
        "id": "0b6a7f5e-3d1c-4f8e-9a51-2f3c4d5e6f70",
        "login": "bench",
        "email": "bench@example.com",
        "email_verified": False,
        "full_name": "Ivan Petrov",
        "language": "en",
    }

    async def me(request: web.Request) -> web.Response:
        return web.json_response(body)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/v1/me", me)
    app.router.add_get("/healthz", healthz)
    return app


def serve_bare(port: int) -> None:
    serve(bare_app(), host="127.0.0.1", port=port)


def equivalent_app(jwks_url: str, database_url: str) -> web.Application:
    """`/v1/me` with aiohttp, PyJWT and asyncpg only: verify the token (once per token, kept as any service would
    keep it, as the kernel does), read the account, answer JSON: what the stack allows without the kernel."""
    keys: dict[str, Any] = {}
    verified: dict[str, dict[str, Any]] = {}
    pools: list[asyncpg.Pool[asyncpg.Record]] = []

    async def setup(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as http, http.get(jwks_url) as response:
            keys.update({jwk["kid"]: jwt.PyJWK(jwk).key for jwk in (await response.json())["keys"]})
        pool = await asyncpg.create_pool(database_url, server_settings={"search_path": SCHEMA})
        assert pool is not None
        pools.append(pool)
        yield
        await pool.close()

    async def me(request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        claims = verified.get(token)
        if claims is None:
            try:
                kid = jwt.get_unverified_header(token)["kid"]
                claims = verified[token] = jwt.decode(
                    token,
                    key=keys[kid],
                    algorithms=["EdDSA"],
                    audience=DEFAULTS.jwt_audience,
                    issuer=DEFAULTS.jwt_issuer,
                )
            except (jwt.PyJWTError, KeyError):
                return web.json_response({"error": "unauthorized"}, status=401)
        async with pools[0].acquire() as conn:
            row = await conn.fetchrow(
                "SELECT id, login, email, email_verified_at, full_name, language FROM accounts WHERE id = $1",
                uuid.UUID(claims["sub"]),
            )
        if row is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(
            {
                "id": str(row["id"]),
                "login": row["login"],
                "email": row["email"],
                "email_verified": row["email_verified_at"] is not None,
                "full_name": row["full_name"],
                "language": row["language"],
            }
        )

    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.cleanup_ctx.append(setup)
    app.router.add_get("/v1/me", me)
    app.router.add_get("/readyz", ready)
    return app


def serve_equivalent(port: int, jwks_url: str, database_url: str) -> None:
    serve(equivalent_app(jwks_url, database_url), host="127.0.0.1", port=port)


# ---- load generators --------------------------------------------------------------------------------


async def wrk(url: str, seconds: int, headers: dict[str, str]) -> Load:
    argv = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    load, _ = await run_wrk([*argv, url])
    return load


async def python_load(url: str, seconds: int, headers: dict[str, str]) -> Load:
    """The fallback: the generator below, run in a process of its own."""
    argv = [sys.executable, "-m", "bench.http_me", "load", url, str(seconds), str(CONNECTIONS)]
    argv += [f"{name}: {value}" for name, value in headers.items()]
    return await run_python_load(argv)


async def get_load(url: str, seconds: int, connections: int, headers: dict[str, str]) -> dict[str, Any]:
    async def send(http: aiohttp.ClientSession) -> int:
        async with http.get(url, headers=headers) as response:
            await response.read()
            return response.status

    return await generate_load(seconds, connections, send)


# ---- the benchmark ----------------------------------------------------------------------------------


async def load(url: str, seconds: int, headers: dict[str, str]) -> Load:
    result = await (wrk if have_wrk() else python_load)(url, seconds, headers)
    if result.bad:
        raise RuntimeError(f"{url}: {result.bad} of {result.requests} requests failed")
    return result


async def _process(stack: TestStack, mode: str, *args: str) -> tuple[Process, str]:
    """A reference server in its own process; returns it and its /v1/me URL."""
    port = free_port()
    ready = "/v1/me" if mode == "serve-bare" else "/readyz"
    process = Process(
        [sys.executable, "-m", "bench.http_me", mode, str(port), *args],
        ready_url=f"http://127.0.0.1:{port}{ready}",
        log_path=stack.var_dir / "log" / f"{mode}.log",
    )
    await process.start()
    return process, f"http://127.0.0.1:{port}/v1/me"


async def run(*, rounds: int = 5, seconds: int = ROUND_SECONDS) -> Result:
    generator = f"wrk -t{THREADS} -c{CONNECTIONS}" if have_wrk() else f"Python aiohttp generator, {CONNECTIONS} conns"
    rates: dict[str, list[float]] = {"me": [], "bare": [], "equivalent": []}
    pids: dict[str, int] = {}
    async with throwaway_stack("http_me") as stack, identity_process(stack) as identity:
        pids["me"] = identity.pid
        async with aiohttp.ClientSession() as http:
            login, _, token = await register_and_login(http, identity.url)
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        urls = {"me": f"{identity.url}/v1/me"}
        async with contextlib.AsyncExitStack() as processes:
            for name, mode, args in (
                ("bare", "serve-bare", ()),
                ("equivalent", "serve-equivalent", (f"{identity.url}/.well-known/jwks.json", stack.database_url)),
            ):
                process, urls[name] = await _process(stack, mode, *args)
                processes.push_async_callback(process.stop)
                pids[name] = process.pid
            async with aiohttp.ClientSession() as http:
                for name in ("me", "equivalent"):
                    async with http.get(urls[name], headers=auth) as response:
                        answer = await response.json()
                        if response.status != 200 or answer.get("login") != login:
                            raise RuntimeError(f"{urls[name]} answered {response.status}: {answer}")
            for url in urls.values():
                await load(url, WARMUP_SECONDS, auth)
            cpu = CpuPerRequest(pids)
            for _ in range(rounds):
                for name, url in urls.items():
                    async with cpu.round(name) as served:
                        result = await load(url, seconds, auth)
                        served.append(result.requests)
                    rates[name].append(result.requests_per_second)
    ratios = [m / b for m, b in zip(rates["me"], rates["bare"], strict=True)]
    kernel_ratios = [m / e for m, e in zip(rates["me"], rates["equivalent"], strict=True)]
    return Result(
        rounds=list(ratios),
        name="/v1/me",
        figure=median(rates["me"]),
        reference=median(rates["bare"]),
        unit="req/s",
        figure_label="identity, JWT verified",
        reference_label="bare aiohttp JSON",
        target=TARGET,
        details=[
            rounds_line(generator, seconds, rounds, WARMUP_SECONDS),
            f"identity /v1/me req/s:  {spread(rates['me'])}",
            f"bare handler req/s:     {spread(rates['bare'])}",
            per_round(ratios),
            f"same work, libraries only (PyJWT, a verified token kept; asyncpg fetchrow each time; aiohttp) req/s: "
            f"{spread(rates['equivalent'])}",
            f"identity (the account kept) / libraries only (the account read): {median(kernel_ratios):.2f}x "
            f"(per round {', '.join(f'{r:.2f}' for r in kernel_ratios)})",
            cpu.line("me", "bare"),
            cpu.line("me", "equivalent"),
        ],
    )


async def run_healthz(*, rounds: int = 5, seconds: int = ROUND_SECONDS) -> Result:
    """`GET /healthz` of identity, through the kernel's whole middleware (request ids, problem mapping, metrics; a
    probe is not access-logged), beside the bare handler answering the same JSON: what the kernel costs a request."""
    generator = f"wrk -t{THREADS} -c{CONNECTIONS}" if have_wrk() else f"Python aiohttp generator, {CONNECTIONS} conns"
    rates: dict[str, list[float]] = {"kernel": [], "bare": []}
    async with throwaway_stack("healthz") as stack, identity_process(stack) as identity:
        bare, me_url = await _process(stack, "serve-bare")
        cpu = CpuPerRequest({"kernel": identity.pid, "bare": bare.pid})
        try:
            urls = {"kernel": f"{identity.url}/healthz", "bare": me_url.replace("/v1/me", "/healthz")}
            for url in urls.values():
                await load(url, WARMUP_SECONDS, {})
            for _ in range(rounds):
                for name, url in urls.items():
                    async with cpu.round(name) as served:
                        result = await load(url, seconds, {})
                        served.append(result.requests)
                    rates[name].append(result.requests_per_second)
        finally:
            await bare.stop()
    ratios = [k / b for k, b in zip(rates["kernel"], rates["bare"], strict=True)]
    return Result(
        rounds=ratios,
        name="/healthz",
        figure=median(rates["kernel"]),
        reference=median(rates["bare"]),
        unit="req/s",
        figure_label="identity, the kernel's middleware",
        reference_label="bare aiohttp JSON",
        target=HEALTHZ_TARGET,
        details=[
            rounds_line(generator, seconds, rounds, WARMUP_SECONDS),
            f"identity /healthz req/s: {spread(rates['kernel'])}",
            f"bare handler req/s:      {spread(rates['bare'])}",
            per_round(ratios),
            cpu.line("kernel", "bare"),
        ],
    )


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve-bare"] and len(argv) == 2:
        serve_bare(int(argv[1]))
    elif argv[:1] == ["serve-equivalent"] and len(argv) == 4:
        serve_equivalent(int(argv[1]), argv[2], argv[3])
    elif argv[:1] == ["load"] and len(argv) >= 4:
        headers = dict(header.split(": ", 1) for header in argv[4:])
        print(json.dumps(asyncio.run(get_load(argv[1], int(argv[2]), int(argv[3]), headers))))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
