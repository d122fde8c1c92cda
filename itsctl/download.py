"""`itsctl download URL`: the reference client for kit downloads — resumes, retries, verifies.

URL is either a signed link (`/dl/{sha256}/{name}?kit=&sub=&exp=&sig=`, served by any updates replica,
nginx or a CDN, no token) or the API's `/v1/kits/{kit_id}/download` with a subscriber's token, which
answers with a short-lived signed link (303, or JSON with `Prefer: no-redirect`); the token never goes
to the link's host.

The bytes go to FILE.part. When FILE.part exists (an earlier run was interrupted) or the connection breaks,
the download resumes with `Range: bytes=N-` and `If-Range: <ETag>`, so a changed file is fetched whole
again rather than spliced. At the end the sha256 of the whole file is checked against everything the
server said it should be — the ETag (the sha256 for our links), `Repr-Digest` (RFC 9530) and the sha256
in the link's path — and only then is FILE.part renamed to FILE.
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
from typing import IO, Annotated, Any
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from itsctl._common import console, err_console, fail
from itsctl._http import connection_problem, describe_error

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


class DownloadFailed(Exception):
    """The download cannot go on; the message says why and what is kept."""


class LinkExpired(DownloadFailed):
    """The link was refused (403): expired, tampered with, or not this subscriber's."""


@dataclass
class Downloaded:
    path: Path
    size: int
    sha256: str
    verified_by: list[str]  # where the expected sha256 came from: "ETag", "Repr-Digest", "link"
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
    """The signed link the API gives for a kit (303 Location, or `url` in the JSON with Prefer: no-redirect)."""
    if not token:
        raise DownloadFailed("an API download URL needs the subscriber's token: set ITS_TOKEN or give --token")
    headers = {"Authorization": f"Bearer {token}", "Prefer": "no-redirect", "Accept": "application/json"}
    async with http.get(url, headers=headers, allow_redirects=False) as response:
        if response.status in (301, 302, 303, 307, 308) and (location := response.headers.get("Location")):
            return urljoin(url, location)
        body: Any = await response.text(errors="replace")
        if "json" in (response.content_type or ""):
            with contextlib.suppress(ValueError):
                body = await response.json(content_type=None)
        if response.status == 200 and isinstance(body, dict) and isinstance(body.get("url"), str):
            return urljoin(url, str(body["url"]))
        problem = describe_error(response.status, body)
        raise DownloadFailed(f"the service answered {response.status} to GET {url}: {problem}")


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
) -> Downloaded:
    """Download `url` (a signed link, or the API's kit download URL with `token`) to `out` via `out`.part.

    Raises DownloadFailed (FILE.part kept, so that the next run resumes) when it cannot finish, or when the
    sha256 of the whole file is not what the server announced.
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
                    body = await response.text(errors="replace")
                    raise DownloadFailed(f"{link} answered {status}: {describe_error(status, body)}")
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
        raise DownloadFailed(
            f"the downloaded file's sha256 is {sha256} but {said}: refused. The bytes are kept in {transfer.part} "
            "(delete it to download again from the start)"
        )
    os.replace(transfer.part, out)
    return Downloaded(out, size, sha256, sorted(expected.by_source), responses, resumed)


def _progress_bar(label: str) -> Progress:
    return Progress(
        TextColumn(escape(label)),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )


def _choose_out(url: str, out: Path | None) -> Path:
    if out is not None:
        return out
    name = name_from_url(url) if not is_api_url(url) else None
    if name is None:
        fail("cannot tell the file name from the URL: give -o FILE", code=2)
    return Path(name)


def download_command(
    url: Annotated[str, typer.Argument(help="A signed link (/dl/...), or the API's /v1/kits/{id}/download URL.")],
    out: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Where to save it (default: the link's file name).", show_default=False),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", envvar="ITS_TOKEN", help="Subscriber's access token (for an API URL).", show_default=False
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
    retries: Annotated[
        int, typer.Option("--retries", min=0, max=100, help="Attempts after a broken connection, with back-off.")
    ] = RETRIES,
) -> None:
    """Download a kit to FILE through FILE.part: resumes, retries, checks the sha256 before keeping it.

    An interrupted download resumes where it stopped when run again with the same FILE.
    """
    if not urlsplit(url).scheme.startswith("http"):
        fail(f"not an http(s) URL: {escape(url)}", code=2)
    target = _choose_out(url, out)
    if target.is_dir():
        fail(f"{escape(str(target))} is a directory", code=2)
    if target.exists() and not force:
        fail(f"{escape(str(target))} exists; give --force to overwrite it", code=2)
    part = part_path(target)
    already = part.stat().st_size if part.exists() else 0
    bar = _progress_bar(target.name)

    async def go() -> Downloaded:
        task = bar.add_task(target.name, total=None)

        def advance(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        async with aiohttp.ClientSession(timeout=TIMEOUT, auto_decompress=False) as http:
            return await download(http, url, target, token=token, retries=retries, progress=advance)

    try:
        with bar:
            result = asyncio.run(go())
    except DownloadFailed as exc:
        fail(escape(str(exc)))
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        kept = f"; {part.stat().st_size:,} bytes are kept in {part}" if part.exists() else ""
        fail(escape(connection_problem(exc) + kept))
    except KeyboardInterrupt:
        kept = f"{part.stat().st_size:,} bytes are kept in {part}" if part.exists() else "nothing was kept"
        fail(escape(f"interrupted; {kept}: run the command again to resume"), code=130)
    how = f"checked against {', '.join(result.verified_by)}" if result.verified_by else "NOT checked: no digest given"
    resumed = f", resumed from {already:,} bytes" if already else ""
    console.print(
        f"{escape(str(result.path))}: {result.size:,} bytes, sha256 {result.sha256} ({how}{resumed}; "
        f"{result.responses} response{'s' if result.responses != 1 else ''})"
    )
