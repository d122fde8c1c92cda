"""OpenAPI 3.1 from the same pydantic models that validate requests."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pydantic

if TYPE_CHECKING:
    from shared.http import Api

REF = "#/components/schemas/{model}"
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


def build_openapi(api: Api) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}

    def ref(model: type[pydantic.BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"$ref": REF.format(model=model.__name__)}

    paths: dict[str, dict[str, Any]] = {}
    for op in api.operations:
        operation: dict[str, Any] = {"summary": op.summary, "operationId": op.handler.__name__}
        if op.tags:
            operation["tags"] = list(op.tags)
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", op.path)
        ]
        if op.query is not None:
            query_schema = op.query.model_json_schema(ref_template=REF)
            required = set(query_schema.get("required", []))
            for name, prop in query_schema.get("properties", {}).items():
                parameters.append({"name": name, "in": "query", "required": name in required, "schema": prop})
        if parameters:
            operation["parameters"] = parameters
        if op.body is not None:
            media = "application/x-www-form-urlencoded" if op.form else "application/json"
            operation["requestBody"] = {"required": True, "content": {media: {"schema": ref(op.body)}}}
        responses: dict[str, Any] = {}
        if op.response is not None:
            responses[str(op.status)] = {
                "description": "Success",
                "content": {"application/json": {"schema": ref(op.response)}},
            }
        else:
            responses[str(op.status)] = {"description": "Success"}
        problem = {"content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}}}
        for status in sorted(
            {
                *op.errors,
                *((422,) if op.body or op.query else ()),
                *((401,) if op.auth else ()),
                *((403,) if op.scope else ()),
            }
        ):
            responses[str(status)] = {"description": "Problem", **problem}
        operation["responses"] = responses
        if op.auth:
            operation["security"] = [{"bearer": []}]
        paths.setdefault(_openapi_path(op.path), {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": api.title, "version": api.version, "description": api.description},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _openapi_path(path: str) -> str:
    return re.sub(r"{(\w+)(:[^}]*)?}", r"{\1}", path)
