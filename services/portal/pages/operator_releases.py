"""The operator cabinet's releases (updates): drafts with their kits, publishing and withdrawing."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from services.portal import i18n
from services.portal.clients.answers import Listed
from services.portal.clients.catalogue import Configuration
from services.portal.clients.transport import ServiceDown, ServiceError
from services.portal.clients.updates import Release
from services.portal.keys import CATALOGUE, UPDATES
from services.portal.pages.base import as_user, form_values, language_of, logged_in, path_uuid, redirect, t
from services.portal.pages.kit_forms import KitTooLarge, ReceivedForm, Spooled, file_chunks, received_form, streams_form
from services.portal.pages.operator_cabinet import cabinet_page, field_errors, not_for_you, refused, required
from services.portal.problems import FORM_PROBLEMS, Slug

RELEASES_SHOWN = 200  # a page; the next one follows updates' cursor
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
# The platform draft form shares the releases page with the configuration's: its fields carry this prefix.
PLATFORM_PREFIX = "platform_"
FIXED_BUG = re.compile(r"(?P<id>\S+?):\s+(?P<title>\S.*)")  # "ID: description"; an ID may hold ':' itself

routes = web.RouteTableDef()


async def _releases(request: web.Request) -> Listed[Release]:
    """A page of the releases (from the link's `cursor`), and the cursor of the next page (None: the last)."""
    query = {"limit": str(RELEASES_SHOWN)}
    if (state := request.query.get("state")) in ("draft", "published", "withdrawn"):
        query["state"] = state
    if cursor := request.query.get("cursor"):
        query["cursor"] = cursor
    updates = request.app[UPDATES]
    try:
        return await as_user(request, lambda token: updates.releases(token, query))
    except ServiceError as exc:
        if exc.status != 422 or "cursor" not in query:
            raise
        del query["cursor"]  # a cursor from an old or edited link: start from the first page
        return await as_user(request, lambda token: updates.releases(token, query))


async def _configuration_codes(request: web.Request) -> list[Configuration]:
    """The catalogue's configurations for the draft form's list (registration's; empty if it is away)."""
    try:
        return await as_user(request, request.app[CATALOGUE].configurations)
    except (ServiceError, ServiceDown):
        return []


async def _releases_page(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    try:
        page = await _releases(request)
    except ServiceError as exc:
        return not_for_you(request, exc)
    errors = dict(errors or {})
    shown = {item.id for item in page.items}
    done = request.query.get("done", "")
    context = {
        "here_nav": "releases",
        "items": page.items,
        "configurations": await _configuration_codes(request),
        "kinds": KIT_KINDS,
        "platform_kinds": PLATFORM_KIT_KINDS,
        "grades": GRADES,
        "operating_systems": OPERATING_SYSTEMS,
        "architectures": ARCHITECTURES,
        "state": request.query.get("state", ""),
        "next_cursor": page.next_cursor,
        "first": not request.query.get("cursor"),
        "done_release": request.query.get("release", "") if request.query.get("release", "") in shown else "",
        "message": t(request, f"operator.releases.done.{done}")
        if done in ("draft", "uploaded", "published", "withdrawn")
        else "",
        "errors": errors,
        "values": values or {},
    }
    return cabinet_page(request, "operator_releases.html", context, status=status)


@routes.get("/operator/releases")
async def releases(request: web.Request) -> web.Response:
    return await _releases_page(request)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _versions(text: str) -> list[str]:
    return [v for v in re.split(r"[\s,;]+", text) if v]


def _draft_body(fields: Mapping[str, str]) -> dict[str, Any]:
    """UPD-1: every section of the draft as the form gives it (Markdown where the service says so)."""
    return {
        "release_date": fields.get("release_date", "").strip(),
        "its_issue": fields.get("its_issue", "").strip(),
        "prerelease": fields.get("prerelease") == "yes",
        "whats_new": fields.get("whats_new", ""),
        "changes": fields.get("changes", ""),
        "major_changes": _lines(fields.get("major_changes", "")),
        "update_procedure": fields.get("update_procedure", ""),
        "min_platform": fields.get("min_platform", "").strip() or None,
        "updates_from": _versions(fields.get("updates_from", "")),
    }


def _platform_body(fields: Mapping[str, str], bugs: list[dict[str, str]]) -> dict[str, Any]:
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


def _fixed_bugs(request: web.Request, text: str) -> FixedBugs:
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


def _before_spooling(request: web.Request) -> web.Response | None:
    """A kit is spooled to disk before updates decides: a token without the operator scope, which updates would
    refuse anyway, is refused before the body is read (the disk is not anybody's to fill)."""
    return None if logged_in(request).operator else refused(request)


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
        body=_draft_body(fields),
        kit={"kind": fields.get("kit_kind", "")},
        explain=lambda exc: field_errors(request, exc, {**DRAFT_FIELDS, **KIT_FIELDS}),
    )
    return draft, errors


def _platform_draft(request: web.Request, fields: Mapping[str, str]) -> tuple[Draft, dict[str, str]]:
    errors = required(request, fields, ("version", "release_date", "its_issue", "grade"))
    bugs = _fixed_bugs(request, fields.get("fixed_bugs", ""))
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
        body=_platform_body(fields, bugs.items),
        kit={"kind": kind, "os": system or None, "arch": arch or None},
        explain=explain,
    )
    return draft, errors


DRAFT_FORMS: dict[str, tuple[str, Callable[[web.Request, Mapping[str, str]], tuple[Draft, dict[str, str]]]]] = {
    "configuration": ("", _configuration_draft),
    "platform": (PLATFORM_PREFIX, _platform_draft),
}


def _on_form(prefix: str, errors: Mapping[str, str]) -> dict[str, str]:
    """A draft form's errors under its fields' names on the shared page (its form-level one as `<prefix>form`)."""
    if not prefix:
        return dict(errors)
    return {prefix + ("form" if key == "_form" else key): message for key, message in errors.items()}


@routes.post("/operator/releases")
@streams_form
async def create_draft(request: web.Request) -> web.Response:
    """A release draft with a kit: spooled, declared, streamed on to updates. A configuration's (UPD-1), or with
    `?kind=platform` the platform's (UPD-2): the same path, which the gateway lets carry a kit's size.

    A draft of the same configuration (or the platform) and version is written again: its sections become these,
    its kits are kept and this file is added (or replaces the kit of the same name)."""
    if (kind := request.query.get("kind", "configuration")) not in DRAFT_FORMS:
        raise web.HTTPNotFound()
    prefix, prepare = DRAFT_FORMS[kind]
    if (refusal := _before_spooling(request)) is not None:
        return refusal
    try:
        received = await received_form(request)
    except KitTooLarge:
        errors = _on_form(prefix, {"file": t(request, "operator.error.file.too_large")})
        return await _releases_page(request, errors=errors, status=413)
    try:
        return await _save_draft(request, received, prefix, prepare)
    finally:
        received.close()


async def _save_draft(
    request: web.Request,
    received: ReceivedForm,
    prefix: str,
    prepare: Callable[[web.Request, Mapping[str, str]], tuple[Draft, dict[str, str]]],
) -> web.Response:
    values, upload = dict(received.fields), received.upload  # values: the form shown again, as it was sent
    fields = {k.removeprefix(prefix): v for k, v in received.fields.items() if k.startswith(prefix)}
    draft, errors = prepare(request, fields)
    if upload is None:
        errors["file"] = t(request, "operator.error.file.missing")
    if errors or upload is None:
        return await _releases_page(request, errors=_on_form(prefix, errors), values=values, status=422)
    name = fields.get("kit_name", "").strip() or upload.filename.replace("\\", "/").rsplit("/", 1)[-1]
    new_kit = {"name": name, **draft.kit, "size": upload.size, "sha256": upload.sha256}
    updates = request.app[UPDATES]
    try:
        kits = [new_kit]
        query = {**draft.lookup, "limit": "1"}
        found = (await as_user(request, lambda token: updates.releases(token, query))).items
        if found and found[0].state == "draft":
            kits += [k.declared() for k in found[0].kits if k.name != name]
        body = {**draft.body, "kits": kits}
        saved = await as_user(request, lambda token: updates.put_draft(token, draft.configuration, draft.version, body))
    except ServiceError as exc:
        if exc.status == 403:
            return refused(request)
        errors = draft.explain(exc)
        if exc.slug == Slug.RELEASE_NOT_DRAFT:
            said = FORM_PROBLEMS[Slug.RELEASE_NOT_DRAFT]
            errors = {said.field: t(request, said.key)}
        return await _releases_page(request, errors=_on_form(prefix, errors), values=values, status=exc.status)
    release_id = saved.id
    kit = next((k for k in saved.kits if k.name == name), None)
    if kit is not None and not kit.uploaded:
        try:
            await _send_kit(request, release_id, name, upload)
        except ServiceError as exc:
            return await _releases_page(request, errors={release_id: _kit_problem(request, exc)}, status=exc.status)
    return redirect(
        "/operator/releases?" + urlencode({"done": "draft", "release": release_id}) + f"#release-{release_id}"
    )


@routes.post("/operator/releases/{release_id}/kits")
@streams_form
async def upload_kit(request: web.Request) -> web.Response:
    """The content of a kit the draft declares and has not received: checked by updates against the declared
    size and sha256 (the portal sends the size it counted)."""
    release_id = path_uuid(request, "release_id")
    if (refusal := _before_spooling(request)) is not None:
        return refusal
    try:
        received = await received_form(request)
    except KitTooLarge:
        return await _releases_page(
            request, errors={release_id: t(request, "operator.error.file.too_large")}, status=413
        )
    try:
        name = received.fields.get("kit", "").strip()
        if received.upload is None or not name:
            message = t(request, "operator.error.file.missing")
            return await _releases_page(request, errors={release_id: message}, status=422)
        try:
            await _send_kit(request, release_id, name, received.upload)
        except ServiceError as exc:
            if exc.status == 403:
                return refused(request)
            return await _releases_page(request, errors={release_id: _kit_problem(request, exc)}, status=exc.status)
    finally:
        received.close()
    return redirect(
        "/operator/releases?" + urlencode({"done": "uploaded", "release": release_id}) + f"#release-{release_id}"
    )


def _kit_problem(request: web.Request, exc: ServiceError) -> str:
    language = language_of(request)
    return i18n.refusal_message(language, "operator.problem", exc)


async def _send_kit(request: web.Request, release_id: str, name: str, upload: Spooled) -> None:
    """The spooled file to updates, streamed from disk with its length."""
    updates = request.app[UPDATES]
    await as_user(
        request, lambda token: updates.upload_kit(token, release_id, name, file_chunks(upload.file), upload.size)
    )


@routes.post("/operator/releases/{release_id}/publish")
async def publish(request: web.Request) -> web.Response:
    release_id = path_uuid(request, "release_id")
    await form_values(request)
    try:
        await as_user(request, lambda token: request.app[UPDATES].publish(token, release_id))
    except ServiceError as exc:
        if exc.status == 403:
            return refused(request)
        if exc.slug == Slug.KITS_MISSING:
            missing = ", ".join(str(m) for m in exc.body.get("missing", []))
            message = t(request, "operator.problem.kits-missing", kits=missing)
        else:
            message = _kit_problem(request, exc)
        return await _releases_page(request, errors={release_id: message}, status=exc.status)
    return redirect(
        "/operator/releases?" + urlencode({"done": "published", "release": release_id}) + f"#release-{release_id}"
    )


@routes.post("/operator/releases/{release_id}/withdraw")
async def withdraw(request: web.Request) -> web.Response:
    release_id = path_uuid(request, "release_id")
    values = await form_values(request)
    reason = values.get("reason", "").strip()
    if not reason:
        return await _releases_page(request, errors={release_id: t(request, "operator.error.reason")}, status=422)
    try:
        await as_user(request, lambda token: request.app[UPDATES].withdraw(token, release_id, reason))
    except ServiceError as exc:
        if exc.status == 403:
            return refused(request)
        return await _releases_page(request, errors={release_id: _kit_problem(request, exc)}, status=exc.status)
    return redirect(
        "/operator/releases?" + urlencode({"done": "withdrawn", "release": release_id}) + f"#release-{release_id}"
    )
