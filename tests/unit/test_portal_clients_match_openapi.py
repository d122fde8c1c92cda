"""The portal's typed clients agree with the services' OpenAPI documents (issue 16).

The portal does not import service packages, so its answer models (`services/portal/clients/`) copy the fields it
reads. Each names the response schemas it mirrors (`Answer.mirrors`, "service.Schema"); here every field is
checked against them: it is in the schema under its JSON name, the JSON types the service may send are ones the
portal's field accepts (null only where the portal's field is optional), and a field the portal requires is one
the service always sends. A nested model mirrors the schema the service's field refers to.
"""

from __future__ import annotations

import importlib
import pkgutil
import types
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

import services.portal.clients
from services.portal.clients.answers import Answer, Listed
from services.portal.clients.updates import NoUpdateChain
from shared.openapi import build_openapi
from tests.unit.test_openapi_documents import SERVICES

# Answers no response schema describes, and why.
UNDOCUMENTED: dict[type[Answer], str] = {
    Listed: "a list's shape (items, next_cursor); its items are checked as their own model",
    NoUpdateChain: "a problem's members: the documents describe a problem by its common members only",
}
JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")


@cache
def documents() -> dict[str, dict[str, Any]]:
    """Each service's component schemas, built once."""
    return {name: build_openapi(api)["components"]["schemas"] for name, api in SERVICES.items()}


def answer_models() -> list[type[Answer]]:
    """Every answer model declared in services/portal/clients (not `Listed[X]`, pydantic's parametrisations)."""
    for module in pkgutil.iter_modules(services.portal.clients.__path__):
        importlib.import_module(f"{services.portal.clients.__name__}.{module.name}")
    found: list[type[Answer]] = []
    pending: list[type[Answer]] = [Answer]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            pending.append(sub)
            declared = sub.__module__.startswith(services.portal.clients.__name__ + ".")
            if declared and sub.__pydantic_generic_metadata__["origin"] is None and sub not in found:
                found.append(sub)
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


# ---- what the service may send ----


def resolve(service: str, schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """A `$ref` (or pydantic's single-`allOf` wrapping of one) followed: the component's name and schema."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return name, documents()[service][name]
    if len(schema.get("allOf", [])) == 1:
        return resolve(service, schema["allOf"][0])
    return None, schema


def alternatives(service: str, schema: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """The schemas a value may match (`anyOf`/`oneOf` flattened, refs followed), each with its component name."""
    name, schema = resolve(service, schema)
    union = schema.get("anyOf") or schema.get("oneOf")
    if union:
        return [alt for option in union for alt in alternatives(service, option)]
    return [(name, schema)]


def json_types(schema: dict[str, Any]) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, list):
        return set(declared)
    if declared:
        return {declared}
    values = schema.get("enum", [schema["const"]] if "const" in schema else [])
    if values:
        return {_json_type(value) for value in values}
    return set(JSON_TYPES)  # no type said: anything


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


# ---- what the portal accepts ----


def accepts(annotation: Any) -> dict[str, Any]:
    """The JSON types a portal annotation accepts: {json type: the annotation of an array's items or a model}."""
    origin = get_origin(annotation)
    if annotation is Any:
        return dict.fromkeys(JSON_TYPES)
    if origin in (Union, types.UnionType):
        return {kind: inner for arg in get_args(annotation) for kind, inner in accepts(arg).items()}
    if annotation is type(None) or annotation is None:
        return {"null": None}
    if origin is Literal:
        return {_json_type(value): None for value in get_args(annotation)}
    if origin is list:
        return {"array": get_args(annotation)[0] if get_args(annotation) else Any}
    if origin is dict or annotation is dict:
        return {"object": None}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {"object": annotation}
    simple = {str: ["string"], bool: ["boolean"], int: ["integer"], float: ["number", "integer"]}
    if annotation in simple:
        return dict.fromkeys(simple[annotation])
    raise AssertionError(f"the test does not know the annotation {annotation!r}")


def disagreements(service: str, where: str, annotation: Any, schema: dict[str, Any]) -> list[str]:
    """How a value the service may send at `where` would not fit the portal's `annotation`."""
    portal = accepts(annotation)
    found: list[str] = []
    for name, alternative in alternatives(service, schema):
        for kind in sorted(json_types(alternative)):
            if kind not in portal:
                found.append(f"{where}: the service may send {kind}, the portal reads {sorted(portal)}")
            elif kind == "array" and "items" in alternative:
                found += disagreements(service, f"{where}[]", portal["array"], alternative["items"])
            elif kind == "object" and (wrong := not_mirrored(service, name, portal["object"])):
                found.append(f"{where}: {wrong}")
    return found


def not_mirrored(service: str, component: str | None, model: Any) -> str | None:
    """A nested answer model that does not mirror the component the service's field refers to."""
    if component is None or not (isinstance(model, type) and issubclass(model, Answer)):
        return None
    if f"{service}.{component}" in model.mirrors:
        return None
    return f"the service sends its {component}, {model.__name__} does not mirror it"


def mismatches(model: type[Answer]) -> list[str]:
    """How the model disagrees with the schemas it mirrors."""
    found: list[str] = []
    schemas: list[tuple[str, dict[str, Any]]] = []
    for mirrored in model.mirrors:
        service, _, name = mirrored.partition(".")
        schema = documents().get(service, {}).get(name)
        if schema is None:
            found.append(f"{mirrored} is not in {service}'s OpenAPI document")
        else:
            schemas.append((mirrored, schema))
    for field_name, field in model.model_fields.items():
        key = field.alias or field_name
        if schemas and not any(key in schema.get("properties", {}) for _, schema in schemas):
            found.append(f"{key}: in none of {', '.join(model.mirrors)}")
            continue
        for mirrored, schema in schemas:
            prop = schema.get("properties", {}).get(key)
            if prop is None:  # a model of several schemas: a field one of them lacks must have a default
                if field.is_required():
                    found.append(f"{key}: required by the portal, not in {mirrored}")
                continue
            if field.is_required() and key not in schema.get("required", []) and "default" not in prop:
                found.append(f"{key}: required by the portal, the service may leave it out of {mirrored}")
            found += disagreements(mirrored.partition(".")[0], f"{mirrored}.{key}", field.annotation, prop)
    return found


@pytest.mark.parametrize(
    "model", answer_models(), ids=lambda cls: f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"
)
def test_every_answer_model_agrees_with_the_schemas_it_mirrors(model: type[Answer]) -> None:
    assert "mirrors" in vars(model), f"{model.__name__} must say which response schemas it mirrors (`mirrors`)"
    if model in UNDOCUMENTED:
        assert model.mirrors == (), f"{model.__name__} is listed as undocumented: {UNDOCUMENTED[model]}"
        return
    assert model.mirrors, f"{model.__name__} mirrors no schema; if none describes it, say why in UNDOCUMENTED"
    assert mismatches(model) == []
