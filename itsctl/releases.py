"""`itsctl releases publish MANIFEST`: configuration and platform releases with their kits, into updates.

The manifest (YAML or JSON) lists releases and, optionally, articles (UPD-6). A kit's `file` is read from
disk (relative to the manifest); its size and sha256 are computed here:

    releases:
      - configuration: Accounting          # a configuration release (UPD-1) ...
        version: 3.0.41.20
        release_date: 2026-02-10
        its_issue: "ITS 2026/02"
        whats_new: "New VAT return form."  # Markdown: whats_new, changes, update_procedure
        major_changes: ["VAT return 2026"]
        min_platform: 8.3.24.1342
        updates_from: [3.0.40.10]
        kits:
          - {file: kits/Accounting_3_0_41_20.cf, kind: full}
          - {file: kits/Accounting_3_0_41_20.cfu, kind: update}
      - version: 8.3.25.1286                # ... or a platform release (UPD-2): no `configuration`
        grade: recommended
        release_date: 2026-01-20
        its_issue: "ITS 2026/01"
        fixed_bugs: [{id: "10045", title: "Slow report on Linux"}]
        kits:
          - {file: kits/platform_8.3.25_linux.tar.gz, kind: platform, os: linux, arch: x86_64}
    articles:
      - {slug: accounting-vat-known-problem, configuration: Accounting, kind: known_problem,
         title: "VAT return rounding", body: "...", versions: [3.0.41.20]}

Each release is declared as a draft (PUT), each kit not yet stored is streamed from disk with a progress bar,
then the release is published. Running it again is safe: published releases are skipped without reading
their files, and an interrupted run uploads only the kits that did not arrive.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

import aiohttp
import pydantic
import typer
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn
from rich.table import Table

from itsctl._common import console, fail
from itsctl._http import (
    CALL_ERRORS,
    Api,
    LoginOption,
    ServiceError,
    _body,
    error_message,
    operator_credentials,
    operator_session,
    service_url,
)
from services.updates.public import Version

app = typer.Typer(help="Releases and their kits in updates: publish from a manifest, list.", no_args_is_help=True)

CHUNK = 1024 * 1024  # read from disk (and sent) per step
# A kit may be gigabytes on a slow link: no total limit, but a silent peer is given up after 10 minutes.
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=600)

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
KitName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")]


def _version(value: Any) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        raise ValueError("quote the version in YAML (an unquoted 8.3 is read as a number)")
    return str(Version.parse(str(value)))


VersionText = Annotated[str, BeforeValidator(_version)]


class ManifestError(ValueError):
    """The manifest cannot be read or is not valid; the message says where."""


class KitEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: Path
    name: KitName | None = None  # default: the file's name
    kind: Literal["full", "update", "platform", "readme", "other"]
    os: str | None = None
    arch: str | None = None

    @property
    def kit_name(self) -> str:
        return self.name or self.file.name


class ConfigurationRelease(BaseModel):
    model_config = ConfigDict(extra="forbid")

    configuration: Code
    version: VersionText
    release_date: date
    its_issue: str
    prerelease: bool = False
    whats_new: str = ""
    changes: str = ""
    major_changes: list[str] = []
    update_procedure: str = ""
    min_platform: VersionText | None = None
    updates_from: list[VersionText] = []
    kits: list[KitEntry] = Field(min_length=1)

    @property
    def label(self) -> str:
        return f"{self.configuration} {self.version}"

    @property
    def path(self) -> str:
        return f"/v1/configurations/{quote(self.configuration, safe='')}/releases/{self.version}"

    def query(self) -> dict[str, str]:
        return {"kind": "configuration", "configuration": self.configuration, "version": self.version}


class FixedBug(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    title: str


class PlatformRelease(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: VersionText
    release_date: date
    its_issue: str
    grade: Literal["recommended", "mandatory", "optional"]
    prerelease: bool = False
    differences: str = ""
    migration_notes: str = ""
    fixed_bugs: list[FixedBug] = []
    readme: str = ""
    kits: list[KitEntry] = Field(min_length=1)

    @property
    def label(self) -> str:
        return f"platform {self.version}"

    @property
    def path(self) -> str:
        return f"/v1/platform/releases/{self.version}"

    def query(self) -> dict[str, str]:
        return {"kind": "platform", "version": self.version}


ReleaseEntry = ConfigurationRelease | PlatformRelease


class ArticleEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str
    configuration: Code | None = None  # None: about the platform
    kind: Literal["known_problem", "administration"]
    title: str
    body: str
    versions: list[VersionText] = []


@dataclass
class Manifest:
    releases: list[ReleaseEntry]
    articles: list[ArticleEntry]
    base_dir: Path  # kits' files are relative to it


def parse_manifest(data: Any, base_dir: Path, source: str = "the manifest") -> Manifest:
    """Check a decoded manifest: `releases` and `articles`, or a single release at the top level."""
    if isinstance(data, dict) and "version" in data:
        data = {"releases": [data]}
    if not isinstance(data, dict) or not set(data) <= {"releases", "articles"}:
        raise ManifestError(f"{source}: expected a mapping with `releases` (and `articles`), or one release")
    problems: list[str] = []
    releases: list[ReleaseEntry] = []
    for i, entry in enumerate(data.get("releases") or []):
        model: type[ConfigurationRelease | PlatformRelease] = (
            ConfigurationRelease if isinstance(entry, dict) and "configuration" in entry else PlatformRelease
        )
        try:
            releases.append(model.model_validate(entry))
        except pydantic.ValidationError as exc:
            problems += [f"releases[{i}] ({_label(entry)}): {_where(e)}" for e in exc.errors(include_url=False)]
    articles: list[ArticleEntry] = []
    for i, entry in enumerate(data.get("articles") or []):
        try:
            articles.append(ArticleEntry.model_validate(entry))
        except pydantic.ValidationError as exc:
            slug = entry.get("slug", "?") if isinstance(entry, dict) else "?"
            problems += [f"articles[{i}] ({slug}): {_where(e)}" for e in exc.errors(include_url=False)]
    seen: dict[str, int] = {}
    for i, release in enumerate(releases):
        if release.label in seen:
            problems.append(f"releases[{i}]: {release.label} is also releases[{seen[release.label]}]")
        seen.setdefault(release.label, i)
        names = [k.kit_name for k in release.kits]
        if len(set(names)) != len(names):
            problems.append(f"releases[{i}] ({release.label}): two kits have the same name")
    if problems:
        raise ManifestError(f"{source} is not a valid manifest:\n" + "\n".join(f"  - {p}" for p in problems))
    if not releases and not articles:
        raise ManifestError(f"{source}: no releases and no articles")
    return Manifest(releases, articles, base_dir)


def load_manifest(path: Path) -> Manifest:
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise ManifestError(f"{path}: expected a .yaml, .yml or .json file")
    try:
        with path.open(encoding="utf-8") as f:
            data = json.load(f) if suffix == ".json" else yaml.safe_load(f)
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path} is not valid YAML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path} is not valid JSON: {exc}") from None
    return parse_manifest(data, path.parent, str(path))


def _label(entry: Any) -> str:
    if not isinstance(entry, dict):
        return repr(entry)[:40]
    return " ".join(str(entry[k]) for k in ("configuration", "version") if k in entry) or "?"


def _where(error: Any) -> str:
    loc = ".".join(str(part) for part in error["loc"]) or "(entry)"
    message = {"extra_forbidden": "unknown field", "missing": "missing"}.get(
        error["type"], error["msg"].removeprefix("Value error, ")
    )
    return f"{loc}: {message}"


# ---- talking to updates ----------------------------------------------------------------------


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


def _hash_file(path: Path, progressed: Progressed) -> tuple[int, str]:
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


async def upload_kit(api: Api, upload_path: str, kit: LocalKit, progressed: Progressed) -> int:
    """Stream the kit's file to updates; the status (201 stored now, 200 stored already)."""
    url = api.base_url + upload_path
    headers = {
        **api.headers,
        "Content-Type": "application/octet-stream",
        "Content-Length": str(kit.size),  # not chunked: the service checks the length before reading
    }
    async with api.http.put(
        url, data=_file_chunks(kit.path, progressed), headers=headers, timeout=UPLOAD_TIMEOUT
    ) as response:
        answer = await _body(response)
        if response.status >= 400:
            raise ServiceError(api.service, "PUT", url, response.status, answer)
        return response.status


class _Bars:
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
    bars = _Bars(progress)
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
        size, sha256 = await asyncio.to_thread(_hash_file, path, bars.start(f"hash   {entry.kit_name}", total))
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
        status = await upload_kit(api, kit["upload"], local, bars.start(f"upload {kit['name']}", local.size))
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


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=False,
    )


@app.command("publish")
def publish(
    manifest_file: Annotated[
        Path, typer.Argument(metavar="MANIFEST", help="A .yaml/.yml or .json release manifest.", show_default=False)
    ],
    login: LoginOption = None,
) -> None:
    """Declare, upload and publish the releases of MANIFEST (and its articles); safe to repeat."""
    try:
        manifest = load_manifest(manifest_file)
    except ManifestError as exc:
        fail(escape(str(exc)), code=2)
    credentials = operator_credentials(login)
    done: list[Outcome] = []

    async def go() -> Summary:
        async with operator_session(credentials) as operator:
            with _progress() as progress:
                return await publish_manifest(
                    operator.api("updates"), manifest, progress=progress, on_release=done.append
                )

    try:
        summary = asyncio.run(go())
    except ManifestError as exc:
        fail(escape(str(exc)), code=2)
    except CALL_ERRORS as exc:
        message = error_message(exc)
        if done:
            message += f"\n{len(done)} release(s) were done before it; running again is safe"
        fail(escape(message))
    for outcome in summary.releases:
        console.print(escape(outcome.line()))
    console.print(f"{escape(str(manifest_file))} → {service_url('updates')}: {escape(summary.line())}")
    if any(o.state == "withdrawn" for o in summary.releases):
        fail("a withdrawn release cannot be published again: give it a new version", code=1)


@app.command("list")
def list_(
    configuration: Annotated[str | None, typer.Option(help="Only this configuration's releases.")] = None,
    kind: Annotated[str | None, typer.Option(help="configuration or platform.")] = None,
    state: Annotated[str | None, typer.Option(help="draft, published or withdrawn.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    login: LoginOption = None,
) -> None:
    """The releases in updates, in every state (platform first, then by configuration, newest first)."""
    query = {k: v for k, v in (("configuration", configuration), ("kind", kind), ("state", state)) if v}
    query["limit"] = str(limit)
    credentials = operator_credentials(login)

    async def go() -> Any:
        async with operator_session(credentials) as operator:
            _, answer = await operator.api("updates").call("GET", "/v1/releases?" + urlencode(query))
            return answer

    try:
        answer = asyncio.run(go())
    except CALL_ERRORS as exc:
        fail(escape(error_message(exc)))
    table = Table("release", "version", "state", "date", "kits", "published", "id")
    for r in answer["items"]:
        uploaded = sum(1 for k in r["kits"] if k["uploaded"])
        table.add_row(
            escape(r["configuration"] or f"platform ({r['grade']})"),
            escape(r["version"] + (" (pre)" if r["prerelease"] else "")),
            r["state"],
            r["release_date"],
            f"{uploaded}/{len(r['kits'])}",
            (r["published_at"] or "")[:19],
            r["id"],
        )
    console.print(table)


@app.command("withdraw")
def withdraw(
    release_id: Annotated[str, typer.Argument(help="The release's id (see `itsctl releases list`).")],
    reason: Annotated[str, typer.Option(help="Why: told to the subscribers' owners.", show_default=False)],
    login: LoginOption = None,
) -> None:
    """Withdraw a published release: its pages answer 410 and update plans avoid it."""
    credentials = operator_credentials(login)

    async def go() -> Any:
        async with operator_session(credentials) as operator:
            _, answer = await operator.api("updates").call(
                "POST", f"/v1/releases/{quote(release_id, safe='')}/withdraw", {"reason": reason}
            )
            return answer

    try:
        answer = asyncio.run(go())
    except CALL_ERRORS as exc:
        fail(escape(error_message(exc)))
    console.print(f"{escape(answer['configuration'] or 'platform')} {escape(answer['version'])}: {answer['state']}")
