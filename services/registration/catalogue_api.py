"""registration's catalogue API (operators): configurations, products, issuing registration numbers.

Rules REG-1, REG-2, CMS-2, ITS-7. Reads are open to every signed-in caller; changes need the
operator scope. Changes are PUTs, so `itsctl catalogue import` can load a file again and again.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import AfterValidator, BaseModel, Field, StringConstraints, ValidationInfo, field_validator

from services.registration import catalogue, domain, store
from services.registration.api import ArticlePath, Text
from services.registration.batches_api import BatchAccepted, IssuedBatch, IssuedNumber, accepted_out
from services.registration.keys import PINS, SETTINGS
from services.registration.problems import refusals_answered
from shared.auth import Caller
from shared.events.registration import Edition
from shared.http import Api, Link, Upserted
from shared.keys import CLOCK, OUTBOX, POOL
from shared.pages import Cursor, decode_cursor, encode_cursor
from shared.parsing import PathParams, StrictModel

routes = Api("ITS Portal registration: catalogue")

OPERATOR = "operator"


def _not_reserved(code: str) -> str:
    if code == domain.RESERVED_CONFIGURATION_CODE:
        raise ValueError(f"'{code}' is a reserved word, not a configuration code")
    return code


ConfigurationCode = Annotated[
    str,
    StringConstraints(pattern=domain.CONFIGURATION_CODE),
    AfterValidator(_not_reserved),
    Field(json_schema_extra={"pattern": domain.CONFIGURATION_CODE_DOCUMENTED}),
]


class CodePath(PathParams):
    code: ConfigurationCode


# One request asks for at most this many numbers; beyond ITS_ISSUE_AT_ONCE they are a deferred batch (batches.py).
MAX_ISSUE = 100_000


class ConfigurationIn(StrictModel):
    name: Text
    maintenance_category: Literal[1, 2]  # rule CMS-2
    vendor: Text


class ConfigurationOut(BaseModel):
    code: str
    name: str
    maintenance_category: int
    vendor: str


class ConfigurationList(BaseModel):
    items: list[ConfigurationOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class ProductIn(StrictModel):
    name: Text
    edition: Edition
    configurations: list[ConfigurationCode] = Field(min_length=1, max_length=50)
    pin_envelope: bool
    # ITS-7: by default every edition but BASIC needs a contract for updates after the free period.
    its_required: bool | None = None


class ProductOut(BaseModel):
    article: str
    name: str
    edition: Edition
    configurations: list[str]
    pin_envelope: bool
    its_required: bool


class ProductList(BaseModel):
    items: list[ProductOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


# ---- the lists: search, filters, order, keyset pages (shared/pages.py) ----------------------------------

# The cursor of each order: the last item's (sort key, code or article).
CONFIGURATIONS_CURSORS = {"code": "k1", "name": "k2"}
PRODUCTS_CURSORS = {"name": "p1", "article": "p2"}
Search = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def page_key(kind: str, cursor: str | None) -> tuple[str, str] | None:
    """The key a page starts after; ValueError for a cursor this list (in this order) did not hand out."""
    if cursor is None:
        return None
    sort_key, unique = decode_cursor(kind, cursor, 2)
    return sort_key, unique


class ConfigurationQuery(StrictModel):
    q: Search | None = Field(default=None, description="Part of the code or the name (case-insensitive)")
    sort: Literal["code", "name"] = "code"
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: Cursor | None = None  # after `sort`: checked against the order it was handed out for

    @field_validator("cursor")
    @classmethod
    def _cursor_is_ours(cls, value: str | None, info: ValidationInfo) -> str | None:
        page_key(CONFIGURATIONS_CURSORS[info.data.get("sort", "code")], value)  # not ours: a 422 naming the field
        return value


class ProductQuery(StrictModel):
    q: Search | None = Field(default=None, description="Part of the name, or the start of the article")
    edition: Edition | None = None
    configuration: ConfigurationCode | None = Field(default=None, description="Only products of this configuration")
    sort: Literal["name", "article"] = "name"
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: Cursor | None = None  # after `sort`: checked against the order it was handed out for

    @field_validator("cursor")
    @classmethod
    def _cursor_is_ours(cls, value: str | None, info: ValidationInfo) -> str | None:
        page_key(PRODUCTS_CURSORS[info.data.get("sort", "name")], value)
        return value


class IssueIn(StrictModel):
    count: int = Field(ge=1, le=MAX_ISSUE)
    # Default: as the product is delivered (with a PIN envelope or not).
    with_pin: bool | None = None


def _product_out(p: store.Product) -> ProductOut:
    return ProductOut(
        article=p.article,
        name=p.name,
        edition=p.edition,
        configurations=p.configurations,
        pin_envelope=p.pin_envelope,
        its_required=p.its_required,
    )


@routes.put(
    # Not `access`: `/v1/configurations/access` is the subscriber's access list (GET), never a configuration.
    "/v1/configurations/{code:(?!access$)[^{}/]+}",
    summary="Add (201) or change (200) a configuration (operators)",
    scope=OPERATOR,
    params=CodePath,
    body=ConfigurationIn,
    response=ConfigurationOut,
    upsert=True,
    tags=("catalogue",),
)
async def put_configuration(request: web.Request, caller: Caller, params: CodePath, body: ConfigurationIn) -> Upserted:
    configuration = store.Configuration(params.code, body.name, body.maintenance_category, body.vendor)
    app = request.app
    created = await catalogue.save_configuration(app[POOL], app[OUTBOX], configuration, app[CLOCK].now())
    return Upserted(ConfigurationOut(**configuration.__dict__), created)


@routes.get(
    "/v1/configurations",
    summary="The configurations in the catalogue: searched and sorted, a page at a time",
    auth=True,
    query=ConfigurationQuery,
    response=ConfigurationList,
    links={"NextPage": Link("list_configurations", {"cursor": "$response.body#/next_cursor"})},
    tags=("catalogue",),
)
async def list_configurations(request: web.Request, caller: Caller, query: ConfigurationQuery) -> ConfigurationList:
    """The next page keeps the search and the order: pass them again with `cursor`."""
    after = page_key(CONFIGURATIONS_CURSORS[query.sort], query.cursor)
    listing = domain.CatalogueListing(sort=query.sort, q=query.q, after=after)
    items, more = await catalogue.configurations(request.app[POOL], listing, query.limit)
    last = items[-1] if more else None
    key = (last.name if query.sort == "name" else last.code, last.code) if last else None
    return ConfigurationList(
        items=[ConfigurationOut(**c.__dict__) for c in items],
        next_cursor=encode_cursor(CONFIGURATIONS_CURSORS[query.sort], *key) if key else None,
    )


@routes.put(
    "/v1/products/{article}",
    summary="Add (201) or change (200) a product (operators); its configurations must be in the catalogue (422)",
    scope=OPERATOR,
    params=ArticlePath,
    body=ProductIn,
    response=ProductOut,
    upsert=True,
    links={
        "GetProduct": Link("get_product", {"article": "$response.body#/article"}),
        "IssueNumbers": Link("issue_numbers", {"article": "$response.body#/article"}),
    },
    tags=("catalogue",),
)
async def put_product(request: web.Request, caller: Caller, params: ArticlePath, body: ProductIn) -> Upserted:
    app = request.app
    with refusals_answered():
        product, created = await catalogue.save_product(
            app[POOL],
            app[OUTBOX],
            now=app[CLOCK].now(),
            article=params.article,
            name=body.name,
            edition=body.edition,
            configurations=body.configurations,
            pin_envelope=body.pin_envelope,
            its_required=body.its_required,
        )
    return Upserted(_product_out(product), created)


@routes.get(
    "/v1/products",
    summary="The products in the catalogue: searched, filtered and sorted, a page at a time",
    auth=True,
    query=ProductQuery,
    response=ProductList,
    links={"NextPage": Link("list_products", {"cursor": "$response.body#/next_cursor"})},
    tags=("catalogue",),
)
async def list_products(request: web.Request, caller: Caller, query: ProductQuery) -> ProductList:
    """The next page keeps the search, the filters and the order: pass them again with `cursor`."""
    listing = domain.CatalogueListing(
        sort=query.sort,
        q=query.q,
        edition=query.edition,
        configuration=query.configuration,
        after=page_key(PRODUCTS_CURSORS[query.sort], query.cursor),
    )
    items, more = await catalogue.products(request.app[POOL], listing, query.limit)
    last = items[-1] if more else None
    key = (last.name if query.sort == "name" else last.article, last.article) if last else None
    return ProductList(
        items=[_product_out(p) for p in items],
        next_cursor=encode_cursor(PRODUCTS_CURSORS[query.sort], *key) if key else None,
    )


@routes.get(
    "/v1/products/{article}",
    summary="A product of the catalogue",
    auth=True,
    params=ArticlePath,
    response=ProductOut,
    errors=(404,),
    tags=("catalogue",),
)
async def get_product(request: web.Request, caller: Caller, params: ArticlePath) -> ProductOut:
    with refusals_answered():
        product = await catalogue.product(request.app[POOL], params.article)
    return _product_out(product)


@routes.post(
    "/v1/products/{article}/registration-numbers",
    summary="Issue registration numbers, with their PINs shown once (operators); a large batch is deferred (202)",
    scope=OPERATOR,
    params=ArticlePath,
    body=IssueIn,
    response=IssuedBatch,
    status=201,
    responses={202: BatchAccepted},
    errors=(404,),
    tags=("catalogue",),
)
async def issue_numbers(
    request: web.Request, caller: Caller, params: ArticlePath, body: IssueIn
) -> IssuedBatch | web.Response:
    """REG-1, REG-2: unique random numbers; the PINs are printed in envelopes, so they are shown once. Up to
    ITS_ISSUE_AT_ONCE (1,000) numbers: in this answer (201), every one committed before it is sent. More: 202
    with the batch's URL (`Location`) and its key, shown once; the batch shows its progress and, when done,
    its numbers with their PINs (batches.py)."""
    app = request.app
    with refusals_answered():
        issued = await catalogue.issue_numbers(
            app[POOL],
            app[OUTBOX],
            app[PINS],
            now=app[CLOCK].now(),
            article=params.article,
            count=body.count,
            with_pin=body.with_pin,
            at_once=app[SETTINGS].issue_at_once,
            requested_by=caller.account_id,
        )
    if not isinstance(issued, catalogue.IssuedNow):
        accepted = accepted_out(issued)
        return web.json_response(accepted.model_dump(mode="json"), status=202, headers={"Location": accepted.url})
    product = issued.product
    return IssuedBatch(
        batch_id=issued.batch_id,
        article=product.article,
        product_name=product.name,
        edition=product.edition,
        items=[IssuedNumber(registration_number=n, pin=p) for n, p in issued.numbers.items()],
    )
