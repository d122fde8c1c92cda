"""`itsctl download`, the reference download client: resume, retries, verification, refusals.

Peers: a hostile HTTP server of our own (cuts connections after N bytes, ignores ranges, lies about the
digest, refuses the link) written on raw sockets so that it can misbehave in ways a framework would not
let it; and the real thing — the updates service's link handler, and nginx with deploy/nginx/updates.conf
verifying links at the updates service — behind a proxy that cuts connections short.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from typer.testing import CliRunner, Result

from itsctl.cli import app
from itsctl.download import Downloaded, DownloadFailed, download, repr_digest_sha256
from tests.infra import TestStack, free_port

SIZE = 3_000_000
CUT = 700_000


def flat(text: str) -> str:
    return " ".join(text.split())


def itsctl(*args: str, **env: str | None) -> Result:
    return CliRunner().invoke(app, list(args), env={"ITS_TOKEN": None, **env}, catch_exceptions=False)


def repr_digest(sha256: str) -> str:
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:"


# ---- a hostile peer ---------------------------------------------------------------------------------


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


@dataclass
class HostilePeer:
    """Serves `data` at /dl/<sha256>/kit.bin (any query) with ETag = sha256 and Repr-Digest, over raw
    sockets, one response per connection. Misbehaves as told."""

    data: bytes
    cut_after: int | None = None  # close the connection after this many body bytes...
    cuts: int = 1_000_000  # ...in this many responses
    ignore_range: bool = False
    refuse: int | None = None  # answer every request with this status
    repr_digest: str | None = None  # instead of the true one
    etag: str | None = None  # instead of the true one
    token: str | None = None  # /v1/kits/<id>/download needs it; answers 303 to `link_base` + the link
    link_base: str = ""
    next_version: tuple[bytes, str] | None = None  # (data, ETag) served after the first answer
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def link_path(self) -> str:
        return f"/dl/{self.sha256}/kit.bin?kit={uuid.uuid4()}&sub={uuid.uuid4()}&exp=9999999999&sig=x"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head.split("\r\n")
            path = request_line.split(" ")[1]
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
            self.seen.append(Seen(path, headers))
            writer.write(self.answer(path, headers))
            if self.next_version is not None:
                (self.data, self.etag), self.next_version = self.next_version, None
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def answer(self, path: str, headers: dict[str, str]) -> bytes:
        if path.startswith("/v1/kits/"):
            if headers.get("authorization") != f"Bearer {self.token}":
                return _response(401, {"Content-Type": "application/problem+json"}, b'{"title":"Unauthorized"}')
            return _response(303, {"Location": self.link_base + self.link_path}, b"")
        if self.refuse is not None:
            body = b'{"title":"This download link is not valid","detail":"The download link has expired"}'
            return _response(self.refuse, {"Content-Type": "application/problem+json"}, body)
        etag = self.etag or f'"{self.sha256}"'
        common = {"ETag": etag, "Repr-Digest": self.repr_digest or repr_digest(self.sha256), "Accept-Ranges": "bytes"}
        start, status = 0, 200
        wanted = headers.get("range", "")
        if wanted.startswith("bytes=") and not self.ignore_range and headers.get("if-range", etag) == etag:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= len(self.data):
                return _response(416, {**common, "Content-Range": f"bytes */{len(self.data)}"}, b"")
            status = 206
            common["Content-Range"] = f"bytes {start}-{len(self.data) - 1}/{len(self.data)}"
        body = self.data[start:]
        announced = len(body)
        if self.cut_after is not None and self.cuts > 0:
            self.cuts -= 1
            body = body[: self.cut_after]
        return _response(status, {**common, "Content-Type": "application/octet-stream"}, body, length=announced)


def _response(status: int, headers: dict[str, str], body: bytes, *, length: int | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body) if length is None else length}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@contextlib.asynccontextmanager
async def serving(peer: HostilePeer) -> AsyncIterator[HostilePeer]:
    server = await asyncio.start_server(peer.handle, "127.0.0.1", 0)
    peer.port = server.sockets[0].getsockname()[1]
    try:
        yield peer
    finally:
        server.close()
        await server.wait_closed()


def kit(size: int = SIZE) -> bytes:
    return os.urandom(size)


# ---- resume and retry -------------------------------------------------------------------------------


async def test_a_download_cut_short_again_and_again_resumes_to_the_exact_file(tmp_path: Path) -> None:
    async with serving(HostilePeer(kit(), cut_after=CUT, cuts=3)) as peer:
        out = tmp_path / "kit.bin"
        result = await asyncio.to_thread(itsctl, "download", peer.url + peer.link_path, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert hashlib.sha256(out.read_bytes()).hexdigest() == peer.sha256
    assert not (tmp_path / "kit.bin.part").exists()
    assert len(peer.seen) == 4
    assert [s.headers.get("range") for s in peer.seen] == [None, f"bytes={CUT}-", f"bytes={2 * CUT}-", "bytes=2100000-"]
    assert {s.headers.get("if-range") for s in peer.seen[1:]} == {f'"{peer.sha256}"'}
    assert f"sha256 {peer.sha256}" in flat(result.output)
    assert "Repr-Digest" in result.output and "ETag" in result.output


async def test_an_earlier_runs_part_file_is_resumed_not_fetched_again(tmp_path: Path) -> None:
    async with serving(HostilePeer(kit())) as peer:
        out = tmp_path / "kit.bin"
        (tmp_path / "kit.bin.part").write_bytes(peer.data[:1_234_567])
        result = await asyncio.to_thread(itsctl, "download", peer.url + peer.link_path, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == peer.data
    assert len(peer.seen) == 1
    assert peer.seen[0].headers["range"] == "bytes=1234567-"
    assert peer.seen[0].headers["if-range"] == f'"{peer.sha256}"'  # the sha256 in the link: our ETag
    assert "resumed from 1,234,567 bytes" in flat(result.output)


async def test_a_part_file_holding_the_whole_file_gets_416_and_is_kept_after_checking(tmp_path: Path) -> None:
    async with serving(HostilePeer(kit())) as peer:
        out = tmp_path / "kit.bin"
        (tmp_path / "kit.bin.part").write_bytes(peer.data)
        result = await asyncio.to_thread(itsctl, "download", peer.url + peer.link_path, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == peer.data
    assert [s.headers.get("range") for s in peer.seen] == [f"bytes={SIZE}-"]


async def test_a_server_that_ignores_the_range_gets_the_file_again_from_the_start(tmp_path: Path) -> None:
    async with serving(HostilePeer(kit(), ignore_range=True, cut_after=CUT, cuts=1)) as peer:
        out = tmp_path / "kit.bin"
        (tmp_path / "kit.bin.part").write_bytes(b"x" * 1000)  # not even the right bytes: overwritten
        result = await asyncio.to_thread(itsctl, "download", peer.url + peer.link_path, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == peer.data
    assert len(peer.seen) == 2  # cut, then 200 to `Range: bytes=700000-`: written from 0


async def test_a_changed_file_behind_a_plain_url_is_fetched_whole_after_if_range_fails(tmp_path: Path) -> None:
    """Not a signed link: the validator is the ETag of the first answer; the file then changes (new ETag)."""
    v2 = kit()
    peer = HostilePeer(kit(), cut_after=CUT, cuts=1, next_version=(v2, '"v2"'))
    async with serving(peer), aiohttp.ClientSession() as http:
        out = tmp_path / "plain.bin"
        done = await download(http, f"{peer.url}/files/plain.bin", out, backoff=0.05)
    assert out.read_bytes() == v2 and done.sha256 == hashlib.sha256(v2).hexdigest()
    assert peer.seen[1].headers["if-range"] != '"v2"'  # asked for the rest of the old file: refused, 200
    assert done.verified_by == ["Repr-Digest"]  # "v2" is no sha256; the Repr-Digest is


async def test_it_gives_up_after_the_retries_and_keeps_what_it_has(tmp_path: Path) -> None:
    async with serving(HostilePeer(kit(), cut_after=0)) as peer, aiohttp.ClientSession() as http:
        with pytest.raises(DownloadFailed, match="giving up after 3 failed attempts") as failed:
            await download(http, peer.url + peer.link_path, tmp_path / "kit.bin", retries=2, backoff=0.01)
    assert "run the command again to resume" in str(failed.value)
    assert len(peer.seen) == 3
    assert not (tmp_path / "kit.bin").exists()


# ---- verification -----------------------------------------------------------------------------------


async def test_a_corrupted_part_file_is_refused_and_deleted_so_the_next_run_starts_over(tmp_path: Path) -> None:
    async with serving(HostilePeer(kit())) as peer:
        out = tmp_path / "kit.bin"
        part = tmp_path / "kit.bin.part"
        part.write_bytes(b"\0" * 1000 + peer.data[1000:CUT])  # right length, wrong bytes
        result = await asyncio.to_thread(itsctl, "download", peer.url + peer.link_path, "-o", str(out))
    assert result.exit_code == 1
    assert "refused" in flat(result.output) and f"ETag says {peer.sha256}" in flat(result.output)
    assert not out.exists()
    assert not part.exists()  # kept, every later run would resume from it and be refused again
    assert "deleted" in flat(result.output)
    async with serving(HostilePeer(kit())) as peer:
        again = await asyncio.to_thread(itsctl, "download", peer.url + peer.link_path, "-o", str(out))
    assert again.exit_code == 0, again.output
    assert out.read_bytes() == peer.data


async def test_a_repr_digest_that_disagrees_with_the_bytes_is_refused(tmp_path: Path) -> None:
    wrong = hashlib.sha256(b"something else").hexdigest()
    async with serving(HostilePeer(kit(), repr_digest=repr_digest(wrong))) as peer, aiohttp.ClientSession() as http:
        with pytest.raises(DownloadFailed, match=f"Repr-Digest says {wrong}"):
            await download(http, peer.url + peer.link_path, tmp_path / "kit.bin")
    assert not (tmp_path / "kit.bin").exists() and not (tmp_path / "kit.bin.part").exists()


def test_repr_digest_values_are_read_as_rfc_9530_says() -> None:
    sha = hashlib.sha256(b"abc").hexdigest()
    assert repr_digest_sha256(repr_digest(sha)) == sha
    assert repr_digest_sha256(f"sha-512=:AAAA:, {repr_digest(sha)}") == sha
    assert repr_digest_sha256("sha-256=:not base64!:") is None
    assert repr_digest_sha256("sha-256=:AAAA:") is None  # not 32 bytes
    assert repr_digest_sha256("") is None


# ---- refusals and the API -----------------------------------------------------------------------------


async def test_an_expired_link_is_said_to_be_expired_and_the_part_file_kept(tmp_path: Path) -> None:
    async with serving(HostilePeer(kit(), refuse=403)) as peer:
        out = tmp_path / "kit.bin"
        (tmp_path / "kit.bin.part").write_bytes(b"y" * 10)
        result = await asyncio.to_thread(itsctl, "download", peer.url + peer.link_path, "-o", str(out))
    assert result.exit_code == 1
    assert "link was refused (403)" in flat(result.output) and "expired" in result.output
    assert "10 bytes are kept" in flat(result.output)
    assert (tmp_path / "kit.bin.part").read_bytes() == b"y" * 10


async def test_an_api_url_is_followed_to_its_signed_link_and_the_token_stays_with_the_api(tmp_path: Path) -> None:
    data = kit()
    links = HostilePeer(data, cut_after=CUT, cuts=1)
    async with serving(links), serving(HostilePeer(data, token="subscriber-token", link_base=links.url)) as api:
        url = f"{api.url}/v1/kits/{uuid.uuid4()}/download"
        out = tmp_path / "kit.bin"
        refused = await asyncio.to_thread(itsctl, "download", url, "-o", str(out))
        result = await asyncio.to_thread(itsctl, "download", url, "-o", str(out), ITS_TOKEN="subscriber-token")
    assert refused.exit_code == 1 and "needs the subscriber's token" in flat(refused.output)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == data
    assert api.seen[-1].headers["authorization"] == "Bearer subscriber-token"
    assert len(links.seen) == 2 and all("authorization" not in s.headers for s in links.seen)


async def test_an_existing_file_is_not_overwritten_without_force(tmp_path: Path) -> None:
    out = tmp_path / "kit.bin"
    out.write_bytes(b"mine")
    result = await asyncio.to_thread(itsctl, "download", f"http://127.0.0.1:9/dl/{'a' * 64}/kit.bin", "-o", str(out))
    assert result.exit_code == 2 and "--force" in result.output
    assert out.read_bytes() == b"mine"


# ---- the real servers: the updates link handler, nginx with deploy/nginx/updates.conf ---------------


@dataclass
class CuttingProxy:
    """A TCP relay that closes each of the first `cuts` connections after `after` bytes from upstream."""

    upstream_port: int
    after: int
    cuts: int
    port: int = 0
    connections: int = 0

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        limit = self.after if self.cuts > 0 else None
        self.cuts -= 1
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limit: int | None) -> None:
            sent = 0
            with contextlib.suppress(ConnectionError):
                while data := await reader.read(65536):
                    if limit is not None and sent + len(data) >= limit:
                        writer.write(data[: limit - sent])
                        await writer.drain()
                        break
                    sent += len(data)
                    writer.write(data)
                    await writer.drain()
            for w in (client_writer, upstream_writer):
                w.close()

        await asyncio.gather(pipe(client_reader, upstream_writer, None), pipe(upstream_reader, client_writer, limit))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def cutting_proxy(upstream_port: int, *, after: int, cuts: int) -> AsyncIterator[CuttingProxy]:
    proxy = CuttingProxy(upstream_port, after, cuts)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        server.close()
        await server.wait_closed()


SECRET = "integration-test-download-link-secret"


@dataclass
class Delivery:
    updates_url: str
    updates_port: int
    kits_dir: Path
    data: bytes
    sha256: str

    def link(self, name: str = "kit.bin", *, expires_in: int = 600) -> str:
        from services.updates.links import sign_link

        return sign_link(
            SECRET.encode(),
            kit_id=uuid.uuid4(),
            sha256=self.sha256,
            name=name,
            subscriber_id=uuid.uuid4(),
            expires=int(time.time()) + expires_in,
        )


@pytest.fixture(scope="module")
async def delivery(stack: TestStack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Delivery]:
    """The updates service as a process (its link handler and /dl-verify), a kit put into its storage."""
    from services.updates.app import MIGRATIONS, SCHEMA
    from shared.migrate import migrate
    from shared.storage.fs import FileSystemStorage
    from tests.infra import ServiceProcess

    await asyncio.to_thread(migrate, MIGRATIONS, stack.database_url, SCHEMA)
    kits_dir = tmp_path_factory.mktemp("kits")
    data = kit(5_000_000)
    sha256 = hashlib.sha256(data).hexdigest()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 1 << 20):
            yield data[start : start + (1 << 20)]

    await FileSystemStorage(kits_dir).put(chunks(), sha256=sha256, size=len(data))
    port = free_port()
    env = stack.env(ITS_KITS_DIR=str(kits_dir), ITS_DOWNLOAD_LINK_SECRET=SECRET)
    updates = ServiceProcess("updates", env, port, stack.var_dir / "log" / "itsctl-download-updates.log")
    await updates.start()
    try:
        yield Delivery(updates.url, port, kits_dir, data, sha256)
    finally:
        await updates.stop()


async def fetch_through_cuts(upstream_port: int, link: str, out: Path) -> tuple[Downloaded, CuttingProxy]:
    async with cutting_proxy(upstream_port, after=1_500_000, cuts=2) as proxy, aiohttp.ClientSession() as http:
        done = await download(http, proxy.url + link, out, backoff=0.05)
    return done, proxy


async def test_the_updates_link_handler_resumes_a_cut_download_to_the_exact_sha256(
    delivery: Delivery, tmp_path: Path
) -> None:
    out = tmp_path / "kit.bin"
    done, proxy = await fetch_through_cuts(delivery.updates_port, delivery.link(), out)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == delivery.sha256 == done.sha256
    assert proxy.connections == 3 and len(done.resumed_from) == 2
    assert set(done.verified_by) == {"ETag", "Repr-Digest", "link"}


async def test_the_updates_link_handler_refuses_an_expired_link_and_the_client_says_so(
    delivery: Delivery, tmp_path: Path
) -> None:
    url = delivery.updates_url + delivery.link(expires_in=-1)
    result = await asyncio.to_thread(itsctl, "download", url, "-o", str(tmp_path / "kit.bin"))
    assert result.exit_code == 1 and "link was refused (403)" in flat(result.output)


@pytest.fixture(scope="module")
async def nginx(delivery: Delivery, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """nginx with deploy/nginx/updates.conf: links verified at the updates process, files from its storage."""
    from tests.nginx import running_nginx, updates_site

    directory = tmp_path_factory.mktemp("nginx")
    port = free_port()
    upstream = f"127.0.0.1:{delivery.updates_port}"
    site = updates_site(port=port, upstream=upstream, kits_dir=delivery.kits_dir, log_dir=directory)
    async with running_nginx(directory, site, port) as server:
        yield server.url


async def test_nginx_serves_a_signed_link_and_resumes_a_cut_download_to_the_exact_sha256(
    delivery: Delivery, nginx: str, tmp_path: Path
) -> None:
    out = tmp_path / "kit.bin"
    port = int(nginx.rsplit(":", 1)[1])
    done, proxy = await fetch_through_cuts(port, delivery.link(), out)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == delivery.sha256 == done.sha256
    assert proxy.connections == 3 and len(done.resumed_from) == 2  # 206 to If-Range with the sha256 ETag
    assert "ETag" in done.verified_by and "link" in done.verified_by


async def test_nginx_answers_a_tampered_link_with_the_services_403_problem(delivery: Delivery, nginx: str) -> None:
    link = delivery.link().replace("sig=", "sig=A")[:-1]
    async with aiohttp.ClientSession() as http, http.get(nginx + link) as response:
        body = await response.json(content_type=None)
    assert response.status == 403
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert body["title"] == "This download link is not valid"


async def test_nginx_does_not_serve_a_path_that_is_not_a_link(delivery: Delivery, nginx: str) -> None:
    link = delivery.link()
    query = link.split("?", 1)[1]
    async with aiohttp.ClientSession() as http:
        for path in (
            f"/dl/{delivery.sha256[:2]}/{delivery.sha256[2:4]}/{delivery.sha256}?{query}",
            f"/dl/{delivery.sha256}/..%2f..%2fetc%2fpasswd?{query}",
            f"/dl/{delivery.sha256.upper()}/kit.bin?{query}",
            f"/dl-verify?{query}",
        ):
            async with http.get(nginx + path) as response:
                assert response.status in (403, 404), path
                assert len(await response.read()) < 1000, path


async def test_nginx_sends_the_same_validators_as_the_service(delivery: Delivery, nginx: str) -> None:
    """ETag = the sha256 (so If-Range works across nginx and the replicas), the link's remaining lifetime."""
    link = delivery.link()
    async with aiohttp.ClientSession() as http:
        async with http.head(nginx + link) as response:
            assert response.status == 200
            assert response.headers["ETag"] == f'"{delivery.sha256}"'
            assert int(response.headers["Content-Length"]) == len(delivery.data)
            assert response.headers["Content-Disposition"] == 'attachment; filename="kit.bin"'
            cache = response.headers["Cache-Control"]
            assert cache.startswith("private, max-age=") and 590 <= int(cache.rsplit("=", 1)[1]) <= 600
        stale = {"Range": "bytes=100-", "If-Range": '"an-older-file"'}
        async with http.get(nginx + link, headers=stale) as response:
            assert response.status == 200 and len(await response.read()) == len(delivery.data)
        fresh = {"Range": "bytes=100-", "If-Range": f'"{delivery.sha256}"'}
        async with http.get(nginx + link, headers=fresh) as response:
            assert response.status == 206 and await response.read() == delivery.data[100:]


async def test_nginx_answers_conditional_requests_as_the_service_does(delivery: Delivery, nginx: str) -> None:
    """A client that has the kit asks If-None-Match: 304, no body; If-Match with another tag: 412. nginx compares
    them only with an ETag of its own making, so it hands such requests to updates."""
    link = delivery.link()
    async with aiohttp.ClientSession() as http:
        for method in ("GET", "HEAD"):
            async with http.request(method, nginx + link, headers={"If-None-Match": f'"{delivery.sha256}"'}) as got:
                assert got.status == 304, method
                assert got.headers["ETag"] == f'"{delivery.sha256}"'
                assert await got.read() == b""
        async with http.get(nginx + link, headers={"If-None-Match": '"an-older-file", W/"x"'}) as response:
            assert response.status == 200 and await response.read() == delivery.data
        async with http.get(nginx + link, headers={"If-Match": '"an-older-file"'}) as response:
            assert response.status == 412
            assert response.headers["Content-Type"].startswith("application/problem+json")
        async with http.get(nginx + delivery.link(expires_in=-1), headers={"If-None-Match": "*"}) as response:
            assert response.status == 403  # the link is checked first, whatever the client has


async def test_nginx_answers_a_write_to_a_link_with_the_services_405_problem(delivery: Delivery, nginx: str) -> None:
    """A link is only read: another method gets updates' 405 problem naming GET and HEAD, not nginx's HTML."""
    async with aiohttp.ClientSession() as http:
        for method in ("POST", "PUT", "DELETE"):
            async with http.request(method, nginx + delivery.link(), data=b"x") as response:
                assert response.status == 405, method
                assert response.headers["Content-Type"].startswith("application/problem+json"), method
                assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}, method


async def test_nginx_answers_a_range_past_the_end_with_a_416_problem(delivery: Delivery, nginx: str) -> None:
    size = len(delivery.data)
    async with (
        aiohttp.ClientSession() as http,
        http.get(nginx + delivery.link(), headers={"Range": f"bytes={size}-"}) as response,
    ):
        assert response.status == 416
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert response.headers["Content-Range"] == f"bytes */{size}"
