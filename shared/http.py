"""HTTP conventions: typed routes whose pydantic models both validate and document,
problem+json errors, request/correlation ids, metrics, OpenAPI 3.1.
"""

from __future__ import annotations

import contextlib
import decimal
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pydantic
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy, MultiMapping

from shared.db import RETRY_AFTER_SECONDS, Outage, unreachable
from shared.logging import bound_contextvars, get_logger
from shared.metrics import Metrics
from shared.openapi import TOKEN_PATTERN, UUID_PATTERN
from shared.problems import (
    BadRequest,
    InternalError,
    MalformedJson,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Problem,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
    invalid,
)

log = get_logger(__name__)

Handler = Callable[..., Awaitable[Any]]
# Set by the service: turns the request's bearer token into a Caller.
Authenticate = Callable[[web.Request], Awaitable[Any]]
AUTHENTICATOR: web.AppKey[Authenticate] = web.AppKey("authenticator")
METRICS = web.AppKey("metrics", Metrics)
# Set by setup_db: the database outage this process may be living through.
DB_OUTAGE = web.AppKey("db_outage", Outage)

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class StrictModel(pydantic.BaseModel):
    """Request models: unknown fields are an error, not silently dropped. JSON bodies are validated strictly
    (no `0` for a boolean, no `false` or `1.5` for an integer); text (query, path, form) is read as text with
    `true`/`false` only for booleans and digits only for integers (`_check_text_types`)."""

    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=False)


class PathParams(StrictModel):
    """A route's path parameters: the formats they are declared with in the document are the ones checked.

    A value that fails its format is a 422 naming the parameter; a route whose parameter is an opaque id or
    token (one that is malformed is as unknown as any other) overrides `malformed` to answer its 404."""

    @classmethod
    def malformed(cls, errors: list[dict[str, Any]]) -> Problem:
        return ValidationFailed(errors)


@dataclass(frozen=True)
class Header:
    """A request header the handler reads itself, declared in the document (name, required, JSON schema)."""

    name: str
    schema: dict[str, Any]
    required: bool = False
    description: str = ""


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
    raw_body: str | dict[str, type[pydantic.BaseModel]] | None = None
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
        raw_body: str | dict[str, type[pydantic.BaseModel]] | None = None,
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
        its media type (a stream of bytes), or each media type it takes with the model of its fields.
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

    def add_routes(self, app: web.Application) -> None:
        for op in self.operations:
            app.router.add_route(op.method, op.path, _endpoint(op))
        app.router.add_get("/openapi.json", self._openapi_handler)

    async def _openapi_handler(self, request: web.Request) -> web.Response:
        return web.json_response(self.openapi())

    def openapi(self) -> dict[str, Any]:
        from shared.openapi import build_openapi

        return build_openapi(self)


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


def model_response(model: pydantic.BaseModel, *, status: int = 200) -> web.Response:
    return web.Response(body=model.model_dump_json(by_alias=True), status=status, content_type="application/json")


M = Any  # the model type is checked by pydantic at run time


def validation_errors(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    return [
        invalid(".".join(str(part) for part in error["loc"]) or "(body)", error["msg"], error["type"])
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


async def read_json(request: web.Request, model: type[pydantic.BaseModel]) -> M:
    if request.content_type != "application/json" and not request.content_type.endswith("+json"):
        raise UnsupportedMediaType("send the body as application/json", received=request.content_type)
    raw = await request.read()  # over client_max_size: 413 (mapped by the problem middleware)
    try:
        data = json.loads(raw, parse_float=_json_number)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedJson(str(exc)) from None
    except RecursionError:  # e.g. 30,000 nested arrays: bad input, not a 500
        raise MalformedJson("the JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise ValidationFailed([invalid("(body)", "the body must be a JSON object", "type")])
    _refuse_nul(data)
    try:
        # Strict: JSON has its own booleans and numbers, so `0` is no boolean and `false` no integer. Read again
        # from the parsed data, so that `1.0` is the integer JSON Schema says it is.
        return model.model_validate_json(json.dumps(data), strict=True)
    except pydantic.ValidationError as exc:
        raise ValidationFailed(validation_errors(exc)) from None


def _json_number(text: str) -> int | float:
    """A JSON number with a fraction or exponent: an integer when it has no fractional part (JSON Schema's
    `integer` includes 1.0), else a float."""
    number = decimal.Decimal(text)
    if number.is_finite() and number == number.to_integral_value() and abs(number) < 10**30:
        return int(number)
    return float(number)


URLENCODED, MULTIPART = "application/x-www-form-urlencoded", "multipart/form-data"
# What aiohttp raises for a body that is not the form its Content-Type announces: a multipart without its boundary,
# a broken part or undecodable text (ValueError), an unknown charset (LookupError), an unknown
# Content-Transfer-Encoding (RuntimeError), a part whose headers do not parse (HttpProcessingError).
_MALFORMED_FORM = (ValueError, LookupError, RuntimeError, HttpProcessingError)


async def read_form(request: web.Request, model: type[pydantic.BaseModel]) -> M:
    form = await read_form_fields(request, accept=(URLENCODED,))
    return _validate(model, _single_values(form))


async def read_form_fields(
    request: web.Request, *, accept: tuple[str, ...] = (URLENCODED, MULTIPART)
) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The request's form, read once (aiohttp keeps it for later calls). Every place that reads a form uses this:
    a body of another type is a 415, a body that cannot be read as the form it claims to be a 400, never a 500.
    Over client_max_size it is aiohttp's 413."""
    if request.content_type not in accept:
        raise UnsupportedMediaType(f"send the body as {' or '.join(accept)}", received=request.content_type)
    with reading_form():
        return await request.post()


@contextlib.contextmanager
def reading_form() -> Iterator[None]:
    """Around any reading of a form body (`read_form_fields`, or a multipart form read as a stream with
    `request.multipart()`): aiohttp's failures on a malformed body become a 400."""
    try:
        yield
    except _MALFORMED_FORM as exc:
        raise BadRequest(f"the form cannot be read: {exc}") from None


def parse_query(request: web.Request, model: type[pydantic.BaseModel]) -> M:
    return _validate(model, _single_values(request.query))


def parse_params(request: web.Request, model: type[PathParams]) -> M:
    """The path parameters by the route's model; a malformed one is the model's `malformed` problem."""
    try:
        return _validate(model, dict(request.match_info))
    except ValidationFailed as failed:
        raise model.malformed(failed.extra["errors"]) from None


def _single_values(values: MultiMapping[Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key in values:
        items = values.getall(key)
        if len(items) > 1:
            raise BadRequest(f"parameter '{key}' is given more than once")
        if not isinstance(items[0], str):
            raise BadRequest(f"parameter '{key}' must be text")
        result[key] = items[0]
    return result


def _validate(model: type[pydantic.BaseModel], data: dict[str, str]) -> M:
    """Text parameters (query, path, form): booleans are `true`/`false`, integers are digits, as documented;
    pydantic's lax reading of text (`0`, `yes`, `+1`, `1_0`, ` 1`) is refused first."""
    _refuse_nul(data)
    kinds = _text_kinds(model)
    errors = [
        invalid(name, _TEXT_MESSAGES[kind], kind)
        for name, value in data.items()
        if (kind := kinds.get(name)) is not None and not _TEXT_FORMS[kind].fullmatch(value)
    ]
    if errors:
        raise ValidationFailed(errors)
    try:
        return model.model_validate_strings(data)  # text, read as JSON's strings are (dates, UUIDs, versions)
    except pydantic.ValidationError as exc:
        raise ValidationFailed(validation_errors(exc)) from None


_TEXT_FORMS = {"bool_parsing": re.compile(r"true|false"), "int_parsing": re.compile(r"-?[0-9]{1,19}")}
_TEXT_MESSAGES = {"bool_parsing": "write true or false", "int_parsing": "write an integer in digits"}


@cache
def _text_kinds(model: type[pydantic.BaseModel]) -> dict[str, str]:
    """The model's fields (by the name they are sent with) that are booleans or integers, from its JSON schema."""
    kinds: dict[str, str] = {}
    for name, prop in model.model_json_schema().get("properties", {}).items():
        types = {prop.get("type")} | {option.get("type") for option in prop.get("anyOf", [])}
        if "boolean" in types:
            kinds[name] = "bool_parsing"
        elif "integer" in types:
            kinds[name] = "int_parsing"
    return kinds


def _refuse_nul(data: dict[str, Any]) -> None:
    if fields := fields_with_nul(data):
        raise ValidationFailed(
            [invalid(field, "text cannot contain the NUL character (U+0000)", "nul") for field in fields]
        )


def fields_with_nul(data: dict[str, Any]) -> list[str]:
    """The fields (named as pydantic names them) whose text holds U+0000, which PostgreSQL's text and jsonb
    cannot store: refused here, for every endpoint of every service, rather than failing in SQL as a 500.
    Iterative, as the JSON may be nested as deeply as the parser allows."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                found.append(path or "(body)")
        elif isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    found.append(path or "(body)")  # the key itself: named by the object holding it
                else:
                    stack.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{index}" if path else str(index), item) for index, item in enumerate(value))
    return sorted(found)


# ---- middlewares -------------------------------------------------------------------------

_HTTP_PROBLEMS: dict[int, type[Problem]] = {
    400: BadRequest,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


def problem_response(problem: Problem, request: web.Request) -> web.Response:
    return web.Response(
        status=problem.status,
        body=json.dumps(problem.body(instance=request.path)),
        content_type=problem.content_type,
        headers=problem.headers,
    )


def _http_problem(exc: web.HTTPException) -> Problem:
    problem_type = _HTTP_PROBLEMS.get(exc.status)
    problem = problem_type(exc.text if exc.status == 413 else None) if problem_type else Problem()
    if problem_type is None:  # other HTTP errors keep their status, as a generic problem
        problem.status, problem.title, problem.slug = exc.status, exc.reason, "http-error"
    if exc.status == 405 and "Allow" in exc.headers:
        problem.headers["Allow"] = exc.headers["Allow"]
    return problem


@web.middleware
async def request_context_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Binds request_id and correlation_id to every log line the request causes, and echoes them."""
    request_id = _id_header(request, "X-Request-ID") or str(uuid.uuid4())
    correlation_id = _id_header(request, "X-Correlation-ID") or request_id
    with bound_contextvars(request_id=request_id, correlation_id=correlation_id):
        started = time.perf_counter()
        response = await handler(request)
        response.headers["X-Request-ID"] = request_id
        response.headers["X-Correlation-ID"] = correlation_id
        if request.path not in ("/healthz", "/readyz", "/metrics"):
            log.info(
                "http.request",
                method=request.method,
                path=request.path,
                status=response.status,
                ms=round((time.perf_counter() - started) * 1000, 2),
            )
        return response


def _id_header(request: web.Request, name: str) -> str | None:
    value = request.headers.get(name)
    return value if value and _SAFE_ID.match(value) else None


@web.middleware
async def metrics_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    metrics = request.app[METRICS]
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    started = time.perf_counter()
    response = await handler(request)
    metrics.latency.labels(route, request.method).observe(time.perf_counter() - started)
    metrics.requests.labels(route, request.method, str(response.status)).inc()
    return response


@web.middleware
async def problem_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error becomes RFC 9457 problem+json: the database being unreachable a 503 with Retry-After, anything
    unexpected a bare 500 (its details only in the log)."""
    try:
        return await handler(request)
    except Problem as raised:
        return problem_response(raised, request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_response(_http_problem(exc), request)
    except Exception as exc:
        if (unavailable := database_unavailable(request, exc)) is not None:
            return problem_response(unavailable, request)
        log.exception("http.unhandled_error", method=request.method, path=request.path)
        return problem_response(InternalError("The server could not answer this request. It has been logged."), request)


def database_unavailable(request: web.Request, exc: BaseException) -> ServiceUnavailable | None:
    """The answer to a request the database could not serve (`shared.db.unreachable`): a 503 with Retry-After,
    counted in the process's outage (which logs it once, not a traceback per request); None for any other failure.
    """
    if not unreachable(exc):
        return None
    if (outage := request.app.get(DB_OUTAGE)) is not None:
        outage.refused(exc)
    return ServiceUnavailable(
        "The database is unavailable just now; try again shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        retry_after=RETRY_AFTER_SECONDS,
    )
