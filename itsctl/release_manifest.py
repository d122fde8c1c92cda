"""The release manifest of `itsctl releases publish`: read from YAML or JSON and checked, before anything is sent.

The manifest lists releases and, optionally, articles (UPD-6). A kit's `file` is read from disk (relative to
the manifest); its size and sha256 are computed when it is published (itsctl.release_publishing):

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
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

import pydantic
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from services.updates.public import Version

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
