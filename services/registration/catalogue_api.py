"""registration's catalogue API (operators): configurations, products, issuing registration numbers.

Rules REG-1, REG-2, CMS-2, ITS-7. Reads are open to every signed-in caller; changes need the
operator scope. Changes are PUTs, so `itsctl catalogue import` can load a file again and again.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from aiohttp import web
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from services.registration import domain, store
from services.registration.api import PINS, ArticlePath, Text
from services.registration.pins import Pins
from shared.app import CLOCK, OUTBOX, POOL
from shared.auth import Caller
from shared.events.registration import ConfigurationChanged, Edition, NumbersIssued, ProductChanged
from shared.http import Api, Link, PathParams, StrictModel, Upserted
from shared.problems import NotFound, ValidationFailed

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


# One request issues at most this many numbers (hashing 10,000 PINs takes seconds); itsctl asks in chunks.
MAX_ISSUE = 10_000


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


class IssueIn(StrictModel):
    count: int = Field(ge=1, le=MAX_ISSUE)
    # Default: as the product is delivered (with a PIN envelope or not).
    with_pin: bool | None = None


class IssuedNumber(BaseModel):
    registration_number: str
    pin: str | None  # shown in this answer only; only its hash is kept


class IssuedBatch(BaseModel):
    batch_id: uuid.UUID
    article: str
    product_name: str
    edition: Edition
    items: list[IssuedNumber]


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
    async with request.app[POOL].acquire() as conn, conn.transaction():
        created = await store.upsert_configuration(conn, configuration, request.app[CLOCK].now())
        await request.app[OUTBOX].add(conn, ConfigurationChanged(**configuration.__dict__))
    return Upserted(ConfigurationOut(**configuration.__dict__), created)


@routes.get(
    "/v1/configurations",
    summary="The configurations in the catalogue",
    auth=True,
    response=ConfigurationList,
    tags=("catalogue",),
)
async def list_configurations(request: web.Request, caller: Caller) -> ConfigurationList:
    async with request.app[POOL].acquire() as conn:
        items = await store.configurations(conn)
    return ConfigurationList(items=[ConfigurationOut(**c.__dict__) for c in items])


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
    article = params.article
    codes = sorted(set(body.configurations))
    its_required = domain.default_its_required(body.edition) if body.its_required is None else body.its_required
    product = store.Product(article, body.name, body.edition, body.pin_envelope, its_required, codes)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        missing = await store.missing_configurations(conn, codes)
        if missing:
            raise ValidationFailed(
                [{"field": "configurations", "message": f"not in the catalogue: {', '.join(missing)}"}]
            )
        created = await store.upsert_product(conn, product, request.app[CLOCK].now())
        await request.app[OUTBOX].add(conn, ProductChanged(**product.__dict__))
    return Upserted(_product_out(product), created)


@routes.get(
    "/v1/products",
    summary="The products in the catalogue",
    auth=True,
    response=ProductList,
    tags=("catalogue",),
)
async def list_products(request: web.Request, caller: Caller) -> ProductList:
    async with request.app[POOL].acquire() as conn:
        items = await store.products(conn)
    return ProductList(items=[_product_out(p) for p in items])


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
    article = params.article
    async with request.app[POOL].acquire() as conn:
        product = await store.product(conn, article)
    if product is None:
        raise NotFound("no product with this article")
    return _product_out(product)


@routes.post(
    "/v1/products/{article}/registration-numbers",
    summary="Issue registration numbers, with their PINs shown once (operators)",
    scope=OPERATOR,
    params=ArticlePath,
    body=IssueIn,
    response=IssuedBatch,
    status=201,
    errors=(404,),
    tags=("catalogue",),
)
async def issue_numbers(request: web.Request, caller: Caller, params: ArticlePath, body: IssueIn) -> IssuedBatch:
    """REG-1, REG-2: unique random numbers; the PINs are printed in envelopes, so this is the only time
    they are shown. Every number of the answer is committed before it is sent."""
    article = params.article
    async with request.app[POOL].acquire() as conn:
        product = await store.product(conn, article)
    if product is None:
        raise NotFound("no product with this article")
    with_pin = product.pin_envelope if body.with_pin is None else body.with_pin
    if with_pin and not product.pin_envelope:
        raise ValidationFailed([{"field": "with_pin", "message": "this product is delivered without PIN envelopes"}])

    pins, batch_id, now = request.app[PINS], uuid.uuid4(), request.app[CLOCK].now()
    issued: dict[str, str | None] = {}
    # Hashing a full batch takes seconds and needs no lock: done before the transaction.
    drawn = await _draw(pins, body.count, with_pin)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        while True:
            numbers, plain, hashed = drawn
            inserted = await store.insert_numbers(conn, article, batch_id, numbers, hashed, now)
            issued.update((n, p) for n, p in zip(numbers, plain, strict=True) if n in inserted)
            if len(issued) == body.count:
                break
            drawn = await _draw(pins, body.count - len(issued), with_pin)  # collided with older numbers
        await request.app[OUTBOX].add(
            conn,
            NumbersIssued(
                batch_id=batch_id,
                article=article,
                edition=product.edition,
                registration_numbers=list(issued),
                with_pin=with_pin,
            ),
        )
    items = [IssuedNumber(registration_number=n, pin=p) for n, p in issued.items()]
    return IssuedBatch(
        batch_id=batch_id, article=article, product_name=product.name, edition=product.edition, items=items
    )


async def _draw(pins: Pins, count: int, with_pin: bool) -> tuple[list[str], list[str | None], list[str | None]]:
    """`count` new numbers, their PINs (or None) and the PINs' hashes."""
    numbers = [domain.new_registration_number() for _ in range(count)]
    if not with_pin:
        return numbers, [None] * count, [None] * count
    plain = [domain.new_pin() for _ in range(count)]
    return numbers, list[str | None](plain), list[str | None](await pins.hash_many(plain))
