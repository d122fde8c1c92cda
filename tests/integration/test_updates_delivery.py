"""Kit downloads through signed links (UPD-4; issue 6 "Downloads that scale", "Bad input and attacks").

Real peers: curl (full download, `-C -` resume), aria2c (8 connections fetching byte ranges), raw sockets
for paths no client library would send; real storage: the filesystem, and S3 through a moto server that
checks every request's signature.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import random
import re
import shutil
import stat
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from yarl import URL

from services.updates import delivery
from services.updates.download_figures import DownloadFigures
from services.updates.keys import DOWNLOADS, SETTINGS, STORAGE
from services.updates.links import EXPIRED, MALFORMED, TAMPERED, sign_link
from services.updates.ranges import MAX_RANGES
from services.updates.settings import UpdatesSettings
from shared.app import create_app
from shared.clock import RELOAD_SECONDS, TestClock
from shared.keys import METRICS
from shared.storage import ContentStorage
from shared.storage.check import ContentMismatch
from shared.storage.fs import FileSystemStorage
from shared.storage.s3 import S3Credentials, S3Storage, sign_v4
from tests.infra import RunningApp, free_port, wait_for
from tests.metric_names import scrape

LINK_SECRET = "delivery-test-secret-0123456789abcdef"
SUBSCRIBER = uuid.UUID("5ab5c71b-0000-4000-8000-00000000000a")
S3_BUCKET = "its-kits"


@dataclass(frozen=True)
class Kit:
    name: str
    data: bytes
    sha256: str
    kit_id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def size(self) -> int:
        return len(self.data)


def make_kit(name: str, size: int, seed: int) -> Kit:
    data = random.Random(seed).randbytes(size)  # noqa: S311 (test data, reproducible)
    return Kit(name, data, hashlib.sha256(data).hexdigest())


async def chunked(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@dataclass
class Requests:
    """What the server answered, as seen on the server (Range header, status), to check clients' behaviour."""

    seen: list[tuple[str, str, str | None, int]] = field(default_factory=list)

    async def record(self, request: web.Request, response: web.StreamResponse) -> None:
        self.seen.append((request.method, request.path, request.headers.get("Range"), response.status))

    def of(self, path: str) -> list[tuple[str, str | None, int]]:
        """(method, Range, status) of the requests to `path`."""
        return [(method, rng, status) for method, seen_path, rng, status in self.seen if seen_path == path]


class DeliveryServer:
    def __init__(self, running: RunningApp, storage: ContentStorage, clock: TestClock, requests: Requests) -> None:
        self.running, self.storage, self.clock, self.requests = running, storage, clock, requests

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def http(self) -> aiohttp.ClientSession:
        return self.running.http

    async def add(self, kit: Kit) -> Kit:
        await self.storage.put(chunked(kit.data), sha256=kit.sha256, size=kit.size)
        return kit

    def path(
        self,
        kit: Kit,
        *,
        subscriber: uuid.UUID = SUBSCRIBER,
        lifetime: int = 600,
        sha256: str | None = None,
        name: str | None = None,
    ) -> str:
        """A signed link's path and query; `lifetime` counts from the shared (test) clock's now."""
        expires = int(self.clock.now().timestamp()) + lifetime
        return sign_link(
            LINK_SECRET.encode(),
            kit_id=kit.kit_id,
            sha256=sha256 or kit.sha256,
            name=name or kit.name,
            subscriber_id=subscriber,
            expires=expires,
        )

    def link(self, kit: Kit, **kw: object) -> str:
        return self.url + self.path(kit, **kw)  # type: ignore[arg-type]


def delivery_app(settings: UpdatesSettings, storage: ContentStorage, requests: Requests) -> web.Application:
    """Only the delivery routes and the storage, built like the service (middlewares, problems, clock)."""
    app = create_app(settings, service="updates", api=delivery.routes)
    app[SETTINGS] = settings
    app[STORAGE] = storage
    app[DOWNLOADS] = DownloadFigures.registered(app[METRICS].registry)
    app.on_response_prepare.append(requests.record)
    return app


def delivery_settings(var_dir: Path, kits_dir: Path) -> UpdatesSettings:
    return UpdatesSettings(env="test", var_dir=var_dir, kits_dir=kits_dir, download_link_secret=SecretStr(LINK_SECRET))


@pytest.fixture(scope="module")
async def fs_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DeliveryServer]:
    from shared.storage.fs import FileSystemStorage

    # A var dir of its own: moving this module's test clock moves no other test's.
    var_dir = tmp_path_factory.mktemp("delivery-var")
    settings = delivery_settings(var_dir, tmp_path_factory.mktemp("kits"))
    storage = FileSystemStorage(settings.kits_dir)
    requests = Requests()
    async with RunningApp(delivery_app(settings, storage, requests)) as running:
        yield DeliveryServer(running, storage, TestClock(var_dir), requests)


# ---- S3 (moto) ---------------------------------------------------------------------------------


def moto_server_command() -> list[str]:
    local = Path(sys.executable).parent / "moto_server"
    found = str(local) if local.exists() else shutil.which("moto_server")
    if found is None:
        raise RuntimeError("moto_server not found: install the dev dependency moto[server]")
    return [found]


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3-compatible HTTP server (moto) in its own process."""
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen(
        [*moto_server_command(), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


async def wait_for_s3(endpoint: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(endpoint + "/moto-api/") as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            if loop.time() > deadline:
                raise TimeoutError(f"moto did not start at {endpoint}")
            await asyncio.sleep(0.2)


async def _iam(session: aiohttp.ClientSession, endpoint: str, params: dict[str, str]) -> str:
    body = urlencode({**params, "Version": "2010-05-08"}).encode()
    bootstrap = S3Credentials("bootstrap", "bootstrap", "us-east-1", service="iam")
    headers = sign_v4(
        "POST",
        "/",
        {},
        {"Host": endpoint.removeprefix("http://"), "Content-Type": "application/x-www-form-urlencoded"},
        hashlib.sha256(body).hexdigest(),
        bootstrap,
        datetime.now(UTC),
    )
    async with session.post(endpoint + "/", data=body, headers=headers) as response:
        text = await response.text()
        assert response.status == 200, text
        return text


async def s3_credentials(endpoint: str) -> S3Credentials:
    """A user allowed s3:* and its access key; then moto checks every request's SigV4 signature (with
    botocore's signer), so the S3 tests also test our signing."""
    policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
    async with aiohttp.ClientSession() as session:
        await _iam(session, endpoint, {"Action": "CreateUser", "UserName": "kits"})
        await _iam(
            session,
            endpoint,
            {"Action": "PutUserPolicy", "UserName": "kits", "PolicyName": "kits", "PolicyDocument": policy},
        )
        created = await _iam(session, endpoint, {"Action": "CreateAccessKey", "UserName": "kits"})
        async with session.post(endpoint + "/moto-api/reset-auth", data=b"0") as response:
            assert response.status == 200, await response.text()  # authentication from now on
    access_key = re.search(r"<AccessKeyId>([^<]+)</AccessKeyId>", created)
    secret_key = re.search(r"<SecretAccessKey>([^<]+)</SecretAccessKey>", created)
    assert access_key is not None and secret_key is not None, created
    return S3Credentials(access_key[1], secret_key[1], "us-east-1")


async def create_bucket(endpoint: str, bucket: str, credentials: S3Credentials) -> None:
    host = endpoint.removeprefix("http://")
    headers = sign_v4(
        "PUT", f"/{bucket}", {}, {"Host": host}, hashlib.sha256(b"").hexdigest(), credentials, datetime.now(UTC)
    )
    async with (
        aiohttp.ClientSession() as session,
        session.put(f"{endpoint}/{bucket}", headers=headers) as response,
    ):
        assert response.status == 200, await response.text()


@pytest.fixture(scope="module")
async def s3_credentials_fixture(moto_endpoint: str) -> S3Credentials:
    await wait_for_s3(moto_endpoint)
    credentials = await s3_credentials(moto_endpoint)
    await create_bucket(moto_endpoint, S3_BUCKET, credentials)
    return credentials


@pytest.fixture(scope="module")
async def s3_storage(moto_endpoint: str, s3_credentials_fixture: S3Credentials) -> AsyncIterator[S3Storage]:
    # Small parts so that a few MiB make a real multipart upload (5 MiB is S3's minimum but for the last).
    storage = S3Storage(
        endpoint=moto_endpoint, bucket=S3_BUCKET, credentials=s3_credentials_fixture, part_size=5 * 1024 * 1024
    )
    try:
        yield storage
    finally:
        await storage.close()


@pytest.fixture(scope="module")
async def s3_server(s3_storage: S3Storage, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DeliveryServer]:
    var_dir = tmp_path_factory.mktemp("delivery-s3-var")
    settings = delivery_settings(var_dir, tmp_path_factory.mktemp("unused-kits"))
    requests = Requests()
    async with RunningApp(delivery_app(settings, s3_storage, requests)) as running:
        yield DeliveryServer(running, s3_storage, TestClock(var_dir), requests)


# ---- the tests --------------------------------------------------------------------------------

PROBLEM = "application/problem+json"
SMALL = make_kit("small.cfu", 300_001, seed=1)
BIG = make_kit("1Cv8.cf", 12 * 1024 * 1024 + 12_345, seed=2)  # big enough for aria2c to split in 1 MiB pieces
EMPTY = make_kit("ReadMe.txt", 0, seed=3)


@pytest.fixture(scope="module")
async def fs(fs_server: DeliveryServer) -> DeliveryServer:
    for kit in (SMALL, BIG, EMPTY):
        await fs_server.add(kit)
    return fs_server


async def run(*command: str, timeout: float = 120) -> tuple[int, str]:
    """A real client as its own process (the server shares this event loop, so never block it)."""
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def repr_digest(data: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


async def raw_request(port: int, target: str, method: str = "GET", headers: str = "") -> tuple[int, bytes, bytes]:
    """(status, header block, body) for a request line sent byte for byte as given."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"{method} {target} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n".encode())
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


def parse_byteranges(body: bytes, boundary: str) -> list[tuple[str, bytes]]:
    """multipart/byteranges as on the wire (RFC 9110 §14.6): [(Content-Range, data)]."""
    delimiter = b"--" + boundary.encode()
    closing = b"\r\n" + delimiter + b"--\r\n"
    assert body.startswith(delimiter + b"\r\n") and body.endswith(closing)
    sections = body[len(delimiter) + 2 : -len(closing)].split(b"\r\n" + delimiter + b"\r\n")
    parts = []
    for section in sections:
        head, _, data = section.partition(b"\r\n\r\n")
        fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        assert fields["Content-Type"] == "application/octet-stream"
        parts.append((fields["Content-Range"], data))
    return parts


# ---- whole downloads with real clients ---------------------------------------------------------


async def test_curl_downloads_the_exact_kit_with_its_headers(fs: DeliveryServer, tmp_path: Path) -> None:
    out, headers = tmp_path / SMALL.name, tmp_path / "headers"
    code, output = await run("curl", "-sS", "-f", "-D", str(headers), "-o", str(out), fs.link(SMALL))
    assert code == 0, output
    assert sha256_of(out) == SMALL.sha256
    lines = headers.read_bytes().decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    fields = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:] if line)}
    assert fields["content-length"] == str(SMALL.size)
    assert fields["content-type"] == "application/octet-stream"
    assert fields["etag"] == f'"{SMALL.sha256}"'
    assert fields["accept-ranges"] == "bytes"
    assert fields["repr-digest"] == repr_digest(SMALL.data)
    assert fields["content-disposition"] == f'attachment; filename="{SMALL.name}"'
    max_age = int(fields["cache-control"].removeprefix("private, max-age="))
    assert 590 <= max_age <= 600  # what is left of the link's life


async def test_downloads_are_counted_whole_by_range_and_broken(fs: DeliveryServer) -> None:
    """updates' /metrics: the bytes of kits sent, the downloads by outcome, none active once they are over."""

    async def quiet() -> dict[str, float] | None:
        figures = await scrape(fs.http)
        return figures if figures["updates_downloads_active"] == 0 else None

    # An earlier test's download is counted when the server has finished it, which may be after its client has all
    # the bytes (CI counted one of them between this test's two scrapes).
    before = await wait_for(quiet, timeout=10, what="no download in flight")
    async with fs.http.get(fs.link(SMALL)) as whole:
        assert whole.status == 200 and await whole.read() == SMALL.data
    async with fs.http.get(fs.link(SMALL), headers={"Range": "bytes=10-19"}) as part:
        assert part.status == 206 and await part.read() == SMALL.data[10:20]
    async with fs.http.head(fs.link(SMALL)) as head:  # headers only: no download
        assert head.status == 200
    # A client that reads the start of the big kit and hangs up.
    reader, writer = await asyncio.open_connection("127.0.0.1", URL(fs.url).port)
    writer.write(f"GET {fs.path(BIG, name='hung-up.cf')} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await reader.readexactly(64 * 1024)
    writer.transport.abort()

    async def counted() -> dict[str, float] | None:
        figures = await scrape(fs.http)
        broken = 'updates_downloads_total{outcome="broken"}'
        return figures if figures.get(broken, 0) > before.get(broken, 0) else None

    after = await wait_for(counted, timeout=10, what="the broken download counted")
    complete = 'updates_downloads_total{outcome="complete"}'
    assert after[complete] - before.get(complete, 0) == 2
    assert after["updates_downloads_active"] == 0
    sent = after["updates_download_bytes_total"] - before.get("updates_download_bytes_total", 0)
    assert SMALL.size + 10 <= sent < SMALL.size + 10 + BIG.size  # the broken one: what went out before it broke


async def test_curl_resumes_a_broken_download(fs: DeliveryServer, tmp_path: Path) -> None:
    out = tmp_path / BIG.name
    out.write_bytes(BIG.data[:5_000_017])  # what arrived before the connection broke
    path = fs.path(BIG)
    code, output = await run("curl", "-sS", "-f", "-C", "-", "-o", str(out), fs.url + path)
    assert code == 0, output
    assert sha256_of(out) == BIG.sha256
    assert fs.requests.of(path.split("?")[0]) == [("GET", "bytes=5000017-", 206)]


async def test_aria2c_fetches_the_kit_over_eight_connections_by_ranges(fs: DeliveryServer, tmp_path: Path) -> None:
    path = fs.path(BIG)
    code, output = await run(
        "aria2c",
        "--no-conf",
        "-x",
        "8",
        "-s",
        "8",
        "-k",
        "1M",
        "--file-allocation=none",
        "--allow-overwrite=true",
        "--auto-file-renaming=false",
        "--console-log-level=warn",
        "--summary-interval=0",
        "--max-tries=1",
        "-d",
        str(tmp_path),
        "-o",
        BIG.name,
        fs.url + path,
    )
    assert code == 0, output
    assert sha256_of(tmp_path / BIG.name) == BIG.sha256
    partial = [rng for method, rng, status in fs.requests.of(path.split("?")[0]) if status == 206]
    assert len(partial) >= 4, fs.requests.of(path.split("?")[0])  # really fetched in pieces, in parallel


async def test_an_empty_kit_downloads_as_empty(fs: DeliveryServer) -> None:
    async with fs.http.get(fs.path(EMPTY), headers={"Range": "bytes=0-"}) as response:
        assert response.status == 200
        assert response.headers["Content-Length"] == "0"
        assert await response.read() == b""
        assert response.headers["Repr-Digest"] == repr_digest(b"")


# ---- ranges ------------------------------------------------------------------------------------


async def test_a_single_range_is_206_with_content_range(fs: DeliveryServer) -> None:
    async with fs.http.get(fs.path(SMALL), headers={"Range": "bytes=1000-1999"}) as response:
        assert response.status == 206
        assert response.headers["Content-Range"] == f"bytes 1000-1999/{SMALL.size}"
        assert response.headers["Content-Length"] == "1000"
        assert await response.read() == SMALL.data[1000:2000]
        # The representation digest is the whole kit's, also for a part of it (RFC 9530).
        assert response.headers["Repr-Digest"] == repr_digest(SMALL.data)
    async with fs.http.get(fs.path(SMALL), headers={"Range": "bytes=-10"}) as response:
        assert response.status == 206
        assert await response.read() == SMALL.data[-10:]


async def test_several_ranges_are_206_multipart_byteranges(fs: DeliveryServer) -> None:
    ranges = "bytes=-50, 0-99,200000-200099"
    async with fs.http.get(fs.path(SMALL), headers={"Range": ranges}) as response:
        assert response.status == 206
        content_type, _, boundary = response.headers["Content-Type"].partition("; boundary=")
        assert content_type == "multipart/byteranges"
        body = await response.read()
        assert int(response.headers["Content-Length"]) == len(body)
    size = SMALL.size
    assert (
        parse_byteranges(body, boundary)
        == [  # in file order
            (f"bytes 0-99/{size}", SMALL.data[:100]),
            (f"bytes 200000-200099/{size}", SMALL.data[200000:200100]),
            (f"bytes {size - 50}-{size - 1}/{size}", SMALL.data[-50:]),
        ]
    )
    # ... and a standard multipart parser reads the same parts.
    async with fs.http.get(fs.path(SMALL), headers={"Range": ranges}) as response:
        reader = aiohttp.MultipartReader.from_response(response)
        parts = []
        while (part := await reader.next()) is not None:
            assert isinstance(part, aiohttp.BodyPartReader)
            parts.append((part.headers["Content-Range"], bytes(await part.read())))
    assert parts == parse_byteranges(body, boundary)


async def test_ranges_past_the_end_are_416(fs: DeliveryServer) -> None:
    for ranges in (f"bytes={SMALL.size}-", f"bytes={SMALL.size + 10}-{SMALL.size + 20}", "bytes=-0"):
        async with fs.http.get(fs.path(SMALL), headers={"Range": ranges}) as response:
            assert response.status == 416, ranges
            assert response.headers["Content-Range"] == f"bytes */{SMALL.size}"
            assert response.content_type == PROBLEM
            assert (await response.json())["type"].endswith("/range-not-satisfiable")


async def test_malformed_ranges_are_ignored_and_the_whole_kit_sent(fs: DeliveryServer) -> None:
    for ranges in ("bytes=5-1", "bytes=abc", "lines=1-2", "bytes=1-2-3"):
        async with fs.http.get(fs.path(SMALL), headers={"Range": ranges}) as response:
            assert response.status == 200, ranges
            assert await response.read() == SMALL.data


async def test_range_abuse_never_sends_more_than_the_kit(fs: DeliveryServer) -> None:
    async with fs.http.get(fs.path(SMALL), headers={"Range": "bytes=0-,0-,0-,0-,1-,-300000"}) as response:
        assert response.status == 206  # merged into one range
        assert response.headers["Content-Range"] == f"bytes 0-{SMALL.size - 1}/{SMALL.size}"
        assert await response.read() == SMALL.data
    too_many = ",".join(f"{n * 1000}-{n * 1000 + 9}" for n in range(MAX_RANGES + 1))
    async with fs.http.get(fs.path(SMALL), headers={"Range": f"bytes={too_many}"}) as response:
        assert response.status == 200  # ignored: a plain download
        assert await response.read() == SMALL.data


async def test_two_range_headers_are_ignored(fs: DeliveryServer) -> None:
    status, _, body = await raw_request(
        fs.running.port, fs.path(SMALL), headers="Range: bytes=0-9\r\nRange: bytes=10-19\r\n"
    )
    assert status == 200 and body == SMALL.data


# ---- validators --------------------------------------------------------------------------------


async def test_if_none_match_with_the_etag_is_304(fs: DeliveryServer) -> None:
    etag = f'"{SMALL.sha256}"'
    for header in (etag, f'"other", W/{etag}', "*"):
        async with fs.http.get(fs.path(SMALL), headers={"If-None-Match": header}) as response:
            assert response.status == 304, header
            assert response.headers["ETag"] == etag
            assert await response.read() == b""
    async with fs.http.get(fs.path(SMALL), headers={"If-None-Match": '"something-else"'}) as response:
        assert response.status == 200
        assert await response.read() == SMALL.data


async def test_if_range_honours_ranges_only_for_the_same_etag(fs: DeliveryServer) -> None:
    same = {"Range": "bytes=0-9", "If-Range": f'"{SMALL.sha256}"'}
    async with fs.http.get(fs.path(SMALL), headers=same) as response:
        assert response.status == 206
        assert await response.read() == SMALL.data[:10]
    for if_range in (f'"{BIG.sha256}"', f'W/"{SMALL.sha256}"', "Wed, 21 Oct 2015 07:28:00 GMT"):
        async with fs.http.get(fs.path(SMALL), headers={"Range": "bytes=0-9", "If-Range": if_range}) as response:
            assert response.status == 200, if_range  # the client's piece is stale: the whole kit
            assert await response.read() == SMALL.data


async def test_if_match_with_another_etag_is_412(fs: DeliveryServer) -> None:
    async with fs.http.get(fs.path(SMALL), headers={"If-Match": f'"{BIG.sha256}"'}) as response:
        assert response.status == 412
        assert response.content_type == PROBLEM
    async with fs.http.get(fs.path(SMALL), headers={"If-Match": f'"{SMALL.sha256}"'}) as response:
        assert response.status == 200


async def test_head_has_the_headers_and_no_body(fs: DeliveryServer) -> None:
    status, head, body = await raw_request(fs.running.port, fs.path(BIG), method="HEAD", headers="Range: bytes=0-9\r\n")
    assert status == 200  # Range is defined for GET only
    assert body == b""  # nothing after the headers, though the connection was closed by the server
    fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    assert fields["Content-Length"] == str(BIG.size)
    assert fields["ETag"] == f'"{BIG.sha256}"'
    assert fields["Repr-Digest"] == repr_digest(BIG.data)
    assert fields["Accept-Ranges"] == "bytes"
    assert "Content-Range" not in fields


# ---- links -------------------------------------------------------------------------------------


async def assert_rejected(fs: DeliveryServer, target: str, detail: str) -> None:
    async with fs.http.get(target) as response:
        assert response.status == 403, target
        assert response.content_type == PROBLEM
        problem = await response.json()
        assert problem["type"].endswith("/link-rejected")
        assert problem["detail"] == detail


async def test_a_tampered_link_is_403(fs: DeliveryServer) -> None:
    path, _, query = fs.path(SMALL).partition("?")
    fields = dict(urllib.parse.parse_qsl(query))
    for name, value in (
        ("kit", str(uuid.uuid4())),
        ("exp", str(int(fields["exp"]) + 86_400)),
        ("sig", ("A" if fields["sig"][0] != "A" else "B") + fields["sig"][1:]),
    ):
        await assert_rejected(fs, f"{path}?{urllib.parse.urlencode({**fields, name: value})}", TAMPERED)
    # Another kit's content, or another name, under a link signed for this one.
    await assert_rejected(fs, f"/dl/{BIG.sha256}/{SMALL.name}?{query}", TAMPERED)
    await assert_rejected(fs, f"/dl/{SMALL.sha256}/{BIG.name}?{query}", TAMPERED)
    await assert_rejected(fs, f"{path}?{query}&sig=x", MALFORMED)  # a second sig
    await assert_rejected(fs, path, MALFORMED)


async def test_another_subscribers_link_is_403(fs: DeliveryServer) -> None:
    theirs = dict(urllib.parse.parse_qsl(fs.path(SMALL, subscriber=uuid.uuid4()).partition("?")[2]))
    path, _, query = fs.path(SMALL).partition("?")
    ours = dict(urllib.parse.parse_qsl(query))
    await assert_rejected(fs, f"{path}?{urllib.parse.urlencode({**theirs, 'sub': ours['sub']})}", TAMPERED)


async def test_an_expired_link_is_403_and_the_shared_clock_expires_links(fs: DeliveryServer) -> None:
    await assert_rejected(fs, fs.path(SMALL, lifetime=-1), EXPIRED)
    link = fs.path(SMALL, lifetime=60)
    async with fs.http.get(link) as response:
        assert response.status == 200
        await response.read()
    fs.clock.advance(timedelta(seconds=61))
    try:
        await asyncio.sleep(RELOAD_SECONDS * 2)  # the server process reads the clock file this often
        await assert_rejected(fs, link, EXPIRED)
    finally:
        fs.clock.reset()
        await asyncio.sleep(RELOAD_SECONDS * 2)  # and back, before the next test signs links


async def test_a_link_to_a_kit_not_stored_is_404(fs: DeliveryServer) -> None:
    missing = make_kit("missing.cfu", 10, seed=99)
    async with fs.http.get(fs.path(missing)) as response:
        assert response.status == 404
        assert (await response.json())["type"].endswith("/kit-not-found")


# ---- path traversal ------------------------------------------------------------------------------


async def test_path_traversal_in_every_form_never_reaches_a_file(fs: DeliveryServer) -> None:
    query = fs.path(SMALL).partition("?")[2]
    sha, name = SMALL.sha256, SMALL.name
    targets = [
        f"/dl/../../etc/passwd/x?{query}",
        f"/dl/..%2f..%2fetc%2fpasswd/x?{query}",
        f"/dl/%2e%2e%2f%2e%2e%2fetc%2fpasswd/x?{query}",
        f"/dl/%2e%2e/%2e%2e/etc/passwd?{query}",
        f"/dl/%252e%252e%252f/x?{query}",
        f"/dl/..%5c..%5cetc%5cpasswd/x?{query}",
        f"/dl/{sha}/..%2f..%2f..%2fetc%2fpasswd?{query}",
        f"/dl/{sha}/%2e%2e?{query}",
        f"/dl/{sha}/../../../../etc/passwd?{query}",
        f"/dl//etc/passwd?{query}",
        f"/dl/{sha.upper()}/{name}?{query}",
        f"/dl/{sha[:63]}/{name}?{query}",
        f"/dl/{sha[:-1]}z/{name}?{query}",
        f"/dl/{sha}%00/{name}?{query}",
        f"/dl/{sha}/{name}%00.txt?{query}",
        f"/dl/{sha}/{name}/extra?{query}",
        f"/dl/{'../' * 8}etc/passwd?{query}",
    ]
    for target in targets:
        status, _, body = await raw_request(fs.running.port, target)
        assert status in (400, 403, 404), (target, status)
        assert b"root:" not in body and SMALL.data[:64] not in body, target


async def test_symlinks_in_storage_are_never_followed(fs: DeliveryServer, tmp_path: Path) -> None:
    assert isinstance(fs.storage, FileSystemStorage)
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"root:x:0:0:outside the storage root\n")
    planted = [make_kit(f"planted{n}.cfu", 100, seed=100 + n) for n in range(3)]
    # 1. the kit's own path is a link to a file outside the root
    (link := fs.storage.path_for(planted[0].sha256)).parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)
    # 2. a link to another, genuine kit inside the root (it would serve the wrong content under this sha)
    (link := fs.storage.path_for(planted[1].sha256)).parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(fs.storage.path_for(SMALL.sha256))
    # 3. a shard directory that is a link to a directory outside the root
    sha = planted[2].sha256
    (outside_dir := tmp_path / "shard" / sha[2:4]).mkdir(parents=True)
    (outside_dir / sha).write_bytes(b"root:x:0:0:outside the storage root\n")
    shard = fs.storage.root / sha[:2]
    assert not shard.exists()
    shard.symlink_to(tmp_path / "shard")
    try:
        for kit in planted:
            assert fs.storage.local_path(kit.sha256) is None
            assert not await fs.storage.has(kit.sha256)
            async with fs.http.get(fs.path(kit)) as response:
                assert response.status == 404, kit
                body = await response.read()
                assert b"root:" not in body and SMALL.data[:64] not in body
            code, status = await run("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", fs.link(kit))
            assert (code, status) == (0, "404")
    finally:
        shard.unlink()
    assert fs.storage.local_path("../" * 10 + "etc/passwd") is None


# ---- nginx auth_request ------------------------------------------------------------------------------


async def test_dl_verify_answers_204_with_the_kits_path_for_a_valid_link(fs: DeliveryServer) -> None:
    async with fs.http.get("/dl-verify", headers={"X-Original-URI": fs.path(BIG)}) as response:
        assert response.status == 204
        sha = BIG.sha256
        assert response.headers["X-Kit-Sha256"] == sha
        assert response.headers["X-Kit-Path"] == f"{sha[:2]}/{sha[2:4]}/{sha}"
        assert 590 <= int(response.headers["X-Kit-Max-Age"]) <= 600
        assert response.headers["Repr-Digest"] == repr_digest(BIG.data)


async def test_dl_verify_answers_403_for_anything_else(fs: DeliveryServer) -> None:
    path, _, query = fs.path(BIG).partition("?")
    fields = dict(urllib.parse.parse_qsl(query))
    tampered = urllib.parse.urlencode({**fields, "sub": str(uuid.uuid4())})
    for original in (
        None,
        "",
        f"{path}?{tampered}",
        fs.path(BIG, lifetime=-1),
        f"http://evil.example{path}?{query}",  # only a path, as nginx's $request_uri is
        f"/other{path}?{query}",
        f"/dl/../dl/{BIG.sha256}/{BIG.name}?{query}",
        f"{path}/x?{query}",
        "%",
        "/dl/%zz/x?sig=",
    ):
        headers = {} if original is None else {"X-Original-URI": original}
        async with fs.http.get("/dl-verify", headers=headers) as response:
            assert response.status == 403, original
            assert response.content_type == PROBLEM


# ---- filesystem storage ------------------------------------------------------------------------------


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())


async def test_put_stores_the_kit_read_only_under_its_sha256(tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path / "kits")
    await storage.put(chunked(SMALL.data, 1000), sha256=SMALL.sha256, size=SMALL.size)
    path = storage.local_path(SMALL.sha256)
    sha = SMALL.sha256
    assert path == storage.root / sha[:2] / sha[2:4] / sha
    assert path.read_bytes() == SMALL.data
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert await storage.size(sha) == SMALL.size
    assert list((storage.root / "tmp").iterdir()) == []


async def test_a_kit_that_does_not_match_its_declaration_leaves_nothing(tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path / "kits")
    wrong_sha = hashlib.sha256(b"something else").hexdigest()
    cases = [
        (wrong_sha, SMALL.size, "sha256"),
        (SMALL.sha256, SMALL.size + 1, "received"),  # shorter than declared
        (SMALL.sha256, SMALL.size - 1, "larger"),  # longer than declared
    ]
    for sha, size, words in cases:
        with pytest.raises(ContentMismatch, match=words) as caught:
            await storage.put(chunked(SMALL.data), sha256=sha, size=size)
        problem = caught.value
        assert problem.status == 422
        assert problem.body()["type"].endswith("/kit-mismatch")
        assert problem.extra["expected_size"] == size and problem.extra["expected_sha256"] == sha
        assert stored_files(storage.root) == []
        assert not await storage.has(sha)


async def test_an_oversized_upload_is_refused_as_soon_as_it_exceeds(tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path / "kits")
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        while True:
            sent += 1
            yield b"x" * 65536

    with pytest.raises(ContentMismatch) as caught:
        await storage.put(endless(), sha256=SMALL.sha256, size=1_000_000)
    assert sent == 16  # 16 x 64 KiB is the first chunk past 1,000,000 bytes
    assert caught.value.extra["received_size"] == 16 * 65536
    assert stored_files(storage.root) == []


async def test_concurrent_puts_of_the_same_kit_are_safe(tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path / "kits")
    await asyncio.gather(
        *(storage.put(chunked(BIG.data, 100_000 + n), sha256=BIG.sha256, size=BIG.size) for n in range(4))
    )
    path = storage.local_path(BIG.sha256)
    assert path is not None and sha256_of(path) == BIG.sha256
    assert stored_files(storage.root) == [path]


async def test_a_put_of_a_stored_kit_reads_and_checks_the_upload(tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path / "kits")
    await storage.put(chunked(SMALL.data), sha256=SMALL.sha256, size=SMALL.size)
    await storage.put(chunked(SMALL.data), sha256=SMALL.sha256, size=SMALL.size)  # drained, fine
    with pytest.raises(ContentMismatch):
        await storage.put(chunked(BIG.data[: SMALL.size]), sha256=SMALL.sha256, size=SMALL.size)
    path = storage.local_path(SMALL.sha256)
    assert path is not None and path.read_bytes() == SMALL.data  # untouched


async def test_a_cancelled_upload_leaves_no_temp_file(tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path / "kits")
    started = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield b"x" * (2 * 1024 * 1024)  # one full batch written to the temp file
        started.set()
        await asyncio.sleep(3600)
        yield b""

    upload = asyncio.create_task(storage.put(stalls(), sha256=BIG.sha256, size=BIG.size))
    await started.wait()
    await asyncio.sleep(0.1)
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload
    assert stored_files(storage.root) == []


# ---- S3 -----------------------------------------------------------------------------------------


def test_sigv4_matches_the_documented_s3_get_object_example() -> None:
    """AWS's S3 SigV4 example (GET /test.txt, Range: bytes=0-9, 2013-05-24, examplebucket)."""
    headers = sign_v4(
        "GET",
        "/test.txt",
        {},
        {"Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9"},
        hashlib.sha256(b"").hexdigest(),
        S3Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1"),
        datetime(2013, 5, 24, tzinfo=UTC),
    )
    assert headers["x-amz-date"] == "20130524T000000Z"
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_sigv4_signs_the_query_sorted_and_encoded() -> None:
    """The canonical query string, rebuilt here by the documented rules (sorted, RFC 3986-encoded)."""
    credentials = S3Credentials("AKID", "secret", "eu-west-1")
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    query = {"uploadId": "a b/c+", "partNumber": "2"}
    headers = sign_v4("PUT", "/bucket/kits/x", query, {"Host": "s3.local:9000"}, "UNSIGNED-PAYLOAD", credentials, when)
    canonical = "\n".join(
        [
            "PUT",
            "/bucket/kits/x",
            "partNumber=2&uploadId=a%20b%2Fc%2B",
            "host:s3.local:9000\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:20260102T030405Z\n",
            "host;x-amz-content-sha256;x-amz-date",
            "UNSIGNED-PAYLOAD",
        ]
    )
    scope = "20260102/eu-west-1/s3/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n20260102T030405Z\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = b"AWS4secret"
    for part in ("20260102", "eu-west-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    assert headers["Authorization"].endswith("Signature=" + hmac.new(key, to_sign.encode(), "sha256").hexdigest())


async def test_s3_put_is_multipart_checked_and_atomic(s3_storage: S3Storage) -> None:
    kit = make_kit("s3.cfu", 11 * 1024 * 1024 + 3, seed=20)  # three parts of 5 MiB, 5 MiB, 1 MiB
    assert not await s3_storage.has(kit.sha256)
    await s3_storage.put(chunked(kit.data), sha256=kit.sha256, size=kit.size)
    assert await s3_storage.size(kit.sha256) == kit.size
    assert s3_storage.local_path(kit.sha256) is None
    got = b"".join([chunk async for chunk in s3_storage.open_range(kit.sha256, 5 * 1024 * 1024 - 7, kit.size)])
    assert got == kit.data[5 * 1024 * 1024 - 7 :]
    await s3_storage.put(chunked(kit.data), sha256=kit.sha256, size=kit.size)  # already there: checked, fine


async def test_s3_mismatches_leave_no_object_and_no_upload(s3_storage: S3Storage) -> None:
    kit = make_kit("s3-bad.cfu", 6 * 1024 * 1024, seed=21)
    wrong = hashlib.sha256(b"declared, not sent").hexdigest()
    for sha, size in ((wrong, kit.size), (kit.sha256, kit.size - 1), (kit.sha256, kit.size + 1)):
        with pytest.raises(ContentMismatch):
            await s3_storage.put(chunked(kit.data), sha256=sha, size=size)
        assert not await s3_storage.has(sha)
    # Every multipart upload was aborted: none is left in progress in the bucket.
    async with s3_storage._request("GET", f"/{S3_BUCKET}", query={"uploads": ""}) as response:
        listing = await response.text()
        assert response.status == 200, listing
    assert "<Upload>" not in listing


async def test_s3_with_wrong_credentials_is_refused(s3_storage: S3Storage) -> None:
    wrong = S3Storage(
        endpoint=str(s3_storage.endpoint),
        bucket=S3_BUCKET,
        credentials=S3Credentials(s3_storage.credentials.access_key, "not-the-secret", "us-east-1"),
    )
    try:
        with pytest.raises(RuntimeError, match="403"):
            await wrong.has(SMALL.sha256)
    finally:
        await wrong.close()


async def test_the_link_handler_serves_kits_from_s3(s3_server: DeliveryServer, tmp_path: Path) -> None:
    kit = await s3_server.add(make_kit("from-s3.cfu", 6 * 1024 * 1024 + 5, seed=22))
    out = tmp_path / kit.name
    code, output = await run("curl", "-sS", "-f", "-o", str(out), s3_server.link(kit))
    assert code == 0, output
    assert sha256_of(out) == kit.sha256
    out.write_bytes(kit.data[:1234567])
    code, output = await run("curl", "-sS", "-f", "-C", "-", "-o", str(out), s3_server.link(kit))
    assert code == 0, output
    assert sha256_of(out) == kit.sha256
    async with s3_server.http.get(s3_server.path(kit), headers={"Range": "bytes=0-9,-10"}) as response:
        assert response.status == 206
        boundary = response.headers["Content-Type"].partition("; boundary=")[2]
        body = await response.read()
    assert parse_byteranges(body, boundary) == [
        (f"bytes 0-9/{kit.size}", kit.data[:10]),
        (f"bytes {kit.size - 10}-{kit.size - 1}/{kit.size}", kit.data[-10:]),
    ]
    missing = make_kit("missing.cfu", 5, seed=23)
    async with s3_server.http.get(s3_server.path(missing)) as response:
        assert response.status == 404


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # curl and aria2c honour http_proxy; the servers are on loopback.
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
