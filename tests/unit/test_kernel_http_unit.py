"""Problem rendering (RFC 9457) and the pure parts of the HTTP conventions."""

from __future__ import annotations

import json

import pydantic
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from shared.middlewares import _http_problem, problem_response
from shared.openapi import _openapi_path
from shared.parsing import StrictModel, validation_errors
from shared.problems import (
    PROBLEM_BASE,
    Conflict,
    InternalError,
    NotFound,
    Problem,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)


class Account(StrictModel):
    login: str = pydantic.Field(min_length=3)
    age: int
    emails: list[str] = []


def test_a_problem_body_has_type_title_status_and_what_was_given() -> None:
    body = Conflict("login is taken", login="anna").body(instance="/v1/accounts")
    assert body == {
        "type": PROBLEM_BASE + "conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "login is taken",
        "instance": "/v1/accounts",
        "login": "anna",
    }
    assert "detail" not in NotFound().body()  # no detail given: none invented


def test_validation_failed_lists_the_errors() -> None:
    problem = ValidationFailed([{"field": "age", "message": "bad", "type": "int_parsing"}])
    body = problem.body()
    assert body["status"] == 422
    assert body["type"].endswith("/validation")
    assert body["errors"] == [{"field": "age", "message": "bad", "type": "int_parsing"}]


def test_problems_that_need_headers_carry_them() -> None:
    assert TooManyRequests(retry_after=0).headers == {"Retry-After": "1"}  # never "retry now"
    assert TooManyRequests(retry_after=30).body()["retry_after"] == 30
    assert Unauthorized(error="invalid_token").headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_problem_response_is_problem_json() -> None:
    request = make_mocked_request("GET", "/v1/things/7")
    response = problem_response(InternalError("The server could not answer this request."), request)
    assert response.status == 500
    assert response.content_type == "application/problem+json"
    assert response.text is not None
    body = json.loads(response.text)
    assert body["instance"] == "/v1/things/7"
    assert body["type"] == PROBLEM_BASE + "internal"


def test_validation_errors_name_each_field_without_echoing_input() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        Account.model_validate({"login": "ab", "age": "old", "emails": ["a", 5], "role": "admin"})
    errors = validation_errors(caught.value)
    assert {e["field"] for e in errors} == {"login", "age", "emails.1", "role"}
    assert all(set(e) == {"field", "message", "type"} for e in errors)
    assert "admin" not in json.dumps(errors)


@pytest.mark.parametrize(
    ("exc", "status", "slug"),
    [
        (web.HTTPNotFound(), 404, "not-found"),
        (web.HTTPMethodNotAllowed("DELETE", ["GET", "POST"]), 405, "method-not-allowed"),
        (web.HTTPRequestEntityTooLarge(max_size=10, actual_size=20), 413, "payload-too-large"),
        (web.HTTPUnsupportedMediaType(), 415, "unsupported-media-type"),
        (web.HTTPGone(), 410, "http-error"),
    ],
)
def test_aiohttp_errors_become_problems(exc: web.HTTPException, status: int, slug: str) -> None:
    problem = _http_problem(exc)
    assert isinstance(problem, Problem)
    assert (problem.status, problem.slug) == (status, slug)
    if status == 405:
        assert set(problem.headers["Allow"].split(",")) == {"GET", "POST"}


def test_openapi_paths_drop_route_regexes() -> None:
    assert _openapi_path("/v1/things/{id:\\d+}/parts/{part}") == "/v1/things/{id}/parts/{part}"
