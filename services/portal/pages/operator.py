"""The operator cabinet: partners with their staff and API clients (identity: operator_partners.py), the catalogue
(registration; large batches of numbers: operator_numbers.py), releases and their kits (updates:
operator_releases.py, kit_forms.py), the delivery log (notifications).

Operators are accounts whose token carries the scope `operator`. Every service decides for itself who may do
what; its refusal is shown as a friendly page. The portal checks only the shape of what it forwards (ids
parsed, codes quoted as one path segment) and keeps nothing: a client secret or a batch of PINs is shown in
the answer to the POST that made it, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from services.portal.clients.answers import Listed
from services.portal.clients.catalogue import Configuration, IssuedBatch, Product
from services.portal.clients.transport import ServiceError, segment
from services.portal.csrf import FIELD as CSRF_FIELD
from services.portal.keys import CATALOGUE, NOTIFICATIONS
from services.portal.pages import listing
from services.portal.pages.base import as_user, form_values, redirect, t
from services.portal.pages.listing import Choice, ListForm
from services.portal.pages.operator_cabinet import (
    cabinet_page,
    field_errors,
    not_for_you,
    operators_only,
    refused,
    required,
)
from shared.parsing import read_form_fields

routes = web.RouteTableDef()
T = TypeVar("T")

# registration's limit per request; beyond 1,000 it issues them as a deferred batch (operator_numbers.py).
MAX_ISSUE = 100_000
DELIVERIES_PAGE = 50

CONFIGURATION_FIELDS = {"code": "code", "name": "name", "maintenance_category": "maintenance_category"}
CONFIGURATION_FIELDS |= {"vendor": "vendor"}
PRODUCT_FIELDS = {"article": "article", "name": "name", "edition": "edition", "configurations": "configurations"}
PRODUCT_FIELDS |= {"pin_envelope": "pin_envelope", "its_required": "its_required"}
ISSUE_FIELDS = {"count": "count", "with_pin": "with_pin"}
DELIVERY_FIELDS = {"recipient": "recipient", "status": "status", "cursor": "_form"}
EDITIONS = ("BASIC", "PROF", "CORP", "SPECIAL")
DELIVERY_STATUSES = ("pending", "sent", "retrying", "failed")
# notifications' letters (its templates) and why a send failed (its Delivery.failure), each said in words; one the
# portal does not know yet is "another letter" or "the mail server answered with an error".
LETTER_KINDS = (
    "contract_activated",
    "email_verification",
    "invitation",
    "invitation_accepted",
    "maintenance_activated",
    "organisation_error",
    "password_reset",
    "products_authorised",
    "release_published",
)
FAILURES = ("address-refused", "sender-refused", "message-refused", "login-refused", "server-unreachable")


def _catalogue_options(request: web.Request, configurations: list[Configuration]) -> dict[str, object]:
    """The choices of the catalogue's forms, as (value, label) pairs."""
    return {
        "edition_options": [("", t(request, "operator.product.choose_edition"))] + [(e, e) for e in EDITIONS],
        "configuration_options": [(c.code, f"{c.code} · {c.name}") for c in configurations],
        "category_options": [(n, t(request, f"operator.configuration.category.{n}")) for n in ("1", "2")],
        "its_options": [(v, t(request, f"operator.product.its_required.{v or 'default'}")) for v in ("", "yes", "no")],
        "pin_options": [(v, t(request, f"operator.numbers.with_pin.{v or 'default'}")) for v in ("", "yes", "no")],
    }


# ---- the index ---------------------------------------------------------------------------------------


@routes.get("/operator")
async def index(request: web.Request) -> web.Response:
    if (refusal := operators_only(request)) is not None:
        return refusal
    return cabinet_page(request, "operator_index.html", {"here_nav": "index"})


# ---- the catalogue (registration) --------------------------------------------------------------------


# The catalogue's lists: one form (registration checks every value too), its configurations added when the page is
# built; the configurations and the products page each on its own, so each cursor has its own name in the links.
CATALOGUE_CHOICES = (
    Choice("sort", "lists.catalogue.sort", ("name", "code")),
    Choice("edition", "lists.catalogue.edition", ("", *EDITIONS), authored={e: e for e in EDITIONS}),
)
CATALOGUE_CURSORS = ("configurations", "products")


async def _page(
    request: web.Request,
    call: Callable[[str, Mapping[str, str]], Awaitable[Listed[T]]],
    query: dict[str, str],
    cursor: str | None,
) -> Listed[T]:
    """One page of a list; a cursor from an old or edited link starts the list again from its first page."""
    paged = {**query, **({"cursor": cursor} if cursor else {})}
    try:
        return await as_user(request, lambda token: call(token, paged))
    except ServiceError as exc:
        if exc.status == 422 and cursor:
            return await _page(request, call, query, None)
        raise


async def _catalogue_lists(
    request: web.Request, form: ListForm, cursors: dict[str, str]
) -> tuple[Listed[Configuration], Listed[Product]]:
    """A page of configurations and one of products as the form asks."""
    catalogue, values, limit = request.app[CATALOGUE], form.values, str(listing.PAGE_SIZE)
    by_code = values["sort"] == "code"
    search = {"q": values["q"]} if values["q"] else {}
    configurations_query = {**search, "sort": "code" if by_code else "name", "limit": limit}
    products_query = {**search, "sort": "article" if by_code else "name", "limit": limit}
    if values["edition"]:
        products_query["edition"] = values["edition"]
    if values.get("of_configuration"):
        products_query["configuration"] = values["of_configuration"]
    configurations = await _page(
        request, catalogue.configuration_page, configurations_query, cursors.get("configurations")
    )
    products = await _page(request, catalogue.product_page, products_query, cursors.get("products"))
    return configurations, products


async def _catalogue_page(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    form: str = "",
    status: int = 200,
) -> web.Response:
    try:
        choices = await as_user(request, request.app[CATALOGUE].configurations)
    except ServiceError as exc:
        return not_for_you(request, exc)
    names = {c.code: f"{c.code} · {c.name}" for c in choices}
    of_configuration = Choice("of_configuration", "lists.catalogue.of_configuration", ("", *names), authored=names)
    lists = ListForm.read(request, "/operator/catalogue", (*CATALOGUE_CHOICES, of_configuration))
    cursors = {name: cursor for name in CATALOGUE_CURSORS if (cursor := request.query.get(name))}
    try:
        configurations, products = await _catalogue_lists(request, lists, cursors)
    except ServiceError as exc:
        if (refused := lists.refused(request, exc)) is None:
            return not_for_you(request, exc)
        errors, status = {**refused, **(errors or {})}, exc.status  # e.g. a search too long, next to the box
        configurations, products = Listed[Configuration](items=[]), Listed[Product](items=[])
    values = dict(values or {})
    if not form and (code := request.query.get("configuration")):  # "change": the form filled in from the list
        chosen = next((c for c in choices if c.code == code), None)
        if chosen is not None:
            values = {f"configuration_{k}": str(v) for k, v in chosen.model_dump().items()}
    done = request.query.get("done", "")

    def more(name: str, cursor: str | None) -> str | None:
        """The link to the next page of one list: the form's query, the other list where it is, this one's next."""
        return _with(lists.chosen() | cursors | {name: cursor}) + f"#{name}" if cursor else None

    context = {
        **_catalogue_options(request, choices),
        **lists.context(request, None),
        "here_nav": "catalogue",
        "configurations": configurations.items,
        "products": products.items,
        "first_page": _with(lists.chosen()) if cursors else None,
        "next_configurations": more("configurations", configurations.next_cursor),
        "next_products": more("products", products.next_cursor),
        "form": form,
        "errors": errors or {},
        "values": values,
        "message": t(request, f"operator.catalogue.done.{done}") if done in ("configuration",) else "",
    }
    return cabinet_page(request, "operator_catalogue.html", context, status=status)


def _with(query: Mapping[str, str]) -> str:
    return "/operator/catalogue" + ("?" + urlencode(query) if query else "")


@routes.get("/operator/catalogue")
async def catalogue(request: web.Request) -> web.Response:
    if (refusal := operators_only(request)) is not None:
        return refusal
    return await _catalogue_page(request)


@routes.post("/operator/catalogue/configurations")
async def put_configuration(request: web.Request) -> web.Response:
    """Add a configuration, or change the one with this code (a PUT at registration)."""
    raw = await form_values(request)
    values = {k.removeprefix("configuration_"): v.strip() for k, v in raw.items()}
    errors = required(request, values, ("code", "name", "vendor", "maintenance_category"))
    if errors:
        return await _catalogue_page(request, errors=_prefixed(errors), values=raw, form="configuration", status=422)
    category = values["maintenance_category"]
    body = {
        "name": values["name"],
        "vendor": values["vendor"],
        "maintenance_category": int(category) if category.isdigit() else category,
    }
    try:
        code = values["code"]
        await as_user(request, lambda token: request.app[CATALOGUE].put_configuration(token, code, body))
    except ServiceError as exc:
        if exc.status == 403:
            return refused(request)
        errors = field_errors(request, exc, CONFIGURATION_FIELDS)
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
    errors = required(request, values, ("name", "edition"))
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
        await as_user(request, lambda token: request.app[CATALOGUE].put_product(token, article, body))
    except ServiceError as exc:
        if exc.status == 403:
            return refused(request)
        errors = field_errors(request, exc, PRODUCT_FIELDS)
        return await _catalogue_page(request, errors=errors, values=values, form="product", status=exc.status)
    return redirect(f"/operator/catalogue/products/{segment(article)}?done=saved")


async def product_page(
    request: web.Request,
    article: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    batch: IssuedBatch | None = None,
    status: int = 200,
) -> web.Response:
    catalogue = request.app[CATALOGUE]
    try:
        product = await as_user(request, lambda token: catalogue.product(token, article))
        configurations = await as_user(request, catalogue.configurations)
    except ServiceError as exc:
        if exc.status in (404, 422):
            raise web.HTTPNotFound() from None
        return not_for_you(request, exc)
    context = {
        **_catalogue_options(request, configurations),
        "here_nav": "catalogue",
        "product": product,
        "batch": batch,
        "max_issue": MAX_ISSUE,
        "message": t(request, "operator.product.saved") if request.query.get("done") == "saved" else "",
        "errors": errors or {},
        "values": values or {},
    }
    return cabinet_page(request, "operator_product.html", context, status=status)


@routes.get("/operator/catalogue/products/{article}")
async def product(request: web.Request) -> web.Response:
    if (refusal := operators_only(request)) is not None:
        return refusal
    return await product_page(request, request.match_info["article"])


# ---- releases (updates) ------------------------------------------------------------------------------


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
    context: dict[str, object] = {
        "here_nav": "deliveries",
        "values": values,
        "statuses": DELIVERY_STATUSES,
        "letter_kinds": LETTER_KINDS,
        "failures": FAILURES,
    }
    try:
        page = await as_user(request, lambda token: request.app[NOTIFICATIONS].deliveries(token, query))
    except ServiceError as exc:
        if exc.status == 403:
            return refused(request)
        errors = field_errors(request, exc, DELIVERY_FIELDS)
        return cabinet_page(
            request, "operator_deliveries.html", {**context, "items": [], "errors": errors}, status=exc.status
        )
    next_cursor = page.next_cursor
    filters = {k: v for k, v in values.items() if v}
    context["items"] = page.items
    context["next_page"] = (
        "/operator/deliveries?" + urlencode({**filters, "cursor": next_cursor}) if next_cursor else None
    )
    context["first_page"] = "/operator/deliveries?" + urlencode(filters) if cursor else None
    return cabinet_page(request, "operator_deliveries.html", context)
