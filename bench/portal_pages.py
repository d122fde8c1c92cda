"""Portal pages per second (issue 7): GET /software and GET /releases through the portal, vs the same
service API calls made directly.

identity, registration, updates and portal run as in production (`python -m services.<name>`, one process
each, on a database and vhost of this benchmark's own). The subscriber's state is prepared directly (a
benchmark may prepare state): one PROF product with one configuration registered to the subscriber in
registration's and updates' read models, covered by a contract this month. The portal session is a real
one (an identity account logged in through the portal's /login form, cookie `its_session`); its access
token is then replaced by a test-key token for the subscriber (as tests/integration/test_portal_releases.py
does), which registration and updates trust through a JWKS served by this process.

The pages call: /software -> registration GET /v1/registrations; /releases -> updates GET /v1/entitlements.
The figure is portal pages/s (wrk, with the Cookie header); the reference is the same API call made
directly with the access token (wrk, with the Authorization header): one call per page, so one sequence is
one request. The ratio is the share of the direct rate the portal keeps; what the portal adds is its
session lookup (PostgreSQL + unsealing), its own HTTP hop to the service, and rendering the template.
There is no target: the ratio is reported, not judged.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg

from bench.common import (
    THREADS,
    Result,
    TestStack,
    have_wrk,
    identity_process,
    median,
    migrate_schema,
    register_and_login,
    run_wrk,
    service_process,
    spread,
    throwaway_stack,
)
from bench.contracts_post import jwks_server
from rules.months import Month
from tests.tokens import TestKeys

CONNECTIONS = 50
ROUND_SECONDS = 4
WARMUP_SECONDS = 1
CONFIGURATION = "ACC"
ARTICLE = "4601546041807"
NUMBER = "80000000001"


async def prepare(stack: TestStack) -> tuple[uuid.UUID, str]:
    """registration's and updates' schemas with one registered, covered PROF product: (subscriber id, code)."""
    from services.portal.public import database as portal_database
    from services.registration.public import database as registration_database
    from services.updates.public import database as updates_database

    for database in (registration_database(), updates_database(), portal_database()):
        await migrate_schema(stack, database)
    _, reg_schema = registration_database()
    _, upd_schema = updates_database()
    subscriber_id, code = uuid.uuid4(), "BENCH-0001"
    now = datetime.now(UTC)
    bought = now - timedelta(days=400)
    month = Month.of(now.date())
    conn = await asyncpg.connect(stack.database_url, server_settings={"search_path": reg_schema})
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO configurations (code, name, maintenance_category, vendor, created_at, "
                "updated_at) VALUES ($1, 'Accounting', 1, '1C', $2, $2)",
                CONFIGURATION,
                now,
            )
            await conn.execute(
                "INSERT INTO products (article, name, edition, pin_envelope, its_required, created_at, "
                "updated_at) VALUES ($1, 'Accounting PROF', 'PROF', true, true, $2, $2)",
                ARTICLE,
                now,
            )
            await conn.execute(
                "INSERT INTO product_configurations (article, configuration_code) VALUES ($1, $2)",
                ARTICLE,
                CONFIGURATION,
            )
            await conn.execute(
                "INSERT INTO registration_numbers (number, article, batch_id, issued_at, "
                "subscriber_id, subscriber_code, registered_by, purchase_date, registered_at, active_from, state) "
                "VALUES ($1, $2, $3, $4, $5, $6, 'self', $7, $4, $4, 'active')",
                NUMBER,
                ARTICLE,
                uuid.uuid4(),
                bought,
                subscriber_id,
                code,
                bought.date(),
            )
    finally:
        await conn.close()
    conn = await asyncpg.connect(stack.database_url, server_settings={"search_path": upd_schema})
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO configurations (code, name, updated_at) VALUES ($1, 'Accounting', $2)",
                CONFIGURATION,
                now,
            )
            await conn.execute(
                "INSERT INTO registered_products (registration_number, subscriber_id, subscriber_code, "
                "article, product_name, edition, configurations, its_required, purchase_date, active_from, "
                "updated_at) VALUES ($1, $2, $3, $4, 'Accounting PROF', 'PROF', $5, true, $6, $7, $7)",
                NUMBER,
                subscriber_id,
                code,
                ARTICLE,
                [CONFIGURATION],
                bought.date(),
                bought,
            )
            await conn.execute(
                "INSERT INTO contract_coverage (contract_id, registration_number, period_from, "
                "period_to) VALUES ($1, $2, $3, $4)",
                uuid.uuid4(),
                NUMBER,
                str(month.plus(-6)),
                str(month.plus(6)),
            )
    finally:
        await conn.close()
    return subscriber_id, code


async def portal_session(stack: TestStack, portal_url: str, identity_url: str, access: str) -> str:
    """A real portal session (log in through /login), its access token then set to `access`: the cookie value."""
    from services.portal.public import PLAIN_COOKIE, Tokens, database, sealed_tokens

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        login, password, _ = await register_and_login(http, identity_url)
        async with http.get(f"{portal_url}/login") as response:
            found = re.search(r'name="csrf_token" value="([^"]*)"', await response.text())
        form = {"csrf_token": found[1] if found else "", "login": login, "password": password}
        async with http.post(f"{portal_url}/login", data=form, allow_redirects=False) as response:
            if response.status != 303:
                raise RuntimeError(f"portal login failed: {response.status} {await response.text()}")
        cookie = next((c.value for c in http.cookie_jar if c.key == PLAIN_COOKIE), None)
    row = sealed_tokens(cookie or "", Tokens(access=access, refresh="unused"))
    if cookie is None or row is None:
        raise RuntimeError("the portal set no session cookie")
    id_hash, sealed = row
    _, schema = database()
    conn = await asyncpg.connect(stack.database_url, server_settings={"search_path": schema})
    try:
        done = await conn.execute("UPDATE sessions SET tokens = $2 WHERE id_hash = $1", id_hash, sealed)
        if done != "UPDATE 1":
            raise RuntimeError(f"no portal session to update: {done}")
    finally:
        await conn.close()
    return f"{PLAIN_COOKIE}={cookie}"


async def check(url: str, header: str, value: str, needle: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(url, headers={header: value}, allow_redirects=False) as r:
        text = await r.text()
        if r.status != 200 or needle not in text:
            raise RuntimeError(f"{url} answered {r.status} without {needle!r}: {text[:500]}")


async def wrk(url: str, seconds: int, header: str) -> float:
    argv = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "-H", header, url]
    load, output = await run_wrk(argv)
    if load.bad:
        raise RuntimeError(f"{url}: requests failed: {output}")
    return load.requests_per_second


async def run(*, rounds: int = 3, seconds: int = ROUND_SECONDS) -> Result:
    if not have_wrk():
        raise RuntimeError("this benchmark needs wrk (apt-get install wrk)")
    keys = TestKeys()
    async with throwaway_stack("portal_pages") as stack, jwks_server(keys) as jwks_url:
        subscriber_id, code = await prepare(stack)
        subscriber = {"id": str(subscriber_id), "code": code, "role": "owner", "rights": []}
        access = keys.token(scope="", subscriber=subscriber, role="customer", login="bench", ttl=86_400)
        async with (
            identity_process(stack) as identity,
            service_process(stack, "registration", ITS_JWKS_URL=jwks_url) as registration,
            service_process(stack, "updates", ITS_JWKS_URL=jwks_url) as updates,
            service_process(
                stack,
                "portal",
                ITS_IDENTITY_URL=identity.url,
                ITS_REGISTRATION_URL=registration.url,
                ITS_UPDATES_URL=updates.url,
                ITS_JWKS_URL=jwks_url,
            ) as portal,
        ):
            cookie = await portal_session(stack, portal.url, identity.url, access)
            bearer = f"Bearer {access}"
            # page -> (portal URL, the API call it makes, a sign that the answer shows the product)
            pages = {
                "software": (f"{portal.url}/software", f"{registration.url}/v1/registrations", NUMBER),
                "releases": (f"{portal.url}/releases", f"{updates.url}/v1/entitlements", CONFIGURATION),
            }
            for portal_url, api_url, needle in pages.values():
                await check(portal_url, "Cookie", cookie, needle)
                await check(api_url, "Authorization", bearer, needle)
            rates: dict[str, list[float]] = {f"{p}:{w}": [] for p in pages for w in ("portal", "direct")}
            for page, (portal_url, api_url, _) in pages.items():
                await wrk(portal_url, WARMUP_SECONDS, f"Cookie: {cookie}")
                await wrk(api_url, WARMUP_SECONDS, f"Authorization: {bearer}")
                for _ in range(rounds):
                    rates[f"{page}:portal"].append(await wrk(portal_url, seconds, f"Cookie: {cookie}"))
                    rates[f"{page}:direct"].append(await wrk(api_url, seconds, f"Authorization: {bearer}"))
    m = {key: median(values) for key, values in rates.items()}
    figure = median([m["software:portal"], m["releases:portal"]])
    reference = median([m["software:direct"], m["releases:direct"]])
    details = [
        f"wrk -t{THREADS} -c{CONNECTIONS}, {seconds} s a round, {rounds} rounds alternating portal/direct, "
        f"after {WARMUP_SECONDS} s warm-up each; one process per service; figure/reference = mean of the two pages",
        "a page's API calls: /software -> registration GET /v1/registrations; "
        "/releases -> updates GET /v1/entitlements (one call each: a direct 'page' is one request)",
    ]
    for page in pages:
        p, d = m[f"{page}:portal"], m[f"{page}:direct"]
        details += [
            f"/{page} portal pages/s: {spread(rates[f'{page}:portal'])}",
            f"/{page} direct API sequences/s: {spread(rates[f'{page}:direct'])}",
            f"/{page} ratio {p / d:.2f}x (the portal keeps {100 * p / d:.0f} % of the direct rate; "
            f"{1000 / p - 1000 / d:+.2f} ms of CPU-bound time per page at saturation)",
        ]
    details.append(
        "what the portal adds per page: session lookup (PostgreSQL + unsealing the tokens), its own HTTP hop "
        "to the service (client + JSON parse), rendering the Jinja template; the service's work is in both"
    )
    details.append("no target in issue 7: the ratio is reported, not judged")
    return Result(
        name="portal pages (/software, /releases)",
        figure=figure,
        reference=reference,
        unit="pages/s",
        figure_label="portal, cookie session",
        reference_label="same API calls direct",
        target=None,
        details=details,
    )


if __name__ == "__main__":
    import sys

    from bench.common import print_table

    print_table([asyncio.run(run(rounds=1, seconds=2))])
    sys.exit(0)
