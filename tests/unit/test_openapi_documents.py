"""Every service's OpenAPI document, built from its routes: unique operationIds, every path parameter with its
format, every integer bounded, the kernel's own answers documented, and what a route declares (headers, raw
bodies, upserts, OAuth errors, pages) written as the service answers it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pydantic
import pytest
from aiohttp import web

from shared.http import UUID_PATTERN, Api, Header, Link
from shared.openapi import build_openapi, kernel_statuses
from shared.parsing import PathParams, StrictModel


def service_apis() -> dict[str, Api]:
    from services.contracts.app import ROUTES as CONTRACTS
    from services.identity.app import ROUTES as IDENTITY
    from services.notifications.api import api as notifications
    from services.registration.app import ROUTES as REGISTRATION
    from services.support.app import ROUTES as SUPPORT
    from services.updates.app import ROUTES as UPDATES

    return {
        "identity": IDENTITY,
        "registration": REGISTRATION,
        "contracts": CONTRACTS,
        "updates": UPDATES,
        "notifications": notifications,
        "support": SUPPORT,
    }


SERVICES = service_apis()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def integers_without_bounds(document: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]) -> list[str]:
    """Integer schemas (in a request) without both a minimum and a maximum, by where they are."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        return integers_without_bounds(document, resolve(document, schema), where, seen | {name})
    found: list[str] = []
    if "enum" in schema or "const" in schema:
        return found
    if schema.get("type") == "integer" and not (
        {"minimum", "exclusiveMinimum"} & set(schema) and {"maximum", "exclusiveMaximum"} & set(schema)
    ):
        found.append(where)
    for name, prop in schema.get("properties", {}).items():
        found += integers_without_bounds(document, prop, f"{where}.{name}", seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found += integers_without_bounds(document, option, where, seen)
    if isinstance(schema.get("items"), dict):
        found += integers_without_bounds(document, schema["items"], f"{where}[]", seen)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_operation_ids_are_unique_in_every_service(service: str) -> None:
    document = build_openapi(SERVICES[service])  # the builder refuses duplicates itself
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))


def test_the_builder_refuses_a_repeated_operation_id() -> None:
    first, second = Api("one"), Api("two")

    @first.post("/v1/a/revoke", summary="a")
    async def revoke(request: web.Request) -> None: ...

    @second.post("/oauth/revoke", summary="b")
    async def revoke_(request: web.Request) -> None: ...

    revoke_.__name__ = "revoke"
    first.include(second)
    with pytest.raises(ValueError, match="revoke"):
        build_openapi(first)


@pytest.mark.parametrize("service", SERVICES)
def test_every_path_parameter_is_declared_with_its_format(service: str) -> None:
    document = build_openapi(SERVICES[service])
    loose = [
        f"{method.upper()} {path}: {parameter['name']}"
        for path, method, operation in operations(document)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path"
        and not ({"pattern", "format", "enum"} & set(resolve(document, parameter["schema"])))
    ]
    assert loose == []


@pytest.mark.parametrize("service", SERVICES)
def test_every_integer_a_request_carries_is_bounded(service: str) -> None:
    """asyncpg's int64 (and the work a count asks for) need bounds: `?offset=9223372036854775808` was a 500."""
    document = build_openapi(SERVICES[service])
    unbounded: list[str] = []
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        for parameter in operation.get("parameters", []):
            unbounded += integers_without_bounds(document, parameter["schema"], f"{where} {parameter['name']}", set())
        for media in operation.get("requestBody", {}).get("content", {}).values():
            unbounded += integers_without_bounds(document, media["schema"], f"{where} body", set())
    assert unbounded == []


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_documents_the_503_of_an_outage_and_who_may_call(service: str) -> None:
    document = build_openapi(SERVICES[service])
    schemes = set(document["components"]["securitySchemes"])
    for path, method, operation in operations(document):
        assert "503" in operation["responses"], f"{method} {path}"
        assert "Retry-After" in operation["responses"]["503"]["headers"]
        for requirement in operation.get("security", []):
            assert set(requirement) <= schemes


@pytest.mark.parametrize("service", SERVICES)
def test_an_operation_that_answers_no_content_documents_204(service: str) -> None:
    """A handler that returns None is answered 204 by the kernel: its route must say so."""
    for op in SERVICES[service].operations:
        if op.handler.__annotations__.get("return") == "None":
            assert op.status == 204, f"{op.method} {op.path}"


def test_the_kernel_documents_what_it_answers_for_each_part_of_a_route() -> None:
    class Body(StrictModel):
        name: str

    class Query(StrictModel):
        page: int = pydantic.Field(default=1, ge=1, le=100)

    class ThingPath(PathParams):
        code: str = pydantic.Field(pattern=r"^[a-z]{3}$")

    api = Api("kernel")

    @api.post("/v1/things/{code}", summary="a thing", body=Body, query=Query, params=ThingPath, scope="operator")
    async def put_thing(request: web.Request) -> None: ...

    @api.get("/v1/ids/{thing_id:uuid}", summary="an id", auth=True)
    async def get_id(request: web.Request) -> None: ...

    [thing, by_id] = api.operations
    assert kernel_statuses(thing) == {400, 401, 403, 413, 415, 422, 503}
    assert kernel_statuses(by_id) == {401, 404, 503}  # an id outside the route's regex matches no route
    document = build_openapi(api)
    responses = document["paths"]["/v1/things/{code}"]["post"]["responses"]
    assert set(responses) == {"200", "400", "401", "403", "413", "415", "422", "503"}
    assert set(responses["415"]["content"]) == {"application/problem+json"}
    [parameter] = document["paths"]["/v1/ids/{thing_id}"]["get"]["parameters"]
    assert parameter["schema"] == {"type": "string", "format": "uuid", "pattern": f"^{UUID_PATTERN}$"}
    assert document["paths"]["/v1/ids/{thing_id}"]["get"]["security"] == [{"customer": []}]
    assert document["paths"]["/v1/things/{code}"]["post"]["security"] == [{"operator": []}]


def test_declared_headers_raw_bodies_upserts_pages_error_models_and_links_are_documented() -> None:
    class ThingOut(pydantic.BaseModel):
        id: str

    class OAuthLikeError(pydantic.BaseModel):
        error: str

    api = Api("kernel")

    @api.put(
        "/v1/things/{thing_id:uuid}/content",
        summary="upload",
        scope="operator",
        raw_body="application/octet-stream",
        headers=(Header("Idempotency-Key", {"type": "string", "pattern": "^[!-~]{1,255}$"}, required=True),),
        response=ThingOut,
        upsert=True,
        errors=(400,),
        error_model=OAuthLikeError,
        html=(409,),
        links={"Get": Link("get_thing", {"thing_id": "$response.body#/id"})},
        responses={202: ThingOut, 303: {"description": "See the thing"}},
    )
    async def put_content(request: web.Request) -> None: ...

    operation = build_openapi(api)["paths"]["/v1/things/{thing_id}/content"]["put"]
    assert operation["requestBody"]["content"] == {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
    }
    header = next(p for p in operation["parameters"] if p["in"] == "header")
    assert header["name"] == "Idempotency-Key" and header["required"] is True
    responses = operation["responses"]
    assert {"200", "201"} <= set(responses)  # replaced, created
    assert responses["201"]["links"]["Get"]["operationId"] == "get_thing"
    assert set(responses["400"]["content"]) == {"application/json"}  # the operation's own error model
    assert set(responses["409"]["content"]) == {"text/html"}
    assert responses["202"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ThingOut"}
    assert responses["303"] == {"description": "See the thing"}


def test_identitys_oauth_errors_are_documented_as_rfc_6749_json() -> None:
    document = build_openapi(SERVICES["identity"])
    token = document["paths"]["/oauth/token"]["post"]["responses"]
    assert resolve(document, token["401"]["content"]["application/json"]["schema"])["required"] == [
        "error",
        "error_description",
    ]
    # A form the kernel cannot read is still a problem (400 as both; 415 only as problem+json).
    assert set(token["400"]["content"]) == {"application/json", "application/problem+json"}
    assert set(token["415"]["content"]) == {"application/problem+json"}


def test_the_idempotency_key_and_the_kit_upload_are_declared() -> None:
    contracts = build_openapi(SERVICES["contracts"])
    [key] = [p for p in contracts["paths"]["/v1/contracts"]["post"]["parameters"] if p["in"] == "header"]
    assert key["name"] == "Idempotency-Key" and key["required"] is True and key["schema"]["pattern"]
    updates = build_openapi(SERVICES["updates"])
    upload = updates["paths"]["/v1/releases/{release_id}/kits/{name}/content"]["put"]
    assert "application/octet-stream" in upload["requestBody"]["content"]
    assert {"200", "201"} <= set(upload["responses"])


def test_a_trimmed_text_documents_that_whitespace_alone_is_not_enough() -> None:
    """`strip_whitespace` then `min_length`: the pattern asks for that many characters between the first and the
    last that pydantic's strip keeps, so "\\f" (valid by minLength alone) is not valid by the document."""
    import re
    from typing import Annotated

    class Named(StrictModel):
        name: Annotated[str, pydantic.StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        reason: Annotated[str, pydantic.StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]

    api = Api("kernel")

    @api.post("/v1/names", summary="a name", body=Named)
    async def name(request: web.Request) -> None: ...

    schema = build_openapi(api)["components"]["schemas"]["Named"]["properties"]
    refused = (("name", "\f"), ("name", "\u3000"), ("reason", "ab\x85"), ("reason", " ab "))
    kept = (("name", " x "), ("name", "\x1d"), ("name", "\ufeff"), ("reason", "a b"), ("reason", "\tabc\n"))
    for (field, text), valid in [(case, False) for case in refused] + [(case, True) for case in kept]:
        assert (re.search(schema[field]["pattern"], text) is not None) == valid, (field, text)
        other = {"name": "x", "reason": "abc"}
        try:
            Named.model_validate({**other, field: text})
            accepted = True
        except pydantic.ValidationError:
            accepted = False
        assert accepted == valid, (field, text)  # the document says what the model does


def test_the_reset_form_documents_the_fields_its_handler_reads() -> None:
    document = build_openapi(SERVICES["identity"])
    body = document["paths"]["/v1/password-resets/{token}"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/x-www-form-urlencoded", "multipart/form-data"}
    assert resolve(document, body["multipart/form-data"]["schema"])["required"] == ["new_password"]


def test_unsubscribe_is_an_api_for_the_portals_page_with_a_problem_for_its_403() -> None:
    """The page people open from the e-mail is the portal's (issue 17); notifications answers it JSON."""
    document = build_openapi(SERVICES["notifications"])
    for method in ("get", "post"):
        responses = document["paths"]["/v1/unsubscribe"][method]["responses"]
        assert set(responses["200"]["content"]) == {"application/json"}
        assert set(responses["403"]["content"]) == {"application/problem+json"}
