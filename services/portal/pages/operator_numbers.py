"""The operator cabinet: issuing registration numbers with their PINs, shown once (REG-1, REG-2).

Up to 1,000 numbers registration issues in its answer (201): they are shown on the product's page, or sent as
a CSV file. A larger batch it answers with 202, the batch's URL and a key, shown once, that opens the batch's
PINs when it is done. The portal keeps nothing: the key goes to the operator's browser in a cookie scoped to
the batch's page (HttpOnly, SameSite=Strict); that page shows the progress and reloads itself while the batch
is issued (a refresh, no JavaScript), and when it is done a button shows the numbers with their PINs (or a
CSV file), once: registration deletes them with that answer, and the cookie goes with it.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from typing import Any

from aiohttp import web

from services.portal import i18n
from services.portal.clients.catalogue import Batch, BatchAccepted, IssuedBatch
from services.portal.clients.transport import ServiceError
from services.portal.keys import CATALOGUE, SESSIONS
from services.portal.pages.base import as_user, form_values, language_of, path_uuid, redirect, t
from services.portal.pages.operator import ISSUE_FIELDS, MAX_ISSUE, product_page
from services.portal.pages.operator_cabinet import cabinet_page, field_errors, not_for_you, operators_only, refused

routes = web.RouteTableDef()

CSV_UNSAFE = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would take these for a formula


@routes.post("/operator/catalogue/products/{article}/numbers")
async def issue_numbers(request: web.Request) -> web.StreamResponse:
    """REG-1, REG-2: N new numbers with their PINs, shown once in this answer (201), or the same batch as a CSV
    file ("issue and download"); a large batch goes on to its page (202). A second click issues another batch:
    the portal keeps none."""
    article = request.match_info["article"]
    values = await form_values(request)
    count_text = values.get("count", "").strip()
    if not count_text.isdigit() or not 1 <= int(count_text) <= MAX_ISSUE:
        errors = {"count": t(request, "operator.error.count", max=MAX_ISSUE)}
        return await product_page(request, article, errors=errors, values=values, status=422)
    body: dict[str, Any] = {"count": int(count_text)}
    if (with_pin := values.get("with_pin", "")) in ("yes", "no"):
        body["with_pin"] = with_pin == "yes"
    try:
        batch = await as_user(request, lambda token: request.app[CATALOGUE].issue_numbers(token, article, body))
    except ServiceError as exc:
        if exc.status == 403:
            return refused(request)
        if exc.status == 404:
            raise web.HTTPNotFound() from None
        errors = field_errors(request, exc, ISSUE_FIELDS)
        return await product_page(request, article, errors=errors, values=values, status=exc.status)
    action = "csv" if values.get("action") == "csv" else "page"
    if isinstance(batch, BatchAccepted):  # 202: a deferred batch, with its key shown once
        return accepted(request, batch, action)
    if action == "csv":
        return _numbers_csv(batch)
    return await product_page(request, article, batch=batch, status=201)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_UNSAFE) else text


def _numbers_csv(batch: IssuedBatch) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["article", "product", "edition", "registration_number", "pin"])
    for item in batch.items:
        cells = (batch.article, batch.product_name, batch.edition, item.registration_number, item.pin)
        writer.writerow([_cell(cell) for cell in cells])
    name = re.sub(r"[^0-9A-Za-z-]", "", f"numbers-{batch.article}-{batch.batch_id}")
    return web.Response(
        body=out.getvalue().encode("utf-8-sig"),  # with a BOM: spreadsheets then read UTF-8
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


REFRESH_SECONDS = 2
KEY_COOKIE_DAYS = 7  # registration keeps a batch's sealed PINs this long


def batch_page_url(batch_id: str, action: str = "page") -> str:
    return f"/operator/catalogue/batches/{batch_id}" + ("?as=csv" if action == "csv" else "")


def _cookie_name(request: web.Request, batch_id: uuid.UUID) -> str:
    secure = request.app[SESSIONS].secure(request)
    return f"{'__Secure-' if secure else ''}its_batch_{batch_id.hex}"


def accepted(request: web.Request, batch: BatchAccepted, action: str) -> web.Response:
    """registration's 202: on to the batch's page, with its key in a cookie only that page receives."""
    batch_id = uuid.UUID(batch.batch_id)
    response = redirect(batch_page_url(str(batch_id), action))
    response.set_cookie(
        _cookie_name(request, batch_id),
        batch.key,
        path=f"/operator/catalogue/batches/{batch_id}",
        max_age=KEY_COOKIE_DAYS * 86400,
        httponly=True,
        secure=request.app[SESSIONS].secure(request),
        samesite="Strict",
    )
    return response


async def _batch(request: web.Request, batch_id: uuid.UUID) -> Batch:
    return await as_user(request, lambda token: request.app[CATALOGUE].batch(token, str(batch_id)))


def _batch_page(request: web.Request, batch: Batch, *, message: str = "", status: int = 200) -> web.Response:
    batch_id = uuid.UUID(batch.batch_id)
    context = {
        "here_nav": "catalogue",
        "batch": batch,
        "refresh": REFRESH_SECONDS if batch.state == "issuing" else None,
        "has_key": _cookie_name(request, batch_id) in request.cookies,
        "action": "csv" if request.query.get("as") == "csv" else "page",
        "message": message,
    }
    return cabinet_page(request, "operator_batch.html", context, status=status)


@routes.get("/operator/catalogue/batches/{batch_id}")
async def batch_page(request: web.Request) -> web.Response:
    """The batch's progress; while it is issued the page reloads itself every REFRESH_SECONDS."""
    if (refusal := operators_only(request)) is not None:
        return refusal
    batch_id = uuid.UUID(path_uuid(request, "batch_id"))
    try:
        batch = await _batch(request, batch_id)
    except ServiceError as exc:
        return not_for_you(request, exc)
    return _batch_page(request, batch)


@routes.post("/operator/catalogue/batches/{batch_id}/numbers")
async def show_numbers(request: web.Request) -> web.StreamResponse:
    """The done batch's numbers with their PINs, once: on the product's page, or as a CSV file."""
    batch_id = uuid.UUID(path_uuid(request, "batch_id"))
    values = await form_values(request)
    key = request.cookies.get(_cookie_name(request, batch_id), "")
    try:
        if not key:
            raise _NoKey
        numbers = await as_user(request, lambda token: request.app[CATALOGUE].deliver_batch(token, str(batch_id), key))
    except _NoKey:
        batch = await _batch(request, batch_id)
        if batch.state in ("delivered", "purged"):
            return _batch_page(request, batch, message=t(request, "operator.problem.batch-delivered"), status=410)
        return _batch_page(request, batch, message=t(request, "operator.batch.no_key"), status=403)
    except ServiceError as exc:
        if exc.status == 409:  # not done yet: its progress
            return redirect(batch_page_url(str(batch_id), values.get("action", "page")))
        if exc.status in (403, 410):
            batch = await _batch(request, batch_id)
            message = i18n.known(language_of(request), f"operator.problem.{exc.slug}") or t(
                request, "operator.batch.no_key"
            )
            return _forget_key(request, batch_id, _batch_page(request, batch, message=message, status=exc.status))
        if exc.status == 404:
            raise web.HTTPNotFound() from None
        return refused(request, exc)
    if values.get("action") == "csv":
        response: web.StreamResponse = _numbers_csv(numbers)
    else:
        response = await product_page(request, numbers.article, batch=numbers)
    return _forget_key(request, batch_id, response)


class _NoKey(Exception):
    """The browser has no key for this batch (another browser asked for it, or it was shown already)."""


def _forget_key(request: web.Request, batch_id: uuid.UUID, response: web.StreamResponse) -> web.StreamResponse:
    response.del_cookie(_cookie_name(request, batch_id), path=f"/operator/catalogue/batches/{batch_id}")
    return response
