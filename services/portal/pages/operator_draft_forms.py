"""The release draft forms of the operator cabinet (UPD-1, UPD-2): what each form asks of updates, read from the
fields a browser sends; the fixed bugs' lines parsed; updates' refusals next to the form's fields."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from services.portal.clients.transport import ServiceError
from services.portal.pages.base import t
from services.portal.pages.operator_cabinet import field_errors, required

DRAFT_FIELDS = {
    "code": "configuration",
    "version": "version",
    "release_date": "release_date",
    "its_issue": "its_issue",
    "prerelease": "prerelease",
    "whats_new": "whats_new",
    "changes": "changes",
    "major_changes": "major_changes",
    "update_procedure": "update_procedure",
    "min_platform": "min_platform",
    "updates_from": "updates_from",
    "kits": "file",
}
PLATFORM_FIELDS = {
    "version": "version",
    "release_date": "release_date",
    "its_issue": "its_issue",
    "grade": "grade",
    "prerelease": "prerelease",
    "differences": "differences",
    "migration_notes": "migration_notes",
    "fixed_bugs": "fixed_bugs",
    "readme": "readme",
    "kits": "file",
    "os": "kit_os",
    "arch": "kit_arch",
}
KIT_FIELDS = {"name": "kit_name", "kind": "kit_kind"}
KIT_KINDS = ("full", "update", "other")
PLATFORM_KIT_KINDS = ("platform", "readme", "other")
GRADES = ("recommended", "mandatory", "optional")
OPERATING_SYSTEMS = ("linux", "windows", "macos")  # what updates' update plans pick a platform kit by (UPD-5)
ARCHITECTURES = ("x86_64", "aarch64")
# The platform draft form's fields carry this prefix (its page and the configuration's once were one).
PLATFORM_PREFIX = "platform_"
FIXED_BUG = re.compile(r"(?P<id>\S+?):\s+(?P<title>\S.*)")  # "ID: description"; an ID may hold ':' itself


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def versions(text: str) -> list[str]:
    return [v for v in re.split(r"[\s,;]+", text) if v]


def draft_body(fields: Mapping[str, str]) -> dict[str, Any]:
    """UPD-1: every section of the draft as the form gives it (Markdown where the service says so)."""
    return {
        "release_date": fields.get("release_date", "").strip(),
        "its_issue": fields.get("its_issue", "").strip(),
        "prerelease": fields.get("prerelease") == "yes",
        "whats_new": fields.get("whats_new", ""),
        "changes": fields.get("changes", ""),
        "major_changes": lines(fields.get("major_changes", "")),
        "update_procedure": fields.get("update_procedure", ""),
        "min_platform": fields.get("min_platform", "").strip() or None,
        "updates_from": versions(fields.get("updates_from", "")),
    }


def platform_body(fields: Mapping[str, str], bugs: list[dict[str, str]]) -> dict[str, Any]:
    """UPD-2: every section of a platform release as the form gives it; the ReadMe is plain text."""
    return {
        "release_date": fields.get("release_date", "").strip(),
        "its_issue": fields.get("its_issue", "").strip(),
        "grade": fields.get("grade", ""),
        "prerelease": fields.get("prerelease") == "yes",
        "differences": fields.get("differences", ""),
        "migration_notes": fields.get("migration_notes", ""),
        "fixed_bugs": bugs,
        "readme": fields.get("readme", ""),
    }


@dataclass
class FixedBugs:
    """The fixed bugs' textarea parsed: one "ID: description" a line (blank lines skipped)."""

    items: list[dict[str, str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the textarea's line (from 1) of each item
    error: str | None = None  # the first malformed or repeated line, said in the user's language


def fixed_bugs(request: web.Request, text: str) -> FixedBugs:
    parsed = FixedBugs()
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        found = FIXED_BUG.fullmatch(line.strip())
        if found is None:
            parsed.error = t(request, "operator.error.fixed_bugs.malformed", line=number)
            break
        bug_id = found["id"]
        if bug_id in seen:
            parsed.error = t(request, "operator.error.fixed_bugs.repeated", line=number, id=bug_id, first=seen[bug_id])
            break
        seen[bug_id] = number
        parsed.items.append({"id": bug_id, "title": found["title"].strip()})
        parsed.lines.append(number)
    return parsed


@dataclass
class Draft:
    """What one draft form asks of updates, before its kits: all that differs between UPD-1 and UPD-2."""

    configuration: str | None  # the draft's configuration (None: the platform's) and version, created or replaced
    version: str
    lookup: dict[str, str]  # GET /v1/releases: the same draft, whose other kits are kept
    body: dict[str, Any]  # every section but the kits
    kit: dict[str, Any]  # the new kit's kind (and os, arch), declared with the file's name, size and sha256
    explain: Callable[[ServiceError], dict[str, str]]  # updates' errors next to the form's (unprefixed) fields


def _configuration_draft(request: web.Request, fields: Mapping[str, str]) -> tuple[Draft, dict[str, str]]:
    errors = required(request, fields, ("configuration", "version", "release_date", "its_issue"))
    code, version = fields.get("configuration", "").strip(), fields.get("version", "").strip()
    draft = Draft(
        configuration=code,
        version=version,
        lookup={"kind": "configuration", "configuration": code, "version": version},
        body=draft_body(fields),
        kit={"kind": fields.get("kit_kind", "")},
        explain=lambda exc: field_errors(request, exc, {**DRAFT_FIELDS, **KIT_FIELDS}),
    )
    return draft, errors


def _platform_draft(request: web.Request, fields: Mapping[str, str]) -> tuple[Draft, dict[str, str]]:
    errors = required(request, fields, ("version", "release_date", "its_issue", "grade"))
    bugs = fixed_bugs(request, fields.get("fixed_bugs", ""))
    if bugs.error is not None:
        errors["fixed_bugs"] = bugs.error
    kind, system, arch = (fields.get(k, "").strip() for k in ("kit_kind", "kit_os", "kit_arch"))
    if kind == "platform":  # updates' rule too: said here, next to the two choices rather than the file
        for name, chosen in (("kit_os", system), ("kit_arch", arch)):
            if not chosen:
                errors[name] = t(request, f"operator.error.{name}.missing")

    def explain(exc: ServiceError) -> dict[str, str]:
        explained = field_errors(request, exc, {**PLATFORM_FIELDS, **KIT_FIELDS})
        first = next((e.field for e in exc.field_errors if e.field.startswith("fixed_bugs")), "")
        if (index := re.match(r"fixed_bugs\.(\d+)", first)) and int(index[1]) < len(bugs.lines):
            line = bugs.lines[int(index[1])]
            explained["fixed_bugs"] = t(
                request, "operator.error.fixed_bugs.line", line=line, problem=explained["fixed_bugs"]
            )
        return explained

    version = fields.get("version", "").strip()
    draft = Draft(
        configuration=None,
        version=version,
        lookup={"kind": "platform", "version": version},
        body=platform_body(fields, bugs.items),
        kit={"kind": kind, "os": system or None, "arch": arch or None},
        explain=explain,
    )
    return draft, errors


DRAFT_FORMS: dict[str, tuple[str, Callable[[web.Request, Mapping[str, str]], tuple[Draft, dict[str, str]]]]] = {
    "configuration": ("", _configuration_draft),
    "platform": (PLATFORM_PREFIX, _platform_draft),
}


def on_form(prefix: str, errors: Mapping[str, str]) -> dict[str, str]:
    """A draft form's errors under its fields' names on the shared page (its form-level one as `<prefix>form`)."""
    if not prefix:
        return dict(errors)
    return {prefix + ("form" if key == "_form" else key): message for key, message in errors.items()}


def notes_of(fields: Mapping[str, str]) -> dict[str, Any]:
    """The Markdown sections of a form (unprefixed fields) that updates renders for a preview (its NotesIn)."""
    notes: dict[str, Any] = {
        name: fields.get(name, "")
        for name in ("whats_new", "changes", "update_procedure", "differences", "migration_notes")
    }
    return {**notes, "major_changes": lines(fields.get("major_changes", ""))}
