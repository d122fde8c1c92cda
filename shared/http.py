"""Typed routes: the pydantic models of a route both validate its request (`shared.parsing`) and document it
(`shared.openapi`); handlers answer models, `Upserted`, None or a response. The middlewares that wrap every
request are in `shared.middlewares`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pydantic
from aiohttp import web

from shared.keys import AUTHENTICATOR
from shared.logging import get_logger
from shared.parsing import PathParams, parse_params, parse_query, read_form, read_json

log = get_logger(__name__)

Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Header:
    """A request header the handler reads itself, declared in the document (name, required, JSON schema)."""

    name: str
    schema: dict[str, Any]
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Webhook:
    """A request the service itself sends to a URL its client registered (OpenAPI 3.1 `webhooks`): a POST of `body`
    as JSON with `headers`; `outcome` says what the service makes of the receiver's answer."""

    name: str
    summary: str
    body: type[pydantic.BaseModel]
    headers: tuple[Header, ...] = ()
    description: str = ""
    outcome: str = "Received"


@dataclass(frozen=True)
class Link:
    """An OpenAPI link from this operation's success answer to another operation (by operationId):
    `parameters` maps the target's parameter names to runtime expressions such as `$response.body#/id`."""

    operation_id: str
    parameters: dict[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class Upserted:
    """What an upserting PUT's handler returns: 201 when it created the resource, 200 when it replaced it."""

    model: pydantic.BaseModel
    created: bool
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type[pydantic.BaseModel] | None
    query: type[pydantic.BaseModel] | None
    response: type[pydantic.BaseModel] | None
    status: int
    auth: bool
    scope: str | None
    form: bool
    tags: tuple[str, ...]
    errors: tuple[int, ...]
    params: type[PathParams] | None = None
    headers: tuple[Header, ...] = ()
    upsert: bool = False
    raw_body: str | tuple[str, ...] | dict[str, type[pydantic.BaseModel]] | None = None
    html: tuple[int, ...] = ()
    error_model: type[pydantic.BaseModel] | None = None
    links: dict[str, Link] = field(default_factory=dict)
    responses: dict[int, dict[str, Any] | type[pydantic.BaseModel]] = field(default_factory=dict)
    callers: tuple[str, ...] = ()

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


class Api:
    """Routes of one service. The decorator's models parse the request and document it."""

    def __init__(self, title: str, version: str = "1.0.0", description: str = "") -> None:
        self.title = title
        self.version = version
        self.description = description
        self.operations: list[Operation] = []
        self.webhooks: list[Webhook] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        body: type[pydantic.BaseModel] | None = None,
        query: type[pydantic.BaseModel] | None = None,
        response: type[pydantic.BaseModel] | None = None,
        status: int = 200,
        auth: bool = False,
        scope: str | None = None,
        form: bool = False,
        tags: tuple[str, ...] = (),
        errors: tuple[int, ...] = (),
        params: type[PathParams] | None = None,
        headers: tuple[Header, ...] = (),
        upsert: bool = False,
        raw_body: str | tuple[str, ...] | dict[str, type[pydantic.BaseModel]] | None = None,
        html: tuple[int, ...] = (),
        error_model: type[pydantic.BaseModel] | None = None,
        links: dict[str, Link] | None = None,
        responses: dict[int, dict[str, Any] | type[pydantic.BaseModel]] | None = None,
        callers: tuple[str, ...] = (),
    ) -> Callable[[Handler], Handler]:
        """Handlers are called as `handler(request, [caller=], [params=], [body=], [query=])`.

        `auth=True` needs a valid access token; `scope=` also needs that scope in it (403 otherwise), checked
        before the request is parsed, so a caller without it learns nothing about the input. `params` is the
        model of the path parameters, `headers` the headers the handler reads itself.

        `errors` are the statuses the operation itself answers (the kernel's own are documented from what it
        knows: body, query, path parameters, authentication); as problem+json, or as `error_model` in JSON.
        `html` are statuses answered as an HTML page for a browser. `raw_body` is a body the handler reads itself:
        its media type (a stream of bytes), a tuple of such media types, or each media type it takes with the model of
        its fields.
        `upsert=True`: a PUT whose handler returns `Upserted` (201 created, 200 replaced).
        `responses` are other answers of the handler's own: a model (its JSON, e.g. a 202 besides the 201), or an
        OpenAPI response object for what no model describes (redirects, file streams).
        `callers` are the kinds of caller (`customer`, `partner`, `operator`) the document names for an operation
        whose handler, not a scope, decides who may (default: the scope, else `customer`).

        They return a pydantic model (sent with `status`), `Upserted`, None (204) or a web.StreamResponse.
        """
        path = _expand_path(path)

        def register(handler: Handler) -> Handler:
            self.operations.append(
                Operation(
                    method,
                    path,
                    handler,
                    summary,
                    body,
                    query,
                    response,
                    status,
                    auth or scope is not None,
                    scope,
                    form,
                    tags,
                    errors,
                    params,
                    headers,
                    upsert,
                    raw_body,
                    html,
                    error_model,
                    links or {},
                    responses or {},
                    callers or ((scope,) if scope else ("customer",) if auth else ()),
                )
            )
            return handler

        return register

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kw)

    def include(self, other: Api) -> None:
        """Serve and document `other`'s routes too (a service whose API spans several modules)."""
        self.operations.extend(other.operations)
        self.webhooks.extend(other.webhooks)

    def webhook(self, hook: Webhook) -> None:
        """Document a request this service sends to its clients' URLs (it serves no route for it)."""
        self.webhooks.append(hook)

    def add_routes(self, app: web.Application) -> None:
        """The routes; `shared.openapi.add_openapi_route` serves their document."""
        for op in self.operations:
            app.router.add_route(op.method, op.path, _endpoint(op))


# A UUID in a route's path (`{id:uuid}`): anything else matches no route, a 404 like an unknown id.
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# An opaque token from an e-mail's link (verification, password reset, invitation): 16-128 base64url characters.
TOKEN_PATTERN = "[A-Za-z0-9_-]{16,128}"  # noqa: S105 - a pattern, not a secret

# Named path formats: `{id:uuid}` and `{token:token}` are a route's regex for an id or an e-mail link's token; a value
# outside it matches no route (404, as an unknown id), and the document declares the same pattern.
_PATH_FORMATS = {"uuid": UUID_PATTERN, "token": TOKEN_PATTERN}


def _expand_path(path: str) -> str:
    return re.sub(r"{(\w+):(uuid|token)}", lambda m: f"{{{m[1]}:{_PATH_FORMATS[m[2]]}}}", path)


def _endpoint(op: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def endpoint(request: web.Request) -> web.StreamResponse:
        kwargs: dict[str, Any] = {}
        if op.auth:
            kwargs["caller"] = caller = await request.app[AUTHENTICATOR](request)
            if op.scope is not None:
                caller.require_scope(op.scope)
        if op.params is not None:
            kwargs["params"] = parse_params(request, op.params)
        if op.query is not None:
            kwargs["query"] = parse_query(request, op.query)
        if op.body is not None:
            kwargs["body"] = await (read_form(request, op.body) if op.form else read_json(request, op.body))
        result = await op.handler(request, **kwargs)
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=204)
        if isinstance(result, Upserted):
            response = model_response(result.model, status=201 if result.created else 200)
            response.headers.update(result.headers)
            return response
        return model_response(result, status=op.status)

    endpoint.__name__ = op.handler.__name__
    return endpoint


def document_response(document: Any, *, status: int = 200) -> web.Response:
    """A JSON answer written straight from plain values (a hot path's document, in the shape of its response
    model), as the models write it: datetimes in UTC end in `Z`."""
    return encoded_response(encode_document(document), status=status)


def encode_document(document: Any) -> bytes:
    """A document as `document_response` writes it: for an answer kept already written (a per-process cache)."""
    return orjson.dumps(document, option=orjson.OPT_UTC_Z)


def encoded_response(body: bytes, *, status: int = 200) -> web.Response:
    """A JSON answer from a document `encode_document` wrote."""
    return web.Response(body=body, status=status, content_type="application/json")


def model_response(model: pydantic.BaseModel, *, status: int = 200) -> web.Response:
    return web.Response(body=model.model_dump_json(by_alias=True), status=status, content_type="application/json")
