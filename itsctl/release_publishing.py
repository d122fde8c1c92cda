"""Publishing a release manifest into updates: each release declared as a draft (PUT), each kit not yet stored
streamed from disk with a progress bar, then the release published. Running it again is safe: published releases
are skipped without reading their files, and an interrupted run uploads only the kits that did not arrive.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from rich.markup import escape
from rich.progress import Progress, TaskID

from itsctl._http import Api, ServiceError, _body
from itsctl.release_manifest import ArticleEntry, KitEntry, Manifest, ManifestError, ReleaseEntry

CHUNK = 1024 * 1024  # read from disk (and sent) per step
# A kit may be gigabytes on a slow link: no total limit, but a silent peer is given up after 10 minutes.
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=600)


@dataclass
class LocalKit:
    entry: KitEntry
    path: Path
    size: int
    sha256: str

    def declared(self) -> dict[str, Any]:
        kit: dict[str, Any] = {"name": self.entry.kit_name, "kind": self.entry.kind, "size": self.size}
        kit["sha256"] = self.sha256
        if self.entry.os is not None or self.entry.arch is not None:
            kit.update(os=self.entry.os, arch=self.entry.arch)
        return kit


@dataclass
class Outcome:
    label: str
    state: str  # published | already published | withdrawn
    uploaded: list[str] = field(default_factory=list)
    already_stored: list[str] = field(default_factory=list)
    release_id: str | None = None

    def line(self) -> str:
        if self.state != "published":
            return f"{self.label}: {self.state}"
        return (
            f"{self.label}: published ({len(self.uploaded)} kit(s) uploaded, {len(self.already_stored)} stored already)"
        )


@dataclass
class Summary:
    releases: list[Outcome] = field(default_factory=list)
    articles: dict[str, int] = field(default_factory=lambda: {"created": 0, "updated": 0})

    def line(self) -> str:
        counts: dict[str, int] = {}
        for outcome in self.releases:
            counts[outcome.state] = counts.get(outcome.state, 0) + 1
        parts = [f"{n} {state}" for state, n in counts.items()] or ["no releases"]
        a = self.articles
        return f"releases: {', '.join(parts)}; articles: {a['created']} created, {a['updated']} updated"


Progressed = Callable[[int], None]


def hash_file(path: Path, progressed: Progressed) -> tuple[int, str]:
    """The file's size and sha256, read once (kits and reporting forms' files alike)."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            progressed(len(chunk))
    return size, digest.hexdigest()


async def _file_chunks(path: Path, progressed: Progressed) -> AsyncIterator[bytes]:
    f = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(f.read, CHUNK):
            progressed(len(chunk))
            yield chunk
    finally:
        await asyncio.to_thread(f.close)


async def upload_file(api: Api, upload_path: str, path: Path, size: int, progressed: Progressed) -> int:
    """Stream a kit's (or a reporting form's) file to updates; the status (201 stored now, 200 stored already)."""
    url = api.base_url + upload_path
    headers = {
        **api.headers,
        "Content-Type": "application/octet-stream",
        "Content-Length": str(size),  # not chunked: the service checks the length before reading
    }
    async with api.http.put(
        url, data=_file_chunks(path, progressed), headers=headers, timeout=UPLOAD_TIMEOUT
    ) as response:
        answer = await _body(response)
        if response.status >= 400:
            raise ServiceError(api.service, "PUT", url, response.status, answer)
        return response.status


class Bars:
    """A progress bar per file (hashing, then uploading), or nothing when `progress` is None."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress

    def start(self, description: str, total: int | None) -> Progressed:
        progress = self.progress
        if progress is None:
            return lambda _n: None
        task: TaskID = progress.add_task(escape(description), total=total)
        return lambda n: progress.advance(task, n)


async def published_state(api: Api, release: ReleaseEntry) -> tuple[str, str] | None:
    """(state, id) of the release in updates, None if it is not there yet."""
    _, answer = await api.call("GET", "/v1/releases?" + urlencode({**release.query(), "limit": "1"}))
    items = answer.get("items", []) if isinstance(answer, dict) else []
    return (items[0]["state"], items[0]["id"]) if items else None


async def publish_release(
    api: Api, release: ReleaseEntry, base_dir: Path, *, progress: Progress | None = None
) -> Outcome:
    """Declare, upload what is missing, publish; a published (or withdrawn) release is left alone."""
    bars = Bars(progress)
    found = await published_state(api, release)
    if found is not None and found[0] != "draft":
        state = "already published" if found[0] == "published" else found[0]
        return Outcome(release.label, state, release_id=found[1])

    kits: list[LocalKit] = []
    for entry in release.kits:
        path = entry.file if entry.file.is_absolute() else base_dir / entry.file
        if not path.is_file():
            raise ManifestError(f"{release.label}: kit file {path} does not exist")
        total = path.stat().st_size
        size, sha256 = await asyncio.to_thread(hash_file, path, bars.start(f"hash   {entry.kit_name}", total))
        kits.append(LocalKit(entry, path, size, sha256))

    body = release.model_dump(mode="json", exclude={"configuration", "version", "kits"})
    body["kits"] = [k.declared() for k in kits]
    _, draft = await api.call("PUT", release.path, body)
    outcome = Outcome(release.label, "published", release_id=draft["id"])
    by_name = {k.entry.kit_name: k for k in kits}
    for kit in draft["kits"]:
        local = by_name[kit["name"]]
        if kit["uploaded"]:
            outcome.already_stored.append(kit["name"])
            continue
        upload = bars.start(f"upload {kit['name']}", local.size)
        status = await upload_file(api, kit["upload"], local.path, local.size, upload)
        (outcome.uploaded if status == 201 else outcome.already_stored).append(kit["name"])
    await api.call("POST", f"/v1/releases/{draft['id']}/publish")
    return outcome


async def put_article(api: Api, article: ArticleEntry) -> bool:
    """True if it was created."""
    status, _ = await api.call(
        "PUT", f"/v1/articles/{quote(article.slug, safe='')}", article.model_dump(mode="json", exclude={"slug"})
    )
    return status == 201


async def publish_manifest(
    api: Api,
    manifest: Manifest,
    *,
    progress: Progress | None = None,
    on_release: Callable[[Outcome], None] | None = None,
) -> Summary:
    summary = Summary()
    for release in manifest.releases:
        outcome = await publish_release(api, release, manifest.base_dir, progress=progress)
        summary.releases.append(outcome)
        if on_release is not None:
            on_release(outcome)
    for article in manifest.articles:
        summary.articles["created" if await put_article(api, article) else "updated"] += 1
    return summary
