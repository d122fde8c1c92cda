"""The operator cabinet's release drafts (updates): the new configuration release (UPD-1) and platform release
(UPD-2) forms on pages of their own, a preview of their notes rendered by updates exactly as the release page will
show them, saving a draft with a kit, and uploading the kits a draft still misses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from services.portal import i18n
from services.portal.clients.catalogue import Configuration
from services.portal.clients.transport import ServiceDown, ServiceError
from services.portal.keys import CATALOGUE, UPDATES
from services.portal.pages.base import as_user, language_of, logged_in, path_uuid, redirect, t
from services.portal.pages.kit_forms import KitTooLarge, ReceivedForm, Spooled, file_chunks, received_form, streams_form
from services.portal.pages.operator_cabinet import cabinet_page, field_errors, not_for_you, refused
from services.portal.pages.operator_draft_forms import (
    ARCHITECTURES,
    DRAFT_FORMS,
    GRADES,
    KIT_KINDS,
    OPERATING_SYSTEMS,
    PLATFORM_KIT_KINDS,
    Draft,
    fixed_bugs,
    notes_of,
    on_form,
)
from services.portal.problems import FORM_PROBLEMS, Slug

routes = web.RouteTableDef()

NEW_PAGES = {"configuration": "/operator/releases/new", "platform": "/operator/releases/new-platform"}
TEMPLATES = {"configuration": "operator_release_new.html", "platform": "operator_platform_new.html"}
NOTES_FIELDS = {name: name for name in ("whats_new", "changes", "major_changes", "update_procedure")}
NOTES_FIELDS |= {"differences": "differences", "migration_notes": "migration_notes"}


async def catalogue_configurations(request: web.Request) -> list[Configuration]:
    """The catalogue's configurations for the draft form's list (registration's; empty if it is away)."""
    try:
        return await as_user(request, request.app[CATALOGUE].configurations)
    except (ServiceError, ServiceDown):
        return []


async def _draft_page(
    request: web.Request,
    kind: str,
    *,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    preview: Mapping[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    context = {
        "here_nav": "releases",
        "configurations": await catalogue_configurations(request) if kind == "configuration" else [],
        "kinds": KIT_KINDS,
        "platform_kinds": PLATFORM_KIT_KINDS,
        "grades": GRADES,
        "operating_systems": OPERATING_SYSTEMS,
        "architectures": ARCHITECTURES,
        "errors": dict(errors or {}),
        "values": dict(values or {}),
        "preview": preview,
    }
    return cabinet_page(request, TEMPLATES[kind], context, status=status)


@routes.get("/operator/releases/new")
async def new_release(request: web.Request) -> web.Response:
    if not logged_in(request).operator:
        return refused(request)
    return await _draft_page(request, "configuration")


@routes.get("/operator/releases/new-platform")
async def new_platform_release(request: web.Request) -> web.Response:
    if not logged_in(request).operator:
        return refused(request)
    return await _draft_page(request, "platform")


def _before_spooling(request: web.Request) -> web.Response | None:
    """A kit is spooled to disk before updates decides: a token without the operator scope, which updates would
    refuse anyway, is refused before the body is read (the disk is not anybody's to fill)."""
    return None if logged_in(request).operator else refused(request)


@routes.post("/operator/releases")
@streams_form
async def create_draft(request: web.Request) -> web.Response:
    """A release draft with a kit: spooled, declared, streamed on to updates. A configuration's (UPD-1), or with
    `?kind=platform` the platform's (UPD-2): the same path, which the gateway lets carry a kit's size. The form's
    "Preview" button (`action=preview`) shows its notes as the release page will, stores nothing, keeps the form.

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
        errors = on_form(prefix, {"file": t(request, "operator.error.file.too_large")})
        return await _draft_page(request, kind, errors=errors, status=413)
    try:
        if received.fields.get("action") == "preview":
            return await _preview(request, kind, received.fields)
        return await _save_draft(request, kind, received, prepare)
    finally:
        received.close()


async def _preview(request: web.Request, kind: str, values: dict[str, str]) -> web.Response:
    """The notes rendered by updates (the release page's own rendering), with the form as it was sent."""
    prefix = DRAFT_FORMS[kind][0]
    fields = {k.removeprefix(prefix): v for k, v in values.items() if k.startswith(prefix)}
    try:
        html = await as_user(request, lambda token: request.app[UPDATES].preview_notes(token, notes_of(fields)))
    except ServiceError as exc:
        if exc.status == 403:
            return refused(request)
        errors = on_form(prefix, field_errors(request, exc, NOTES_FIELDS))
        return await _draft_page(request, kind, errors=errors, values=values, status=exc.status)
    bugs = fixed_bugs(request, fields.get("fixed_bugs", ""))
    errors = on_form(prefix, {"fixed_bugs": bugs.error}) if bugs.error else {}
    preview = {**html.model_dump(), "fixed_bugs": bugs.items, "readme": fields.get("readme", "")}
    return await _draft_page(request, kind, errors=errors, values=values, preview=preview)


async def _save_draft(
    request: web.Request,
    kind: str,
    received: ReceivedForm,
    prepare: Callable[[web.Request, Mapping[str, str]], tuple[Draft, dict[str, str]]],
) -> web.Response:
    prefix = DRAFT_FORMS[kind][0]
    values, upload = dict(received.fields), received.upload  # values: the form shown again, as it was sent
    fields = {k.removeprefix(prefix): v for k, v in received.fields.items() if k.startswith(prefix)}
    draft, errors = prepare(request, fields)
    if upload is None:
        errors["file"] = t(request, "operator.error.file.missing")
    if errors or upload is None:
        return await _draft_page(request, kind, errors=on_form(prefix, errors), values=values, status=422)
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
        return await _draft_page(request, kind, errors=on_form(prefix, errors), values=values, status=exc.status)
    release_id = saved.id
    kit = next((k for k in saved.kits if k.name == name), None)
    if kit is not None and not kit.uploaded:
        try:
            await _send_kit(request, release_id, name, upload)
        except ServiceError as exc:
            return await _kits_page(request, release_id, error=kit_problem(request, exc), status=exc.status)
    return redirect(
        "/operator/releases?" + urlencode({"done": "draft", "release": release_id}) + f"#release-{release_id}"
    )


# ---- the kits a draft still misses ----------------------------------------------------------------------


async def _kits_page(request: web.Request, release_id: str, *, error: str = "", status: int = 200) -> web.Response:
    try:
        release = await as_user(request, lambda token: request.app[UPDATES].release(token, release_id))
    except ServiceError as exc:
        return not_for_you(request, exc)
    context = {"here_nav": "releases", "release": release, "error": error}
    return cabinet_page(request, "operator_release_kits.html", context, status=status)


@routes.get("/operator/releases/{release_id}/kits")
async def kits(request: web.Request) -> web.Response:
    return await _kits_page(request, path_uuid(request, "release_id"))


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
        return await _kits_page(request, release_id, error=t(request, "operator.error.file.too_large"), status=413)
    try:
        name = received.fields.get("kit", "").strip()
        if received.upload is None or not name:
            return await _kits_page(request, release_id, error=t(request, "operator.error.file.missing"), status=422)
        try:
            await _send_kit(request, release_id, name, received.upload)
        except ServiceError as exc:
            if exc.status == 403:
                return refused(request)
            return await _kits_page(request, release_id, error=kit_problem(request, exc), status=exc.status)
    finally:
        received.close()
    return redirect(
        "/operator/releases?" + urlencode({"done": "uploaded", "release": release_id}) + f"#release-{release_id}"
    )


def kit_problem(request: web.Request, exc: ServiceError) -> str:
    return i18n.refusal_message(language_of(request), "operator.problem", exc)


async def _send_kit(request: web.Request, release_id: str, name: str, upload: Spooled) -> None:
    """The spooled file to updates, streamed from disk with its length."""
    updates = request.app[UPDATES]
    await as_user(
        request, lambda token: updates.upload_kit(token, release_id, name, file_chunks(upload.file), upload.size)
    )
