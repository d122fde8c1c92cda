"""`itsctl download URL`: the reference client for kit downloads — resumes, retries, verifies.

A thin command over the client package's engine (`its_client.download`, which installed programs run too): URL is a
signed link (`/dl/{sha256}/{name}?kit=&sub=&exp=&sig=`, no token) or the API's `/v1/kits/{kit_id}/download` with a
subscriber's token. The bytes go to FILE.part, resume with `Range`/`If-Range` after a break or an earlier run, and
FILE.part becomes FILE only when its sha256 is what the server said (ETag, Repr-Digest, the link's path).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import aiohttp
import typer
from its_client.download import (
    RETRIES,
    TIMEOUT,
    Downloaded,
    DownloadFailed,
    LinkExpired,
    download,
    is_api_url,
    name_from_url,
    part_path,
    repr_digest_sha256,
)
from its_client.errors import ItsError
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from itsctl._common import console, err_console, fail
from itsctl._http import connection_problem

# What the tests and other tools import from here: the engine, as before it moved into the client package.
__all__ = ["DownloadFailed", "Downloaded", "LinkExpired", "download", "download_command", "repr_digest_sha256"]


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

    if is_api_url(url) and not token:
        fail("an API download URL needs the subscriber's token: set ITS_TOKEN or give --token")

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
    except ItsError as exc:  # the API refused the kit's link (UPD-4: not covered, not allowed, no such kit)
        fail(escape(f"the service answered {exc.status} to GET {url}: {exc}"))
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
