"""The resumable, verifying download of a kit: what `ItsClient.download` and `itsctl download` both run.

The URL is either a signed link (`/dl/{sha256}/{name}?kit=&sub=&exp=&sig=`, served by any updates replica, nginx or
a CDN, no token) or the API's `/v1/kits/{kit_id}/download` with a subscriber's token, which answers with a
short-lived signed link (303, or JSON with `Prefer: no-redirect`); the token never goes to the link's host.

The bytes go to FILE.part. When FILE.part exists (an earlier run was interrupted) or the connection breaks, the
download resumes with `Range: bytes=N-` and `If-Range: <ETag>`, so a changed file is fetched whole again rather than
spliced. At the end the sha256 of the whole file is checked against everything said about it — the ETag (the sha256
for our links), `Repr-Digest` (RFC 9530), the sha256 in the link's path, and the caller's (the update plan's) — and
only then is FILE.part renamed to FILE. A mismatch is refused (`KitCorrupt`), the bytes kept in FILE.part.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp

from its_client.errors import (
    DownloadFailed,
    KitCorrupt,
    LinkExpired,
    connection_problem,
    decode_body,
    error_from_answer,
)

__all__ = [
    "DownloadFailed",
    "Downloaded",
    "KitCorrupt",
    "LinkExpired",
    "Progressed",
    "download",
    "is_api_url",
    "name_from_url",
    "part_path",
    "repr_digest_sha256",
    "resolve_link",
]

CHUNK = 256 * 1024
RETRIES = 5  # consecutive failed attempts (no byte received) before giving up
BACKOFF_SECONDS = 0.5  # doubled after each failed attempt, at most MAX_BACKOFF_SECONDS
MAX_BACKOFF_SECONDS = 10.0
LINK_REFRESHES = 3  # new links asked of the API when one expires during a long download
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)

SIGNED_LINK = re.compile(r"/dl/(?P<sha256>[0-9a-f]{64})/(?P<name>[^/]+)$")
API_DOWNLOAD = re.compile(r"/v1/kits/[^/]+/download$")
CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)$")
UNSATISFIED_RANGE = re.compile(r"bytes \*/(\d+)$")
STRONG_SHA256_ETAG = re.compile(r'"([0-9a-fA-F]{64})"$')
REPR_DIGEST_SHA256 = re.compile(r"(?:^|,)\s*sha-256=:([A-Za-z0-9+/=]+):")

Progressed = Callable[[int, int | None], None]  # (bytes in FILE.part, total size if known)


@dataclass
class Downloaded:
    path: Path
    size: int
    sha256: str
    verified_by: list[str]  # where the expected sha256 came from: "ETag", "Repr-Digest", "link", "plan"
    responses: int  # HTTP responses it took (1 when nothing went wrong)
    resumed_from: list[int] = field(default_factory=list)  # offsets the transfer resumed at


@dataclass
class _Expected:
    """What the server says the whole file's sha256 is, by source (reset when the file changed)."""

    by_source: dict[str, str] = field(default_factory=dict)

    def note(self, source: str, sha256: str | None) -> None:
        if sha256 is not None:
            self.by_source[source] = sha256.lower()

    def from_headers(self, headers: Any) -> None:
        if (etag := STRONG_SHA256_ETAG.match(headers.get("ETag", ""))) is not None:
            self.note("ETag", etag[1])
        self.note("Repr-Digest", repr_digest_sha256(headers.get("Repr-Digest", "")))


def repr_digest_sha256(value: str) -> str | None:
    """The sha256 (hex) in an RFC 9530 `Repr-Digest` field value, e.g. `sha-256=:<base64>:`."""
    if (match := REPR_DIGEST_SHA256.search(value)) is None:
        return None
    try:
        raw = base64.b64decode(match[1], validate=True)
    except binascii.Error:
        return None
    return raw.hex() if len(raw) == 32 else None


def part_path(out: Path) -> Path:
    return out.with_name(out.name + ".part")


def is_api_url(url: str) -> bool:
    return API_DOWNLOAD.search(urlsplit(url).path) is not None


def name_from_url(url: str) -> str | None:
    """The file name a link carries (its last path segment), if it is a plain, safe name."""
    name = unquote(PurePosixPath(urlsplit(url).path).name)
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        return None
    return name


async def resolve_link(http: aiohttp.ClientSession, url: str, token: str | None) -> str:
    """The signed link the API gives for a kit (303 Location, or `url` in the JSON with Prefer: no-redirect).

    A refusal raises its `ItsError` (e.g. `NotCovered` with the offer, UPD-4)."""
    if not token:
        raise DownloadFailed("an API download URL needs the subscriber's token")
    headers = {"Authorization": f"Bearer {token}", "Prefer": "no-redirect", "Accept": "application/json"}
    async with http.get(url, headers=headers, allow_redirects=False) as response:
        if response.status in (301, 302, 303, 307, 308) and (location := response.headers.get("Location")):
            return urljoin(url, location)
        body = decode_body(await response.text(errors="replace"), response.content_type)
        if response.status == 200 and isinstance(body, dict) and isinstance(body.get("url"), str):
            return urljoin(url, str(body["url"]))
        raise error_from_answer(response.status, body, response.headers)


class _Transfer:
    """FILE.part and the running sha256 of what it holds."""

    def __init__(self, part: Path) -> None:
        self.part = part
        self.hasher = hashlib.sha256()
        self.hashed = 0  # bytes of FILE.part that went through `hasher`
        self.received = 0  # bytes the current attempt brought

    def size(self) -> int:
        try:
            return self.part.stat().st_size
        except FileNotFoundError:
            return 0

    def rehash(self) -> None:
        """The hasher brought in line with FILE.part (an earlier run's bytes, or after a partial write)."""
        self.hasher, self.hashed = hashlib.sha256(), 0
        with contextlib.suppress(FileNotFoundError), self.part.open("rb") as f:
            while block := f.read(1 << 20):
                self.hasher.update(block)
                self.hashed += len(block)

    def restart(self) -> None:
        self.part.write_bytes(b"")
        self.hasher, self.hashed = hashlib.sha256(), 0

    def open_append(self) -> IO[bytes]:
        if self.hashed != self.size():
            self.rehash()
        return self.part.open("ab")

    def write(self, f: IO[bytes], chunk: bytes) -> None:
        f.write(chunk)
        self.hasher.update(chunk)
        self.hashed += len(chunk)
        self.received += len(chunk)


async def download(
    http: aiohttp.ClientSession,
    url: str,
    out: Path,
    *,
    token: str | None = None,
    retries: int = RETRIES,
    backoff: float = BACKOFF_SECONDS,
    progress: Progressed | None = None,
    expected_sha256: str | None = None,
) -> Downloaded:
    """Download `url` (a signed link, or the API's kit download URL with `token`) to `out` via `out`.part.

    `expected_sha256`: what the caller was told the file is (an update plan's kit), checked with the server's.
    Raises DownloadFailed (FILE.part kept, so that the next run resumes) when it cannot finish, KitCorrupt when the
    sha256 of the whole file is not what it should be.
    """
    link = await resolve_link(http, url, token) if is_api_url(url) else url
    transfer = _Transfer(part_path(out))
    expected = _Expected()
    refreshes = failures = responses = restarts = 0
    resumed: list[int] = []
    validator: str | None = None  # the ETag of the bytes in FILE.part, for If-Range
    total: int | None = None
    while True:
        link_sha256 = _link_sha256(link)
        if validator is None and link_sha256 is not None:
            validator = f'"{link_sha256}"'  # our links' ETag is the sha256 (an earlier run's FILE.part)
        offset = transfer.size()
        transfer.received = 0
        headers = {"Accept-Encoding": "identity", "Want-Repr-Digest": "sha-256=10"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            if validator:
                headers["If-Range"] = validator
        try:
            async with http.get(link, headers=headers) as response:
                responses += 1
                status = response.status
                if status == 416:
                    total = _unsatisfied(response, offset)
                    if total is None:  # FILE.part is longer than the file: it is not this file
                        restarts = _restart(transfer, restarts)
                        validator = None
                        continue
                    expected.from_headers(response.headers)
                    break
                if status in (401, 403):
                    if is_api_url(url) and refreshes < LINK_REFRESHES:
                        refreshes += 1  # the link expired during a long download: ask the API for a new one
                        link = await resolve_link(http, url, token)
                        continue
                    kept = (
                        f"; {offset:,} bytes are kept in {transfer.part} and resume with a new link" if offset else ""
                    )
                    raise LinkExpired(
                        f"the link was refused ({status}): it has expired (links last minutes) or is not valid; "
                        f"ask for a new one{kept}"
                    )
                if status >= 500 or status == 429:
                    raise _Retry(f"the server answered {status}")
                if status not in (200, 206):
                    body = decode_body(await response.text(errors="replace"), response.content_type)
                    problem = error_from_answer(status, body, response.headers)
                    raise DownloadFailed(f"{_shown(link)} answered {status}: {problem}")
                if status == 206:
                    total = _content_range(response, offset)
                    if total is None:  # not the range asked for: start again with the whole file
                        restarts = _restart(transfer, restarts)
                        validator = None
                        continue
                    resumed.append(offset)
                else:  # 200: the whole file, whether or not a range was asked (ignored, or If-Range failed)
                    if offset:
                        transfer.restart()
                        expected = _Expected()
                    total = response.content_length
                validator = _strong_etag(response.headers.get("ETag")) or validator
                expected.from_headers(response.headers)
                await _receive(response, transfer, total, progress)
                if total is not None and transfer.size() < total:
                    raise _Retry(f"the connection closed after {transfer.received:,} bytes")
                break
        except (_Retry, aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError) as exc:
            # Consecutive attempts that brought nothing count; one that moved the transfer on starts afresh.
            failures = 1 if transfer.received else failures + 1
            if failures > retries:
                raise DownloadFailed(
                    f"giving up after {failures} failed attempt{'s' if failures != 1 else ''} ({_why(exc)}); "
                    f"{transfer.size():,} bytes are kept in {transfer.part}: run the command again to resume"
                ) from exc
            await asyncio.sleep(min(backoff * 2 ** (failures - 1), MAX_BACKOFF_SECONDS))
    expected.note("link", _link_sha256(link))
    expected.note("plan", expected_sha256)
    return _finish(transfer, out, expected, total, responses, resumed)


class _Retry(Exception):
    """A failure worth another attempt (server busy, connection cut short)."""


def _restart(transfer: _Transfer, restarts: int) -> int:
    """FILE.part emptied to fetch the whole file again; fails when the server keeps answering past the point."""
    if restarts >= 2:
        raise DownloadFailed("the server's answers to byte ranges do not add up; giving up")
    transfer.restart()
    return restarts + 1


def _why(exc: BaseException) -> str:
    if isinstance(exc, _Retry):
        return str(exc)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the connection broke during the transfer"
    return connection_problem(exc)


def _link_sha256(link: str) -> str | None:
    """The sha256 in a signed link's path (`/dl/{sha256}/{name}`): the content the link stands for."""
    match = SIGNED_LINK.search(urlsplit(link).path)
    return match["sha256"] if match is not None else None


def _shown(link: str) -> str:
    """A link as a message shows it: without its query (a signed link's signature grants the download)."""
    return link.split("?", 1)[0]


def _strong_etag(value: str | None) -> str | None:
    return value if value and value.startswith('"') else None


def _content_range(response: aiohttp.ClientResponse, offset: int) -> int | None:
    """The total size from a 206's Content-Range, if it is the single range `offset`- asked for."""
    match = CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if match is None or int(match[1]) != offset or int(match[2]) != int(match[3]) - 1:
        return None
    return int(match[3])


def _unsatisfied(response: aiohttp.ClientResponse, offset: int) -> int | None:
    """After a 416: the file's size if FILE.part holds all of it already, else None."""
    match = UNSATISFIED_RANGE.match(response.headers.get("Content-Range", ""))
    return int(match[1]) if match is not None and int(match[1]) == offset else None


async def _receive(
    response: aiohttp.ClientResponse, transfer: _Transfer, total: int | None, progress: Progressed | None
) -> None:
    """Appends the body to FILE.part (what came stays there when the connection breaks)."""
    with transfer.open_append() as f:
        try:
            if progress:
                progress(transfer.hashed, total)
            async for chunk in response.content.iter_chunked(CHUNK):
                transfer.write(f, chunk)
                if progress:
                    progress(transfer.hashed, total)
        finally:
            f.flush()
            os.fsync(f.fileno())


def _finish(
    transfer: _Transfer, out: Path, expected: _Expected, total: int | None, responses: int, resumed: list[int]
) -> Downloaded:
    if transfer.hashed != transfer.size():
        transfer.rehash()
    size, sha256 = transfer.hashed, transfer.hasher.hexdigest()
    if total is not None and size != total:
        raise DownloadFailed(f"{transfer.part} holds {size:,} bytes, the file has {total:,}")
    wrong = {source: value for source, value in expected.by_source.items() if value != sha256}
    if wrong:
        said = ", ".join(f"{source} says {value}" for source, value in wrong.items())
        # Bytes that are not the kit never become it: kept, they would be resumed from (and refused) by every later
        # run. Removed, the next run downloads the kit from the start.
        transfer.part.unlink(missing_ok=True)
        raise KitCorrupt(
            f"the downloaded file's sha256 is {sha256} but {said}: refused and deleted; the next run downloads it "
            "again from the start"
        )
    os.replace(transfer.part, out)
    return Downloaded(out, size, sha256, sorted(expected.by_source), responses, resumed)
