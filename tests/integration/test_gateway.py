"""The gateway, deploy/nginx/gateway.conf as shipped (only its SITE values replaced, devtools/gateway.py), in an
nginx of its own with a self-signed certificate, in front of the real services as processes and a stand-in
for the portal (routing is what is tested here, not the portal): every route reaches its service, the
request id is made or kept and passed on, bodies are limited, logins are rate-limited, http goes to https.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import yarl
from aiohttp import web

from devtools.dev_cert import ensure_dev_cert
from devtools.gateway import SHIPPED_UPSTREAMS, Site, check, main_conf, prepare, render, running
from tests.infra import RunningApp, ServiceProcess, TestStack, free_port

SERVICES = ("identity", "registration", "contracts", "updates", "notifications")


# ---- the shipped file, checked by nginx -----------------------------------------------------------------


def local_site(directory: Path, upstreams: dict[str, str] | None = None, kits: Path | None = None) -> Site:
    cert, key = ensure_dev_cert(directory / "tls")
    kits = kits or directory / "kits"
    kits.mkdir(parents=True, exist_ok=True)
    return Site(free_port(), free_port(), cert, key, kits, directory / "log", dict(upstreams or {}))


def test_nginx_accepts_the_shipped_gateway(tmp_path: Path) -> None:
    conf = prepare(tmp_path / "gateway", local_site(tmp_path))
    assert check(conf).returncode == 0


def test_nginx_t_can_fail(tmp_path: Path) -> None:
    """The check above means something: a broken copy is refused."""
    text = render(local_site(tmp_path)).replace("limit_req zone=its_login burst=10 nodelay;", "limit_req;", 1)
    assert check(main_conf(tmp_path / "gateway", text)).returncode != 0


def test_every_site_value_is_replaced_and_nothing_else_points_at_the_shipped_paths(tmp_path: Path) -> None:
    upstreams = {name: f"127.0.0.1:{19000 + i}" for i, name in enumerate(SHIPPED_UPSTREAMS)}
    text = render(local_site(tmp_path, upstreams))
    assert "  # SITE" not in text
    for path in ("/etc/ssl/", "/var/lib/its/", "/var/log/nginx/", "/var/www/", "/var/cache/"):
        assert path not in text
    for address in SHIPPED_UPSTREAMS.values():
        assert f"server {address};" not in text


async def test_with_nothing_behind_it_the_gateway_answers_503_with_a_page(tmp_path: Path) -> None:
    nobody = {name: f"127.0.0.1:{free_port()}" for name in SHIPPED_UPSTREAMS}
    async with (
        running(tmp_path / "nginx", local_site(tmp_path, nobody)) as url,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as http,
        http.get(f"{url}/software") as response,
    ):
        assert response.status == 503
        assert response.content_type == "text/html"
        assert "temporarily unavailable" in await response.text()
        assert response.headers["Retry-After"] == "30"


# ---- a running gateway ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gateway:
    https: str
    http: str


async def portal_stand_in(request: web.Request) -> web.Response:
    """Answers for the portal: what it was asked and with which forwarded headers (a stylesheet under /static/)."""
    if request.path.startswith("/static/"):
        return web.Response(text="body { margin: 0; }\n" * 200, content_type="text/css")
    return web.json_response(
        {
            "app": "portal",
            "method": request.method,
            "path": request.path_qs,
            "request_id": request.headers.get("X-Request-ID"),
            "proto": request.headers.get("X-Forwarded-Proto"),
            "forwarded_for": request.headers.get("X-Forwarded-For"),
        },
        headers={"X-Request-ID": "the-portal-must-not-choose-this"},
    )


def gateway_kits(stack: TestStack) -> Path:
    """The kit storage of updates, which the gateway serves the links from (the same volume, in a deployment)."""
    return stack.var_dir / "gateway-kits"


@pytest.fixture(scope="module")
async def backends(migrated: TestStack, smtp_sink: int) -> AsyncIterator[dict[str, str]]:
    """The five services as processes and the portal stand-in: name → host:port."""
    ports = {name: free_port() for name in SERVICES}
    env = migrated.env(
        ITS_PUBLIC_URL=f"http://127.0.0.1:{ports['identity']}",
        ITS_JWKS_URL=f"http://127.0.0.1:{ports['identity']}/.well-known/jwks.json",
        ITS_SMTP_PORT=str(smtp_sink),
        ITS_KITS_DIR=str(gateway_kits(migrated)),
    )
    logs = migrated.var_dir / "log" / "gateway-test"
    processes = [ServiceProcess(name, env, ports[name], logs / f"{name}.log") for name in SERVICES]
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", portal_stand_in)
    try:
        await asyncio.gather(*(process.start() for process in processes))
        async with RunningApp(app) as portal:
            yield {"portal": f"127.0.0.1:{portal.port}"} | {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    finally:
        await asyncio.gather(*(process.stop() for process in processes))


@pytest.fixture(scope="module")
async def gateway(
    backends: dict[str, str], migrated: TestStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Gateway]:
    directory = tmp_path_factory.mktemp("gateway")
    site = local_site(directory, backends, gateway_kits(migrated))
    async with running(directory / "nginx", site) as url:
        yield Gateway(url, f"http://127.0.0.1:{site.http_port}")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as session:
        yield session


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_is_under_api_its_name_with_the_prefix_stripped(
    gateway: Gateway, http: aiohttp.ClientSession, service: str
) -> None:
    async with http.get(f"{gateway.https}/api/{service}/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}
    async with http.get(f"{gateway.https}/api/{service}/openapi.json") as response:
        assert response.status == 200
        assert (await response.json())["info"]["title"] == f"ITS Portal {service}"


async def test_oauth_token_and_the_jwks_are_identitys(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{gateway.https}/oauth/token", data={"grant_type": "bogus"}) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "unsupported_grant_type"
        assert response.headers["Cache-Control"] == "no-store"
    async with http.post(f"{gateway.https}/oauth/revoke", data={"token": "no-such-token"}) as response:
        assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    async with http.post(f"{gateway.https}/oauth/revoke", data={}) as response:
        assert response.status == 400 and (await response.json())["error"] == "invalid_request"
    async with http.get(f"{gateway.https}/.well-known/jwks.json") as response:
        assert response.status == 200
        assert (await response.json())["keys"]


async def test_an_account_is_made_and_logs_in_through_the_gateway(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    login = f"gw{uuid.uuid4().hex[:8]}"
    account = {
        "login": login,
        "password": "gateway passphrase 1",
        "email": f"{login}@example.com",
        "full_name": "Gate Way",
    }
    async with http.post(f"{gateway.https}/api/identity/v1/accounts", json=account) as response:
        assert response.status == 201, await response.text()
    form = {"grant_type": "password", "username": login, "password": "gateway passphrase 1"}
    async with http.post(f"{gateway.https}/oauth/token", data=form) as response:
        assert response.status == 200, await response.text()
        token = (await response.json())["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(f"{gateway.https}/api/identity/v1/me", headers=headers) as response:
        assert response.status == 200
        assert (await response.json())["login"] == login


async def test_the_site_root_is_the_portals(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{gateway.https}/software?x=1") as response:
        body = await response.json()
    assert body["app"] == "portal" and body["path"] == "/software?x=1"
    assert body["proto"] == "https" and body["forwarded_for"] == "127.0.0.1"


async def test_the_client_address_is_the_gateways_to_say(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    """Identity and the portal throttle logins by X-Forwarded-For: a client cannot pick its own."""
    async with http.get(f"{gateway.https}/login", headers={"X-Forwarded-For": "203.0.113.9"}) as response:
        assert (await response.json())["forwarded_for"] == "127.0.0.1"


async def test_a_request_id_is_generated_passed_on_and_returned(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{gateway.https}/") as response:
        body = await response.json()
        returned = response.headers.getall("X-Request-ID")
    assert len(returned) == 1 and re.fullmatch(r"[0-9a-f]{32}", returned[0])
    assert body["request_id"] == returned[0]  # what the portal logs is what the client sees


async def test_a_clients_request_id_is_kept(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    headers = {"X-Request-ID": "client-chosen.id:42"}
    async with http.get(f"{gateway.https}/", headers=headers) as response:
        assert (await response.json())["request_id"] == "client-chosen.id:42"
        assert response.headers.getall("X-Request-ID") == ["client-chosen.id:42"]
    async with http.get(f"{gateway.https}/api/identity/healthz", headers=headers) as response:
        assert response.headers.getall("X-Request-ID") == ["client-chosen.id:42"]


async def test_a_malformed_request_id_is_replaced(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{gateway.https}/", headers={"X-Request-ID": "bad id; with spaces"}) as response:
        request_id = (await response.json())["request_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)


async def test_text_is_compressed_and_api_json_is_not(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    """The stylesheet goes gzipped; the APIs' JSON, where secrets sit beside what a client sent, does not."""
    gzip = {"Accept-Encoding": "gzip"}
    async with http.get(f"{gateway.https}/static/portal.css", headers=gzip) as response:
        assert response.headers.get("Content-Encoding") == "gzip"
        assert "Accept-Encoding" in response.headers.get("Vary", "")
        assert (await response.text()).startswith("body { margin: 0; }")
    async with http.get(f"{gateway.https}/static/portal.css", headers={"Accept-Encoding": "identity"}) as response:
        assert "Content-Encoding" not in response.headers
    async with http.get(f"{gateway.https}/api/updates/openapi.json", headers=gzip) as response:
        assert response.status == 200 and "Content-Encoding" not in response.headers
        assert len(await response.read()) > 1024  # long enough that it would have been


async def test_api_answers_carry_the_security_headers(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{gateway.https}/api/registration/healthz") as response:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_an_unknown_service_and_the_internal_endpoints_are_not_found(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    for path in (
        "/api/nosuch/healthz",
        "/api/identity/metrics",
        "/api/contracts/readyz",
        "/api/updates/dl-verify",
        "/dl/not-a-link",
        "/metrics",  # the portal's
        "/readyz",
    ):
        async with http.get(f"{gateway.https}{path}") as response:
            assert response.status == 404, path
            assert response.content_type == "application/problem+json", path


async def test_the_signed_update_metadata_is_updates_and_cached_here(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    """No root installed in this stack: updates' 404 problem, as updates says to keep it (30 s), from the cache the
    second time. (tests/e2e/test_updates_tuf_flow.py verifies real metadata through this gateway.)"""
    statuses = []
    for _ in range(2):
        async with http.get(f"{gateway.https}/tuf/1.root.json") as response:
            assert response.status == 404 and response.content_type == "application/problem+json"
            assert (await response.json())["type"].endswith("/update-metadata-not-found")
            assert response.headers["Cache-Control"] == "public, max-age=30"
            statuses.append(response.headers["X-Cache-Status"])
    assert statuses == ["MISS", "HIT"]
    async with http.get(f"{gateway.https}/tuf/not-a-name") as response:
        assert response.status == 404 and response.content_type == "application/problem+json"
    async with http.post(f"{gateway.https}/tuf/timestamp.json", data=b"{}") as response:  # metadata is only read
        assert response.status == 405 and response.content_type == "application/problem+json"


@pytest.fixture(scope="module")
async def kit(migrated: TestStack) -> tuple[bytes, str]:
    """A kit in updates' storage, as a publish leaves it: its bytes and a signed link to it."""
    from services.updates.links import sign_link
    from services.updates.settings import DEV_LINK_SECRET
    from shared.storage.fs import FileSystemStorage

    data = bytes(range(256)) * 4096  # 1 MiB
    sha256 = hashlib.sha256(data).hexdigest()

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    await FileSystemStorage(gateway_kits(migrated)).put(chunks(), sha256=sha256, size=len(data))
    link = sign_link(
        DEV_LINK_SECRET.encode(),
        kit_id=uuid.uuid4(),
        sha256=sha256,
        name="kit.zip",
        subscriber_id=uuid.uuid4(),
        expires=int(time.time()) + 600,
    )
    return data, link


async def test_a_kit_is_sent_by_the_gateway_with_the_services_validators(
    gateway: Gateway, http: aiohttp.ClientSession, kit: tuple[bytes, str]
) -> None:
    data, link = kit
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    async with http.get(f"{gateway.https}{link}") as response:
        assert response.status == 200 and await response.read() == data
        assert response.headers["ETag"] == etag
    async with http.get(f"{gateway.https}{link}", headers={"Range": "bytes=10-19", "If-Range": etag}) as response:
        assert response.status == 206 and await response.read() == data[10:20]


async def test_a_client_that_has_the_kit_gets_304_and_a_stale_if_match_412(
    gateway: Gateway, http: aiohttp.ClientSession, kit: tuple[bytes, str]
) -> None:
    data, link = kit
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    async with http.get(f"{gateway.https}{link}", headers={"If-None-Match": etag}) as response:
        assert response.status == 304
        assert response.headers["ETag"] == etag
        assert await response.read() == b""
    async with http.get(f"{gateway.https}{link}", headers={"If-None-Match": '"older"'}) as response:
        assert response.status == 200 and await response.read() == data
    async with http.get(f"{gateway.https}{link}", headers={"If-Match": '"older"'}) as response:
        assert response.status == 412
        assert response.content_type == "application/problem+json"


async def test_a_range_past_the_end_of_a_kit_is_a_416_problem(
    gateway: Gateway, http: aiohttp.ClientSession, kit: tuple[bytes, str]
) -> None:
    data, link = kit
    async with http.get(f"{gateway.https}{link}", headers={"Range": f"bytes={len(data)}-"}) as response:
        assert response.status == 416
        assert response.content_type == "application/problem+json"
        assert response.headers["Content-Range"] == f"bytes */{len(data)}"


async def test_a_tampered_download_link_is_refused_by_updates(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    link = f"/dl/{'ab' * 32}/kit.zip?kit={uuid.uuid4()}&sub={uuid.uuid4()}&exp=9999999999&sig=forged"
    async with http.get(f"{gateway.https}{link}") as response:
        assert response.status == 403
        assert response.content_type == "application/problem+json"


async def test_a_write_to_a_download_link_is_updates_405_problem(
    gateway: Gateway, http: aiohttp.ClientSession, kit: tuple[bytes, str]
) -> None:
    _, link = kit
    async with http.post(f"{gateway.https}{link}", data=b"x") as response:
        assert response.status == 405
        assert response.content_type == "application/problem+json"
        assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


async def test_a_large_body_is_refused_but_a_kit_upload_goes_through(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    big = b"x" * (2 * 1024 * 1024)
    async with http.post(f"{gateway.https}/api/identity/v1/accounts", data=io.BytesIO(big)) as response:
        assert response.status == 413
        assert response.content_type == "application/problem+json"
    upload = f"{gateway.https}/api/updates/v1/releases/{uuid.uuid4()}/kits/kit.zip/content"
    headers = {"Content-Type": "application/octet-stream"}
    async with http.put(upload, data=io.BytesIO(big), headers=headers) as response:
        assert response.status == 401  # reached updates, which wants an operator's token
    # The operator cabinet's kit forms and reporting form versions' (DAT-2), and only they, take large bodies on the
    # portal's side.
    for path in ("/operator/releases", f"/operator/releases/{uuid.uuid4()}/kits", "/operator/forms"):
        async with http.post(f"{gateway.https}{path}", data=io.BytesIO(big), headers=headers) as response:
            assert response.status == 200 and (await response.json())["path"] == path  # the portal stand-in's
    async with http.post(f"{gateway.https}/operator/partners", data=io.BytesIO(big), headers=headers) as response:
        assert response.status == 413  # a person's form: a page that says what to do
        assert response.content_type == "text/html" and "The form is too large" in await response.text()
    # A form version's file is a few MB: beyond 64 MB it is refused with the same page.
    huge = io.BytesIO(b"x" * (65 * 1024 * 1024))
    async with http.post(f"{gateway.https}/operator/forms", data=huge, headers=headers) as response:
        assert response.status == 413 and "The form is too large" in await response.text()


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/identity/v1/%00", {}, 400),  # nginx refuses a NUL in the path
        ("/software/%00", {}, 400),
        ("/api/identity/healthz", {"X-Big": "a" * 40_000}, 400),  # beyond the header buffers (nginx's 494)
        ("/" + "a" * 20_000, {}, 414),
    ],
    ids=["nul-api", "nul-portal", "header-too-large", "uri-too-long"],
)
async def test_a_request_nginx_cannot_take_gets_problem_json(
    gateway: Gateway, http: aiohttp.ClientSession, path: str, headers: dict[str, str], status: int
) -> None:
    url = yarl.URL(f"{gateway.https}{path}", encoded=True)  # sent as written, not re-quoted
    async with http.get(url, headers=headers) as response:
        assert response.status == status
        assert response.content_type == "application/problem+json"
        assert (await response.json())["status"] == status
        assert response.headers["X-Request-ID"]


async def test_http_redirects_to_https(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{gateway.http}/api/identity/healthz?a=1", allow_redirects=False) as response:
        assert response.status == 301
        assert response.headers["Location"] == f"{gateway.https}/api/identity/healthz?a=1"


async def test_a_person_sending_a_limited_form_too_often_gets_a_page_not_json(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    """The portal's rate-limited forms (PIN registration here) are for people: the gateway's 429 there is a page in
    both languages with Retry-After, while the APIs keep their problem+json."""
    statuses = []
    for _ in range(12):
        async with http.post(f"{gateway.https}/software/register", data={"pin": "1"}) as response:
            statuses.append(response.status)
            if response.status == 429:
                assert response.content_type == "text/html"
                assert response.headers["Retry-After"] == "60"
                page = await response.text()
                assert "Too many attempts" in page and "Слишком много попыток" in page
    assert statuses.count(429) >= 5, statuses


# Last: it spends the login allowance of 127.0.0.1 in this gateway.
async def test_login_attempts_beyond_the_burst_get_429(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    statuses = []
    for _ in range(20):
        async with http.post(f"{gateway.https}/oauth/token", data={"grant_type": "bogus"}) as response:
            statuses.append(response.status)
            if response.status == 429:
                assert response.content_type == "application/problem+json"
                assert response.headers["Retry-After"]
    assert statuses.count(429) >= 5, statuses
    assert set(statuses) <= {400, 429}
    # A form may still be fetched: only POSTs count.
    async with http.get(f"{gateway.https}/login") as response:
        assert response.status == 200
