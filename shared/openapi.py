"""OpenAPI 3.1 from the same pydantic models that validate requests, and the statuses the kernel answers.

Every operation documents what it can answer: its own statuses (`errors`, `html`, `upsert`, `responses`) and
the kernel's, from what the route declares — a JSON body: 400 malformed, 413 too large, 415 wrong media type,
422 invalid; a form: 400, 413, 415, 422; a query: 400 (a parameter given twice), 422; path parameters: their
model's answer to a malformed value (422, or 404 for opaque ids); a token: 401; a scope: 403; and 503 (a
dependency is down, with Retry-After) for every operation.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pydantic
from aiohttp import web
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from shared.http import UUID_PATTERN, Api, Header, Operation, Webhook

REF = "#/components/schemas/{model}"
PROBLEM = "application/problem+json"
RETRY_AFTER = {
    "description": "Seconds to wait before trying again",
    "required": True,
    "schema": {"type": "string", "pattern": r"^[0-9]+$"},
}
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string", "format": "uri-reference"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}, "type": {"type": "string"}},
            },
        },
    },
    "required": ["type", "title", "status"],
}
HTML = {"text/html": {"schema": {"type": "string"}}}
# Who calls: the bearer token of a person acting for a subscriber (password grant), of a partner (its
# system's client_credentials or its staff's login for it) or of an operator. All are identity's JWTs.
SECURITY_SCHEMES = {
    "customer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An account's access token acting for a subscriber (password or refresh_token grant)",
    },
    "partner": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A partner's access token (scope `partner`): its system's (client_credentials) or its staff's",
    },
    "operator": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An operator's access token (scope `operator`)",
    },
}
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No content",
    303: "See other",
    400: "Bad request (malformed body, a parameter given twice, …)",
    401: "No valid access token",
    402: "Payment required (the offer is in the problem)",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    412: "Precondition failed",
    413: "The request body is too large",
    415: "Unsupported content type",
    416: "Range not satisfiable",
    422: "Invalid fields (`errors` names each)",
    429: "Too many attempts (Retry-After)",
    503: "A dependency is unavailable (Retry-After)",
}


# What pydantic's strip_whitespace removes (Rust's char::is_whitespace, Unicode White_Space), as an ECMA-262 class;
# not `\s`, which also holds U+FEFF.
_TRIMMED = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


class DocumentedSchema(GenerateJsonSchema):
    """pydantic's JSON Schema, saying also what trimming a text means: a field that strips whitespace and then
    needs n characters needs n characters from the first to the last that is not whitespace (a pattern)."""

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        json_schema = super().str_schema(schema)
        least = schema.get("min_length") or 0
        if schema.get("strip_whitespace") and least > 0 and "pattern" not in json_schema:
            edge = f"[^{_TRIMMED}]"
            json_schema["pattern"] = edge if least == 1 else f"{edge}[\\s\\S]{{{least - 2}}}{edge}"
        return json_schema


def add_openapi_route(app: web.Application, api: Api) -> None:
    """`GET /openapi.json`: the document of `api`, built once on first request."""
    document: dict[str, Any] = {}

    async def openapi_json(request: web.Request) -> web.Response:
        if not document:
            document.update(build_openapi(api))
        return web.json_response(document)

    app.router.add_get("/openapi.json", openapi_json)


def build_openapi(api: Api) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}

    def ref(model: type[pydantic.BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template=REF, schema_generator=DocumentedSchema)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"$ref": REF.format(model=model.__name__)}

    def properties(model: type[pydantic.BaseModel]) -> tuple[dict[str, Any], set[str]]:
        schema = model.model_json_schema(ref_template=REF, schema_generator=DocumentedSchema)
        schemas.update(schema.pop("$defs", {}))
        return schema.get("properties", {}), set(schema.get("required", []))

    ids = [op.operation_id for op in api.operations] + [hook.name for hook in api.webhooks]
    duplicates = [name for name, count in Counter(ids).items() if count > 1]
    if duplicates:
        raise ValueError(f"{api.title}: operationIds must be unique, repeated: {', '.join(sorted(duplicates))}")

    paths: dict[str, dict[str, Any]] = {}
    for op in api.operations:
        operation: dict[str, Any] = {"summary": op.summary, "operationId": op.operation_id}
        if op.tags:
            operation["tags"] = list(op.tags)
        parameters = _path_parameters(op, properties)
        if op.query is not None:
            props, required = properties(op.query)
            parameters += [
                {"name": name, "in": "query", "required": name in required, "schema": prop}
                for name, prop in props.items()
            ]
        parameters += [_header_parameter(header) for header in op.headers]
        if parameters:
            operation["parameters"] = parameters
        if op.body is not None:
            media = "application/x-www-form-urlencoded" if op.form else "application/json"
            operation["requestBody"] = {"required": True, "content": {media: {"schema": ref(op.body)}}}
        elif isinstance(op.raw_body, str | tuple):
            streams = (op.raw_body,) if isinstance(op.raw_body, str) else op.raw_body
            operation["requestBody"] = {
                "required": True,
                "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in streams},
            }
        elif op.raw_body is not None:
            content = {media: {"schema": ref(model)} for media, model in op.raw_body.items()}
            operation["requestBody"] = {"required": True, "content": content}
        operation["responses"] = _responses(op, ref)
        if op.auth:
            operation["security"] = [{caller: []} for caller in op.callers]
        paths.setdefault(openapi_path(op.path), {})[op.method.lower()] = operation
    webhooks = {hook.name: {"post": _webhook(hook, ref)} for hook in api.webhooks}
    return {
        "openapi": "3.1.0",
        "info": {"title": api.title, "version": api.version, "description": api.description},
        "paths": paths,
        **({"webhooks": webhooks} if webhooks else {}),
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }


def _header_parameter(header: Header) -> dict[str, Any]:
    return {
        "name": header.name,
        "in": "header",
        "required": header.required,
        "schema": header.schema,
        **({"description": header.description} if header.description else {}),
    }


def _webhook(hook: Webhook, ref: Any) -> dict[str, Any]:
    """What the service POSTs to a client's URL; any 2xx answer is success, anything else (or none) is not."""
    operation: dict[str, Any] = {"summary": hook.summary, "operationId": hook.name}
    if hook.description:
        operation["description"] = hook.description
    if hook.headers:
        operation["parameters"] = [_header_parameter(header) for header in hook.headers]
    operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(hook.body)}}}
    operation["responses"] = {"2XX": {"description": hook.outcome}}
    return operation


def kernel_statuses(op: Operation) -> set[int]:
    """What the kernel itself may answer for this operation, before or around its handler."""
    statuses = {503}
    if op.body is not None:
        statuses |= {400, 413, 415, 422}
    if op.query is not None:
        statuses |= {400, 422}
    if op.params is not None:
        statuses.add(op.params.malformed([]).status)
    if any(route_parameters(op.path).values()):
        statuses.add(404)  # a value outside the route's regex matches no route
    if op.auth:
        statuses.add(401)
    if op.scope is not None:
        statuses.add(403)
    return statuses


def _path_parameters(op: Operation, properties: Any) -> list[dict[str, Any]]:
    """From the route's model (a format the handler answers 422 or 404 for), else from the route's own regex
    (a value outside it matches no route: 404), else any text."""
    found = route_parameters(op.path)
    props: dict[str, Any] = {}
    if op.params is not None:
        props, _ = properties(op.params)
        if set(props) != set(found):
            raise ValueError(f"{op.method} {op.path}: the path parameter model has {sorted(props)}, the path {found}")
    parameters = []
    for name, regex in found.items():
        schema = props.get(name) or _regex_schema(regex)
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def route_parameters(path: str) -> dict[str, str | None]:
    """The path parameters of an aiohttp route and their regexes (None: any segment)."""
    return {name: regex or None for name, regex in re.findall(_ROUTE_PARAMETER, path)}


def _regex_schema(regex: str | None) -> dict[str, Any]:
    if regex is None:
        return {"type": "string"}
    if regex == UUID_PATTERN:
        return {"type": "string", "format": "uuid", "pattern": f"^{regex}$"}
    return {"type": "string", "pattern": f"^{regex}$"}


def _responses(op: Operation, ref: Any) -> dict[str, Any]:
    success: dict[str, Any] = {}
    if op.response is not None:
        success["application/json"] = {"schema": ref(op.response)}
    if op.status in op.html:
        success.update(HTML)
    links = {
        name: {
            "operationId": link.operation_id,
            "parameters": link.parameters,
            **({"description": link.description} if link.description else {}),
        }
        for name, link in op.links.items()
    }
    responses: dict[str, Any] = {}
    for status in (op.status, 201) if op.upsert else (op.status,):
        text = ("Created" if status == 201 else "Replaced") if op.upsert else STATUS_TEXT.get(status, "Success")
        responses[str(status)] = {
            "description": text,
            **({"content": success} if success else {}),
            **({"links": links} if links else {}),
        }
    kernel = kernel_statuses(op)
    problem = {PROBLEM: {"schema": {"$ref": REF.format(model="Problem")}}}
    for status in sorted(kernel | set(op.errors) | (set(op.html) - {op.status})):
        content: dict[str, Any] = {}
        if status in kernel or (status in op.errors and op.error_model is None):
            content.update(problem)
        if status in op.errors and op.error_model is not None:
            content["application/json"] = {"schema": ref(op.error_model)}
        if status in op.html:
            content.update(HTML)
        answer: dict[str, Any] = {"description": STATUS_TEXT.get(status, "Problem"), "content": content}
        if status in (429, 503):
            answer["headers"] = {"Retry-After": RETRY_AFTER}
        responses[str(status)] = answer
    for status, declared in op.responses.items():
        responses[str(status)] = (
            {
                "description": STATUS_TEXT.get(status, "Success"),
                "content": {"application/json": {"schema": ref(declared)}},
            }
            if isinstance(declared, type)  # a model: its JSON
            else declared
        )
    return responses


_ROUTE_PARAMETER = r"{(\w+)(?::([^{}]*(?:{[^{}]*}[^{}]*)*))?}"


def openapi_path(path: str) -> str:
    """An aiohttp path (`{name}` or `{name:regex}`) as OpenAPI writes it (`{name}`)."""
    return re.sub(_ROUTE_PARAMETER, r"{\1}", path)


_openapi_path = openapi_path  # the name the kernel's tests know
