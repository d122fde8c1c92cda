"""Reading a request into its models: JSON bodies (strict), forms, query strings and path parameters (text,
read as text), with one answer for each way a request can be wrong (400, 413, 415, 422 naming the field).
"""

from __future__ import annotations

import contextlib
import decimal
import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import pydantic
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy, MultiMapping

from shared.problems import BadRequest, MalformedJson, Problem, UnsupportedMediaType, ValidationFailed, invalid


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
    if b"\\u0000" not in raw:
        # Most bodies are valid as sent: pydantic reads them once. Any that is not (or may hold a NUL) takes the
        # reading below, which alone decides what is wrong with it, so every refusal stays as it was.
        with contextlib.suppress(pydantic.ValidationError):
            return model.model_validate_json(raw, strict=True)
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
    if "\x00" in "".join(data) or "\x00" in "".join(data.values()):  # one scan each: most requests hold no NUL
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
