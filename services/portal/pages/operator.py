"""The operator cabinet: partners with their staff and API clients (identity: operator_partners.py), the catalogue
(registration), releases and their kits (updates), the delivery log (notifications).

Operators are accounts whose token carries the scope `operator`. Every service decides for itself who may do
what; its refusal is shown as a friendly page. The portal checks only the shape of what it forwards (ids
parsed, codes quoted as one path segment) and keeps nothing: a client secret or a batch of PINs is shown in
the answer to the POST that made it, and nowhere else.

Kits are uploaded as multipart/form-data: the file is spooled to a temporary file (size and sha256 computed
on the way), declared with the draft, streamed on to updates and the temporary file deleted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import BodyPartReader, web
from multidict import MultiDictProxy

from services.portal import csrf, i18n
from services.portal.clients import ServiceDown, ServiceError, Unauthenticated
from services.portal.csrf import FIELD as CSRF_FIELD
from services.portal.csrf import CsrfRejected
from services.portal.pages.base import (
    IDENTITY,
    NOTIFICATIONS,
    REGISTRATION,
    UPDATES,
    as_user,
    form_values,
    language_of,
    logged_in,
    path_uuid,
    redirect,
    render,
    t,
)
from services.portal.pages.releases import human_size
from services.portal.pages.software import moment
from shared.parsing import read_form_fields, reading_form

routes = web.RouteTableDef()

# registration's limit per request; beyond 1,000 it issues them as a deferred batch (operator_numbers.py).
MAX_ISSUE = 100_000
RELEASES_SHOWN = 200  # a page; the next one follows updates' cursor
DELIVERIES_PAGE = 50
# A kit is spooled to disk here before it is sent on; updates has its own, usually smaller, limit.
MAX_KIT_BYTES = 8 * 1024**3
CHUNK = 256 * 1024
MAX_TEXT_FIELD = 1024 * 1024  # bytes of one text field of a streamed form (a full change list is 200,000 chars)
MAX_TEXT_TOTAL = 4 * 1024 * 1024
# A kit may take long on a slow link: no total limit, but a silent peer is given up after 10 minutes.
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=600)

CONFIGURATION_FIELDS = {"code": "code", "name": "name", "maintenance_category": "maintenance_category"}
CONFIGURATION_FIELDS |= {"vendor": "vendor"}
PRODUCT_FIELDS = {"article": "article", "name": "name", "edition": "edition", "configurations": "configurations"}
PRODUCT_FIELDS |= {"pin_envelope": "pin_envelope", "its_required": "its_required"}
ISSUE_FIELDS = {"count": "count", "with_pin": "with_pin"}
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
DELIVERY_FIELDS = {"recipient": "recipient", "status": "status", "cursor": "_form"}
EDITIONS = ("BASIC", "PROF", "CORP", "SPECIAL")
KIT_KINDS = ("full", "update", "other")
PLATFORM_KIT_KINDS = ("platform", "readme", "other")
GRADES = ("recommended", "mandatory", "optional")
OPERATING_SYSTEMS = ("linux", "windows", "macos")  # what updates' update plans pick a platform kit by (UPD-5)
ARCHITECTURES = ("x86_64", "aarch64")
# The platform draft form shares the releases page with the configuration's: its fields carry this prefix.
PLATFORM_PREFIX = "platform_"
FIXED_BUG = re.compile(r"(?P<id>\S+?):\s+(?P<title>\S.*)")  # "ID: description"; an ID may hold ':' itself
DELIVERY_STATUSES = ("pending", "sent", "retrying", "failed")


def _q(value: str) -> str:
    """A code, article or version as exactly one path segment."""
    return quote(value, safe="")


async def _call(
    request: web.Request,
    service: Any,
    method: str,
    path: str,
    body: Mapping[str, Any] | None = None,
) -> Any:
    return await as_user(request, lambda token: service.call(method, path, token=token, json_body=body))


def _identity(request: web.Request) -> Any:
    return request.app[IDENTITY].service


def _page(request: web.Request, template: str, context: Mapping[str, Any], *, status: int = 200) -> web.Response:
    return render(
        request, template, {"moment": lambda v: moment(request, v), "human_size": human_size, **context}, status=status
    )


def _refused(request: web.Request, exc: ServiceError | None = None) -> web.Response:
    """The cabinet is for operators: a service's 403 (or, where no service is asked, the token's scopes) as a
    page; another refusal of a whole page with what the service said."""
    language = language_of(request)
    if exc is None or exc.status == 403:
        context = {"title_key": "operator.refused.title", "message": t(request, "operator.refused")}
        return render(request, "operator_refused.html", context, status=403)
    message = i18n.known(language, f"operator.problem.{exc.slug}") or i18n.problem_message(language, exc)
    return render(request, "operator_refused.html", {"title_key": "error.title", "message": message}, status=exc.status)


def _not_for_you(request: web.Request, exc: ServiceError) -> web.Response:
    """403 from a service: the friendly page. identity answers 404 for a partner a caller may not see; for a
    caller without the operator scope that 404 is the same refusal (the partner's existence stays hidden)."""
    if exc.status == 403 or (exc.status == 404 and not logged_in(request).operator):
        return _refused(request)
    if exc.status == 404:
        raise web.HTTPNotFound()
    return _refused(request, exc)


def _operator_page(request: web.Request) -> web.Response | None:
    """Pages whose reads are open to every signed-in user (the catalogue): shown in the cabinet to operators
    only. Display only: every change is decided by the service."""
    return None if logged_in(request).operator else _refused(request)


def _errors(request: web.Request, exc: ServiceError, fields: Mapping[str, str]) -> dict[str, str]:
    """A service's errors next to the form's fields, in the user's language; what concerns none above it."""
    language = language_of(request)
    errors: dict[str, str] = {}
    for item in exc.field_errors:
        parts = item["field"].split(".")
        name = next((fields[p] for p in reversed(parts) if p in fields), "_form")
        kind = item["type"] or "value_error"
        message = (
            i18n.known(language, f"operator.error.{name}.{kind}")
            or i18n.known(language, f"operator.error.{kind}")
            or item["message"]
            or i18n.problem_message(language, exc)
        )
        if name == "_form" and item["message"]:
            message = f"{item['field']}: {message}"
        errors.setdefault(name, message)
    if not errors:
        errors["_form"] = i18n.known(language, f"operator.problem.{exc.slug}") or i18n.problem_message(language, exc)
    return errors


def _catalogue_options(request: web.Request, configurations: list[dict[str, Any]]) -> dict[str, Any]:
    """The choices of the catalogue's forms, as (value, label) pairs."""
    return {
        "edition_options": [("", t(request, "operator.product.choose_edition"))] + [(e, e) for e in EDITIONS],
        "configuration_options": [(str(c.get("code")), f"{c.get('code')} · {c.get('name')}") for c in configurations],
        "category_options": [(n, t(request, f"operator.configuration.category.{n}")) for n in ("1", "2")],
        "its_options": [(v, t(request, f"operator.product.its_required.{v or 'default'}")) for v in ("", "yes", "no")],
        "pin_options": [(v, t(request, f"operator.numbers.with_pin.{v or 'default'}")) for v in ("", "yes", "no")],
    }


def _required(request: web.Request, values: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {name: t(request, "error.required") for name in names if not values.get(name, "").strip()}


# ---- the index ---------------------------------------------------------------------------------------


@routes.get("/operator")
async def index(request: web.Request) -> web.Response:
    if (refusal := _operator_page(request)) is not None:
        return refusal
    return _page(request, "operator_index.html", {"here_nav": "index"})


# ---- the catalogue (registration) --------------------------------------------------------------------


async def _catalogue(request: web.Request) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    registration = request.app[REGISTRATION]
    configurations = await _call(request, registration, "GET", "/v1/configurations")
    products = await _call(request, registration, "GET", "/v1/products")
    return configurations.get("items", []), products.get("items", [])


async def _catalogue_page(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    form: str = "",
    status: int = 200,
) -> web.Response:
    try:
        configurations, products = await _catalogue(request)
    except ServiceError as exc:
        return _not_for_you(request, exc)
    values = dict(values or {})
    if not form and (code := request.query.get("configuration")):  # "change": the form filled in from the list
        chosen = next((c for c in configurations if c.get("code") == code), None)
        if chosen is not None:
            values = {f"configuration_{k}": str(v) for k, v in chosen.items()}
    done = request.query.get("done", "")
    context = {
        **_catalogue_options(request, configurations),
        "here_nav": "catalogue",
        "configurations": configurations,
        "products": products,
        "form": form,
        "errors": errors or {},
        "values": values,
        "message": t(request, f"operator.catalogue.done.{done}") if done in ("configuration",) else "",
    }
    return _page(request, "operator_catalogue.html", context, status=status)


@routes.get("/operator/catalogue")
async def catalogue(request: web.Request) -> web.Response:
    if (refusal := _operator_page(request)) is not None:
        return refusal
    return await _catalogue_page(request)


@routes.post("/operator/catalogue/configurations")
async def put_configuration(request: web.Request) -> web.Response:
    """Add a configuration, or change the one with this code (a PUT at registration)."""
    raw = await form_values(request)
    values = {k.removeprefix("configuration_"): v.strip() for k, v in raw.items()}
    errors = _required(request, values, ("code", "name", "vendor", "maintenance_category"))
    if errors:
        return await _catalogue_page(request, errors=_prefixed(errors), values=raw, form="configuration", status=422)
    category = values["maintenance_category"]
    body = {
        "name": values["name"],
        "vendor": values["vendor"],
        "maintenance_category": int(category) if category.isdigit() else category,
    }
    try:
        await _call(request, request.app[REGISTRATION], "PUT", f"/v1/configurations/{_q(values['code'])}", body)
    except ServiceError as exc:
        if exc.status == 403:
            return _refused(request)
        errors = _errors(request, exc, CONFIGURATION_FIELDS)
        return await _catalogue_page(
            request, errors=_prefixed(errors), values=raw, form="configuration", status=exc.status
        )
    return redirect("/operator/catalogue?done=configuration")


def _prefixed(errors: dict[str, str], prefix: str = "configuration_") -> dict[str, str]:
    """The configuration form's fields are prefixed: the product form on the same page has a `name` too."""
    return {key if key == "_form" else prefix + key: message for key, message in errors.items()}


def _product_body(request: web.Request, form: MultiDictProxy[Any]) -> tuple[dict[str, Any], dict[str, str]]:
    configurations = [c.strip() for c in form.getall("configurations", []) if isinstance(c, str) and c.strip()]
    values = {k: v.strip() for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}
    errors = _required(request, values, ("name", "edition"))
    if not configurations:
        errors["configurations"] = t(request, "operator.error.configurations.missing")
    its = values.get("its_required", "")
    body: dict[str, Any] = {
        "name": values.get("name", ""),
        "edition": values.get("edition", ""),
        "configurations": configurations,
        "pin_envelope": values.get("pin_envelope") == "yes",
        "its_required": {"yes": True, "no": False}.get(its),
    }
    return body, errors


@routes.post("/operator/catalogue/products")
async def put_product(request: web.Request) -> web.Response:
    form = await read_form_fields(request)
    body, errors = _product_body(request, form)
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}
    values["configurations"] = " ".join(body["configurations"])
    article = values.get("article", "").strip()
    if not article:
        errors["article"] = t(request, "error.required")
    if errors:
        return await _catalogue_page(request, errors=errors, values=values, form="product", status=422)
    try:
        await _call(request, request.app[REGISTRATION], "PUT", f"/v1/products/{_q(article)}", body)
    except ServiceError as exc:
        if exc.status == 403:
            return _refused(request)
        errors = _errors(request, exc, PRODUCT_FIELDS)
        return await _catalogue_page(request, errors=errors, values=values, form="product", status=exc.status)
    return redirect(f"/operator/catalogue/products/{_q(article)}?done=saved")


async def _product_page(
    request: web.Request,
    article: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    batch: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    registration = request.app[REGISTRATION]
    try:
        product = await _call(request, registration, "GET", f"/v1/products/{_q(article)}")
        configurations = await _call(request, registration, "GET", "/v1/configurations")
    except ServiceError as exc:
        if exc.status in (404, 422):
            raise web.HTTPNotFound() from None
        return _not_for_you(request, exc)
    context = {
        **_catalogue_options(request, configurations.get("items", [])),
        "here_nav": "catalogue",
        "product": product,
        "batch": batch,
        "max_issue": MAX_ISSUE,
        "message": t(request, "operator.product.saved") if request.query.get("done") == "saved" else "",
        "errors": errors or {},
        "values": values or {},
    }
    return _page(request, "operator_product.html", context, status=status)


@routes.get("/operator/catalogue/products/{article}")
async def product(request: web.Request) -> web.Response:
    if (refusal := _operator_page(request)) is not None:
        return refusal
    return await _product_page(request, request.match_info["article"])


# ---- releases (updates) ------------------------------------------------------------------------------


@dataclass
class Spooled:
    """An uploaded file in a temporary file (deleted on close), with what was computed on the way."""

    file: IO[bytes]
    filename: str
    size: int
    sha256: str

    def close(self) -> None:
        self.file.close()


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)
    upload: Spooled | None = None

    def close(self) -> None:
        if self.upload is not None:
            self.upload.close()


class KitTooLarge(Exception):
    pass


async def _spool(chunks: AsyncIterator[bytes], filename: str) -> Spooled:
    """The chunks into a temporary file (unlinked at once: deleted on close, or when the process ends),
    counting and hashing them on the way; never the whole file in memory."""
    tmp = await asyncio.to_thread(tempfile.TemporaryFile)
    digest, size = hashlib.sha256(), 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > MAX_KIT_BYTES:
                raise KitTooLarge()
            digest.update(chunk)
            await asyncio.to_thread(tmp.write, chunk)
        await asyncio.to_thread(tmp.flush)
    except BaseException:
        tmp.close()
        raise
    return Spooled(tmp, filename, size, digest.hexdigest())


async def _file_chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    await asyncio.to_thread(file.seek, 0)
    while chunk := await asyncio.to_thread(file.read, CHUNK):
        yield chunk


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        async for decoded in part.decode_iter(chunk):
            yield bytes(decoded)


async def _part_text(part: BodyPartReader, budget: list[int]) -> str:
    data = bytearray()
    async for chunk in _part_chunks(part):
        data.extend(chunk)
        budget[0] -= len(chunk)
        if len(data) > MAX_TEXT_FIELD or budget[0] < 0:
            raise web.HTTPRequestEntityTooLarge(MAX_TEXT_FIELD, len(data))
    return data.decode(part.get_charset(default="utf-8"), errors="replace")


def _streams_form(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
    """Marks a handler that reads its multipart form as a stream and checks the CSRF token in the form's
    first part itself (see `_received_form`): the CSRF middleware leaves the body unread for it."""
    setattr(handler, csrf.IN_FIRST_PART, True)
    return handler


async def _received_form(request: web.Request) -> ReceivedForm:
    """A multipart form's text fields and its `file`, streamed part by part (the first part must be the
    CSRF token); the file is spooled to a temporary file with its size and sha256."""
    received = ReceivedForm()
    if request.content_type != "multipart/form-data":  # no file at all: the CSRF check has read the form
        form = await read_form_fields(request)
        received.fields = {k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}
        return received
    try:
        with reading_form():  # a multipart without its boundary, or broken: a 400 page, not a 500
            await _stream_form(request, await request.multipart(), received)
    except BaseException:
        received.close()
        raise
    return received


async def _stream_form(request: web.Request, reader: aiohttp.MultipartReader, received: ReceivedForm) -> None:
    first = await reader.next()
    token = await _part_text(first, [MAX_TEXT_FIELD]) if isinstance(first, BodyPartReader) else None
    session = logged_in(request)
    if not isinstance(first, BodyPartReader) or first.name != CSRF_FIELD or token is None:
        raise CsrfRejected("the form's first part is not its token")
    if not hmac.compare_digest(token, session.csrf_token):
        raise CsrfRejected("missing or wrong token")
    budget = [MAX_TEXT_TOTAL]
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise web.HTTPBadRequest()
        if part.filename is not None:
            if part.name == "file" and part.filename and received.upload is None:
                received.upload = await _spool(_part_chunks(part), part.filename)
            else:
                async for _ in _part_chunks(part):  # an empty file input, or a file this form does not take
                    pass
        elif part.name:
            received.fields.setdefault(part.name, await _part_text(part, budget))


async def _releases(request: web.Request) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the releases (from the link's `cursor`), and the cursor of the next page (None: the last)."""
    query = {"limit": str(RELEASES_SHOWN)}
    if (state := request.query.get("state")) in ("draft", "published", "withdrawn"):
        query["state"] = state
    if cursor := request.query.get("cursor"):
        query["cursor"] = cursor
    try:
        answer = await _call(request, request.app[UPDATES], "GET", "/v1/releases?" + urlencode(query))
    except ServiceError as exc:
        if exc.status != 422 or "cursor" not in query:
            raise
        del query["cursor"]  # a cursor from an old or edited link: start from the first page
        answer = await _call(request, request.app[UPDATES], "GET", "/v1/releases?" + urlencode(query))
    items: list[dict[str, Any]] = answer.get("items", [])
    return items, answer.get("next_cursor")


async def _configuration_codes(request: web.Request) -> list[dict[str, Any]]:
    """The catalogue's configurations for the draft form's list (registration's; empty if it is away)."""
    try:
        answer = await _call(request, request.app[REGISTRATION], "GET", "/v1/configurations")
    except (ServiceError, ServiceDown):
        return []
    items: list[dict[str, Any]] = answer.get("items", [])
    return items


async def _releases_page(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    try:
        items, next_cursor = await _releases(request)
    except ServiceError as exc:
        return _not_for_you(request, exc)
    errors = dict(errors or {})
    shown = {str(item.get("id")) for item in items}
    done = request.query.get("done", "")
    context = {
        "here_nav": "releases",
        "items": items,
        "configurations": await _configuration_codes(request),
        "kinds": KIT_KINDS,
        "platform_kinds": PLATFORM_KIT_KINDS,
        "grades": GRADES,
        "operating_systems": OPERATING_SYSTEMS,
        "architectures": ARCHITECTURES,
        "state": request.query.get("state", ""),
        "next_cursor": next_cursor,
        "first": not request.query.get("cursor"),
        "done_release": request.query.get("release", "") if request.query.get("release", "") in shown else "",
        "message": t(request, f"operator.releases.done.{done}")
        if done in ("draft", "uploaded", "published", "withdrawn")
        else "",
        "errors": errors,
        "values": values or {},
    }
    return _page(request, "operator_releases.html", context, status=status)


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


def _kit_declared(kit: Mapping[str, Any]) -> dict[str, Any]:
    declared = {k: kit[k] for k in ("name", "kind", "size", "sha256")}
    declared.update({k: kit[k] for k in ("os", "arch") if kit.get(k) is not None})
    return declared


def _before_spooling(request: web.Request) -> web.Response | None:
    """A kit is spooled to disk before updates decides: a token without the operator scope, which updates would
    refuse anyway, is refused before the body is read (the disk is not anybody's to fill)."""
    return None if logged_in(request).operator else _refused(request)


@dataclass
class Draft:
    """What one draft form asks of updates, before its kits: all that differs between UPD-1 and UPD-2."""

    path: str  # PUT: the draft, created or replaced
    lookup: dict[str, str]  # GET /v1/releases: the same draft, whose other kits are kept
    body: dict[str, Any]  # every section but the kits
    kit: dict[str, Any]  # the new kit's kind (and os, arch), declared with the file's name, size and sha256
    explain: Callable[[ServiceError], dict[str, str]]  # updates' errors next to the form's (unprefixed) fields


def _configuration_draft(request: web.Request, fields: Mapping[str, str]) -> tuple[Draft, dict[str, str]]:
    errors = _required(request, fields, ("configuration", "version", "release_date", "its_issue"))
    code, version = fields.get("configuration", "").strip(), fields.get("version", "").strip()
    draft = Draft(
        path=f"/v1/configurations/{_q(code)}/releases/{_q(version)}",
        lookup={"kind": "configuration", "configuration": code, "version": version},
        body=_draft_body(fields),
        kit={"kind": fields.get("kit_kind", "")},
        explain=lambda exc: _errors(request, exc, {**DRAFT_FIELDS, **KIT_FIELDS}),
    )
    return draft, errors


def _platform_draft(request: web.Request, fields: Mapping[str, str]) -> tuple[Draft, dict[str, str]]:
    errors = _required(request, fields, ("version", "release_date", "its_issue", "grade"))
    bugs = _fixed_bugs(request, fields.get("fixed_bugs", ""))
    if bugs.error is not None:
        errors["fixed_bugs"] = bugs.error
    kind, system, arch = (fields.get(k, "").strip() for k in ("kit_kind", "kit_os", "kit_arch"))
    if kind == "platform":  # updates' rule too: said here, next to the two choices rather than the file
        for name, chosen in (("kit_os", system), ("kit_arch", arch)):
            if not chosen:
                errors[name] = t(request, f"operator.error.{name}.missing")

    def explain(exc: ServiceError) -> dict[str, str]:
        explained = _errors(request, exc, {**PLATFORM_FIELDS, **KIT_FIELDS})
        first = next((e["field"] for e in exc.field_errors if e["field"].startswith("fixed_bugs")), "")
        if (index := re.match(r"fixed_bugs\.(\d+)", first)) and int(index[1]) < len(bugs.lines):
            line = bugs.lines[int(index[1])]
            explained["fixed_bugs"] = t(
                request, "operator.error.fixed_bugs.line", line=line, problem=explained["fixed_bugs"]
            )
        return explained

    version = fields.get("version", "").strip()
    draft = Draft(
        path=f"/v1/platform/releases/{_q(version)}",
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
@_streams_form
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
        received = await _received_form(request)
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
        query = urlencode({**draft.lookup, "limit": "1"})
        found = (await _call(request, updates, "GET", "/v1/releases?" + query)).get("items", [])
        if found and found[0].get("state") == "draft":
            kits += [_kit_declared(k) for k in found[0].get("kits", []) if k.get("name") != name]
        saved = await _call(request, updates, "PUT", draft.path, {**draft.body, "kits": kits})
    except ServiceError as exc:
        if exc.status == 403:
            return _refused(request)
        errors = draft.explain(exc)
        if exc.slug == "release-not-draft":
            errors = {"version": t(request, "operator.error.version.release-not-draft")}
        return await _releases_page(request, errors=_on_form(prefix, errors), values=values, status=exc.status)
    release_id = str(saved.get("id", ""))
    kit = next((k for k in saved.get("kits", []) if k.get("name") == name), None)
    if kit is not None and not kit.get("uploaded"):
        try:
            await _send_kit(request, release_id, name, upload)
        except ServiceError as exc:
            return await _releases_page(request, errors={release_id: _kit_problem(request, exc)}, status=exc.status)
    return redirect(
        "/operator/releases?" + urlencode({"done": "draft", "release": release_id}) + f"#release-{release_id}"
    )


@routes.post("/operator/releases/{release_id}/kits")
@_streams_form
async def upload_kit(request: web.Request) -> web.Response:
    """The content of a kit the draft declares and has not received: checked by updates against the declared
    size and sha256 (the portal sends the size it counted)."""
    release_id = path_uuid(request, "release_id")
    if (refusal := _before_spooling(request)) is not None:
        return refusal
    try:
        received = await _received_form(request)
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
                return _refused(request)
            return await _releases_page(request, errors={release_id: _kit_problem(request, exc)}, status=exc.status)
    finally:
        received.close()
    return redirect(
        "/operator/releases?" + urlencode({"done": "uploaded", "release": release_id}) + f"#release-{release_id}"
    )


def _kit_problem(request: web.Request, exc: ServiceError) -> str:
    language = language_of(request)
    return i18n.known(language, f"operator.problem.{exc.slug}") or i18n.problem_message(language, exc)


async def _send_kit(request: web.Request, release_id: str, name: str, upload: Spooled) -> Any:
    """PUT the spooled file to updates as application/octet-stream, streamed from disk with its length."""
    service = request.app[UPDATES]
    url = f"{service.base_url}/v1/releases/{release_id}/kits/{_q(name)}/content"

    async def put(token: str) -> Any:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/octet-stream",
            "Content-Length": str(upload.size),  # not chunked: updates checks the length before reading
        }
        try:
            async with service.http.put(
                url, data=_file_chunks(upload.file), headers=headers, timeout=UPLOAD_TIMEOUT
            ) as response:
                status, raw = response.status, await response.read()
        except (TimeoutError, aiohttp.ClientError):
            raise ServiceDown(service.name) from None
        if status >= 500:
            raise ServiceDown(service.name)
        body = _json_object(raw)
        if status == 401:
            raise Unauthenticated(service.name, status, body)
        if status >= 400:
            raise ServiceError(service.name, status, body)
        return body

    return await as_user(request, put)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


@routes.post("/operator/releases/{release_id}/publish")
async def publish(request: web.Request) -> web.Response:
    release_id = path_uuid(request, "release_id")
    await form_values(request)
    try:
        await _call(request, request.app[UPDATES], "POST", f"/v1/releases/{release_id}/publish")
    except ServiceError as exc:
        if exc.status == 403:
            return _refused(request)
        if exc.slug == "kits-missing":
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
        await _call(request, request.app[UPDATES], "POST", f"/v1/releases/{release_id}/withdraw", {"reason": reason})
    except ServiceError as exc:
        if exc.status == 403:
            return _refused(request)
        return await _releases_page(request, errors={release_id: _kit_problem(request, exc)}, status=exc.status)
    return redirect(
        "/operator/releases?" + urlencode({"done": "withdrawn", "release": release_id}) + f"#release-{release_id}"
    )


# ---- the delivery log (notifications) ----------------------------------------------------------------


@routes.get("/operator/deliveries")
async def deliveries(request: web.Request) -> web.Response:
    recipient = request.query.get("recipient", "").strip()
    status = request.query.get("status", "")
    cursor = request.query.get("cursor", "")
    query = {"limit": str(DELIVERIES_PAGE)}
    if recipient:
        query["recipient"] = recipient
    if status:
        query["status"] = status
    if cursor:
        query["cursor"] = cursor
    values = {"recipient": recipient, "status": status}
    context: dict[str, Any] = {"here_nav": "deliveries", "values": values, "statuses": DELIVERY_STATUSES}
    try:
        page = await _call(request, request.app[NOTIFICATIONS], "GET", "/v1/deliveries?" + urlencode(query))
    except ServiceError as exc:
        if exc.status == 403:
            return _refused(request)
        errors = _errors(request, exc, DELIVERY_FIELDS)
        return _page(request, "operator_deliveries.html", {**context, "items": [], "errors": errors}, status=exc.status)
    next_cursor = page.get("next_cursor")
    filters = {k: v for k, v in values.items() if v}
    context["items"] = page.get("items", [])
    context["next_page"] = (
        "/operator/deliveries?" + urlencode({**filters, "cursor": next_cursor}) if next_cursor else None
    )
    context["first_page"] = "/operator/deliveries?" + urlencode(filters) if cursor else None
    return _page(request, "operator_deliveries.html", context)
