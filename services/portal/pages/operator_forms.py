"""The operator cabinet's regulated reporting forms (DAT-2), as its releases: the list of form versions, filtered
(state, configuration, form code) a page at a time; a new version's draft with its file in the same form (spooled
with its size and sha256, declared, then streamed on to updates); publishing and withdrawing, each after a page
that says what will happen and asks to confirm. A form version is named in links by its code and version, never by
updates' id."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from services.portal.clients.answers import Listed
from services.portal.clients.transport import ServiceError
from services.portal.clients.updates import FormVersionOut
from services.portal.keys import UPDATES
from services.portal.pages.base import as_user, form_values, logged_in, redirect, t
from services.portal.pages.kit_forms import KitTooLarge, ReceivedForm, Spooled, file_chunks, received_form, streams_form
from services.portal.pages.listing import ListForm
from services.portal.pages.operator_cabinet import cabinet_page, field_errors, not_for_you, refused, required
from services.portal.pages.operator_draft_forms import versions
from services.portal.pages.operator_drafts import catalogue_configurations, kit_problem
from services.portal.pages.operator_releases import CONFIRMED, STATE, by_configuration, unknown_configuration
from services.portal.problems import FORM_PROBLEMS, Slug

PATH = "/operator/forms"
NEW_PATH = "/operator/forms/new"
FORMS_SHOWN = 25  # a page; the next one follows updates' cursor
MAX_FORM_BYTES = 64 * 1024**2  # a form's file is a few MB; the gateway lets this much through to the page
FORM_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")  # updates' FORM_CODE: the regulator's code
VERSIONS_OF_A_FORM = 1000  # updates' largest page: every version of one form
DONE = ("draft", "published", "withdrawn")

# updates' fields (whole dotted paths first) → the form's
FORM_FIELDS = {
    "code": "code",
    "version": "version",
    "name": "name",
    "applies_from": "applies_from",
    "configurations": "configurations",
    "basis.number": "basis_number",
    "basis.date": "basis_date",
    "changes": "changes",
    "file": "file",
    "file.name": "file",
    "file.size": "file",
    "file.sha256": "file",
}

routes = web.RouteTableDef()


def form_link(form: FormVersionOut, action: str) -> str:
    return f"{PATH}/{quote(form.code, safe='')}/{quote(form.version, safe='')}/{action}"


def _done_link(done: str, form: FormVersionOut) -> str:
    return f"{PATH}?" + urlencode({"done": done, "form": f"{form.code}-{form.version}"})


# ---- the list --------------------------------------------------------------------------------------------


async def _forms(request: web.Request, form: ListForm) -> tuple[Listed[FormVersionOut], ListForm]:
    """A page of the form versions as the form asks (the search is a form's code); a cursor from an old or edited
    link starts the list again from its first page."""
    query = form.query() | {"limit": str(FORMS_SHOWN)}
    if "q" in query:
        query["code"] = query.pop("q")
    updates = request.app[UPDATES]
    try:
        return await as_user(request, lambda token: updates.forms(token, query)), form
    except ServiceError as exc:
        if exc.status == 422 and form.cursor:
            return await _forms(request, replace(form, cursor=""))
        raise


@routes.get(PATH)
async def forms(request: web.Request) -> web.Response:
    if not logged_in(request).operator:
        return refused(request)
    form = ListForm.read(request, PATH, (*by_configuration(await catalogue_configurations(request)), STATE))
    errors = unknown_configuration(request, form)
    if form.values["q"] and not FORM_CODE.fullmatch(form.values["q"]):
        errors["q"] = t(request, "operator.forms.search_invalid")
    page = Listed[FormVersionOut](items=[])
    if not errors:
        try:
            page, form = await _forms(request, form)
        except ServiceError as exc:
            if (said := form.refused(request, exc)) is None:
                return not_for_you(request, exc)
            errors = said
    done = request.query.get("done", "")
    context = {
        **form.context(request, page.next_cursor),
        "here_nav": "forms",
        "items": page.items,
        "done_form": request.query.get("form", ""),
        "message": t(request, f"operator.forms.done.{done}") if done in DONE else "",
        "errors": errors,
    }
    return cabinet_page(request, "operator_forms.html", context, status=422 if errors else 200)


# ---- a new version: its draft with its file ----------------------------------------------------------------


async def _new_page(
    request: web.Request,
    *,
    values: dict[str, str] | None = None,
    chosen: list[str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    errors = dict(errors or {})
    if errors and "file" not in errors and values is not None:
        errors["file"] = t(request, "operator.forms.file_again")  # a browser never keeps a chosen file
    context = {
        "here_nav": "forms",
        "configurations": await catalogue_configurations(request),
        "values": values or {},
        "chosen": chosen or [],
        "errors": errors,
    }
    return cabinet_page(request, "operator_form_new.html", context, status=status)


@routes.get(NEW_PATH)
async def new_form(request: web.Request) -> web.Response:
    if not logged_in(request).operator:
        return refused(request)
    return await _new_page(request)


def _draft_body(fields: dict[str, str], configurations: list[str], upload: Spooled) -> dict[str, Any]:
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1]
    return {
        "name": fields.get("name", "").strip(),
        "applies_from": fields.get("applies_from", "").strip(),
        "configurations": configurations,
        "basis": {"number": fields.get("basis_number", "").strip(), "date": fields.get("basis_date", "").strip()},
        "changes": fields.get("changes", ""),
        "file": {"name": name, "size": upload.size, "sha256": upload.sha256},
    }


def _explained(request: web.Request, exc: ServiceError) -> dict[str, str]:
    """updates' refusal of the draft next to the form's fields."""
    if exc.slug == Slug.FORM_VERSION_SPELLED:
        return {"version": t(request, "operator.error.version.spelled_otherwise", version=exc.body.get("version", ""))}
    if (said := FORM_PROBLEMS.get(exc.slug)) is not None:
        return {said.field: t(request, said.key)}
    return field_errors(request, exc, FORM_FIELDS)


@routes.post(PATH)
@streams_form
async def create_form(request: web.Request) -> web.Response:
    """A form version's draft with its file: spooled (size and sha256 counted on the way), declared, streamed on to
    updates. A draft of the same code and version is written again. On any refusal the form is shown again with
    everything typed, but the file, which the browser asks for again."""
    if not logged_in(request).operator:  # before the body is spooled: the disk is not anybody's to fill
        return refused(request)
    try:
        received = await received_form(request, max_bytes=MAX_FORM_BYTES)
    except KitTooLarge:
        return await _new_page(request, errors={"file": t(request, "operator.error.file.too_large")}, status=413)
    try:
        return await _save_form(request, received)
    finally:
        received.close()


async def _save_form(request: web.Request, received: ReceivedForm) -> web.Response:
    values = dict(received.fields)
    chosen = [code for text in received.all("configurations") for code in versions(text)]
    errors = required(request, values, ("code", "version", "name", "applies_from", "basis_number", "basis_date"))
    if not chosen:
        errors["configurations"] = t(request, "operator.error.configurations.missing")
    upload = received.upload
    if upload is None:
        errors["file"] = t(request, "operator.forms.file_missing")
    if errors or upload is None:
        return await _new_page(request, values=values, chosen=chosen, errors=errors, status=422)
    code, version = values["code"].strip(), values["version"].strip()
    updates = request.app[UPDATES]
    body = _draft_body(values, chosen, upload)
    try:
        saved = await as_user(request, lambda token: updates.put_form(token, code, version, body))
    except ServiceError as exc:
        if exc.status == 403:
            return refused(request)
        errors = _explained(request, exc)
        return await _new_page(request, values=values, chosen=chosen, errors=errors, status=exc.status)
    if not saved.file.uploaded:
        try:
            await as_user(
                request, lambda token: updates.upload_form_file(token, saved.id, file_chunks(upload.file), upload.size)
            )
        except ServiceError as exc:
            errors = {"file": kit_problem(request, exc)}
            return await _new_page(request, values=values, chosen=chosen, errors=errors, status=exc.status)
    return redirect(_done_link("draft", saved))


# ---- publishing and withdrawing, confirmed ---------------------------------------------------------------


async def _form_version(request: web.Request) -> FormVersionOut:
    """The form version the path names by its code and version, in whatever state; 404 if there is none."""
    code, version = request.match_info["code"], request.match_info["version"]
    if not FORM_CODE.fullmatch(code):
        raise web.HTTPNotFound()
    query = {"code": code, "limit": str(VERSIONS_OF_A_FORM)}
    found = await as_user(request, lambda token: request.app[UPDATES].forms(token, query))
    form = next((f for f in found.items if f.version == version), None)
    if form is None:
        raise web.HTTPNotFound()
    return form


async def _confirm_page(
    request: web.Request,
    action: str,
    *,
    error: str = "",
    reason: str = "",
    reason_error: str = "",
    status: int = 200,
) -> web.Response:
    """What publishing (or withdrawing) this form version does, with the button that does it and a way back."""
    try:
        form = await _form_version(request)
    except ServiceError as exc:
        return not_for_you(request, exc)
    context = {
        "here_nav": "forms",
        "form": form,
        "action": action,
        "post_to": form_link(form, action),
        "error": error,
        "reason": reason,
        "errors": {"reason": reason_error} if reason_error else {},
    }
    return cabinet_page(request, "operator_form_confirm.html", context, status=status)


@routes.get(PATH + "/{code}/{version}/publish")
async def confirm_publish(request: web.Request) -> web.Response:
    return await _confirm_page(request, "publish")


@routes.get(PATH + "/{code}/{version}/withdraw")
async def confirm_withdraw(request: web.Request) -> web.Response:
    return await _confirm_page(request, "withdraw")


@routes.post(PATH + "/{code}/{version}/publish")
async def publish(request: web.Request) -> web.Response:
    values = await form_values(request)
    if values.get("confirm") != CONFIRMED:
        return await _confirm_page(request, "publish", error=t(request, "operator.confirm.missing"), status=422)
    try:
        form = await _form_version(request)
        await as_user(request, lambda token: request.app[UPDATES].publish_form(token, form.id))
    except ServiceError as exc:
        if exc.status == 403:
            return refused(request)
        return await _confirm_page(request, "publish", error=kit_problem(request, exc), status=exc.status)
    return redirect(_done_link("published", form))


@routes.post(PATH + "/{code}/{version}/withdraw")
async def withdraw(request: web.Request) -> web.Response:
    values = await form_values(request)
    reason = values.get("reason", "").strip()
    if values.get("confirm") != CONFIRMED:
        error = t(request, "operator.confirm.missing")
        return await _confirm_page(request, "withdraw", error=error, reason=reason, status=422)
    if not reason:
        error = t(request, "operator.forms.reason_missing")
        return await _confirm_page(request, "withdraw", reason_error=error, status=422)
    try:
        form = await _form_version(request)
        await as_user(request, lambda token: request.app[UPDATES].withdraw_form(token, form.id, reason))
    except ServiceError as exc:
        if exc.status == 403:
            return refused(request)
        error = kit_problem(request, exc)
        return await _confirm_page(request, "withdraw", error=error, reason=reason, status=exc.status)
    return redirect(_done_link("withdrawn", form))
