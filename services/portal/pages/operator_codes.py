"""The operator cabinet's maintenance activation codes (contracts, CMS-4): issued for a category (CMS-2) and a
number of whole months (CMS-5), as `itsctl maintenance issue-codes` does. The codes are shown once, in the answer to
the POST that issued them: contracts keeps only their hashes, and the portal keeps nothing."""

from __future__ import annotations

from aiohttp import web

from services.portal.clients.transport import ServiceError
from services.portal.keys import CONTRACTS
from services.portal.pages.base import as_user, form_values, logged_in, t
from services.portal.pages.operator_cabinet import cabinet_page, field_errors, refused

routes = web.RouteTableDef()

MAX_AT_ONCE = 1_000  # codes on one page; itsctl issues larger runs into a CSV file
MAX_MONTHS = 36  # contracts' limit (CMS-5: whole months)
CATEGORIES = ("1", "2")
CODE_FIELDS = {"category": "category", "months": "months", "count": "count"}


def _page(
    request: web.Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    issued: object = None,
    status: int = 200,
) -> web.Response:
    context = {
        "here_nav": "codes",
        "category_options": [(c, t(request, f"maintenance.category.{c}")) for c in CATEGORIES],
        "values": values or {"category": "1", "months": "12", "count": "10"},
        "errors": errors or {},
        "issued": issued,
        "max_count": MAX_AT_ONCE,
        "max_months": MAX_MONTHS,
    }
    return cabinet_page(request, "operator_codes.html", context, status=status)


@routes.get("/operator/codes")
async def codes(request: web.Request) -> web.Response:
    if not logged_in(request).operator:
        return refused(request)
    return _page(request)


def _whole(text: str, low: int, high: int) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) <= 6 and low <= int(text) <= high else None


@routes.post("/operator/codes")
async def issue(request: web.Request) -> web.Response:
    values = await form_values(request)
    if not logged_in(request).operator:
        return refused(request)
    errors: dict[str, str] = {}
    category = values.get("category", "")
    if category not in CATEGORIES:
        errors["category"] = t(request, "operator.codes.error.category")
    months = _whole(values.get("months", ""), 1, MAX_MONTHS)
    if months is None:
        errors["months"] = t(request, "operator.codes.error.months", max=MAX_MONTHS)
    count = _whole(values.get("count", ""), 1, MAX_AT_ONCE)
    if count is None:
        errors["count"] = t(request, "operator.codes.error.count", max=MAX_AT_ONCE)
    if errors or months is None or count is None:
        return _page(request, values=values, errors=errors, status=422)
    body = {"category": int(category), "months": months, "count": count}
    try:
        issued = await as_user(request, lambda token: request.app[CONTRACTS].issue_codes(token, body))
    except ServiceError as exc:
        if exc.status == 403:
            return refused(request)
        return _page(request, values=values, errors=field_errors(request, exc, CODE_FIELDS), status=exc.status)
    return _page(request, values=values, issued=issued, status=201)
