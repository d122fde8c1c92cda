"""its-client's exceptions from the problem documents the services really answer: each built here by the services' own
code (their problem classes and refusals, identity's OAuth errors, the gateway's configuration), then mapped by the
client as it maps an answer off the wire."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from its_client.errors import (
    AccessRefused,
    Conflict,
    InvalidRequest,
    ItsError,
    NotAuthenticated,
    NotCovered,
    NotFound,
    NoUpdateChain,
    PaymentRequired,
    ServiceUnavailable,
    TooManyRequests,
    error_from_answer,
)

from rules.months import Month, Period
from rules.refusal import Refusal, Refused
from services.identity.tokens_api import OAuthError
from services.support.asking import may_ask, route
from services.support.read_models import Accompanying, Product
from services.updates import offers
from services.updates.access import DownloadDenied, NotHeld
from services.updates.problems import problem as updates_problem
from shared.problems import Problem, Unauthorized, ValidationFailed, invalid, refusal_problem
from shared.problems import TooManyRequests as TooManyProblem
from tests.infra import ROOT

PROBLEMS = "https://its-portal.dev/problems/"
TODAY = date(2026, 12, 7)


def wire(problem: Problem) -> tuple[int, Any, dict[str, str]]:
    """The problem as the middleware answers it: status, the JSON body as the client decodes it, the headers."""
    return problem.status, json.loads(json.dumps(problem.body(), default=str)), problem.headers


def test_a_kit_not_covered_by_its_is_not_covered_with_the_offer_of_this_month() -> None:
    offer = offers.its_subscription(TODAY, ["80012345678"])
    refused = DownloadDenied(
        Refusal(
            "its-contract-required",
            "an ITS contract must cover 2026-12 (ITS-7, UPD-4)",
            "payment-required",
            details={"offer": offer.model_dump()},
        )
    )
    error = error_from_answer(*wire(updates_problem(refused)))
    assert isinstance(error, NotCovered) and isinstance(error, PaymentRequired)
    assert error.status == 402 and error.type == PROBLEMS + "its-contract-required"
    assert error.title == "You cannot download this kit" and error.reason == "its-contract-required"
    assert error.detail == "an ITS contract must cover 2026-12 (ITS-7, UPD-4)"
    assert error.offer is not None
    assert (error.offer.kind, error.offer.month, error.offer.registration_numbers) == (
        "its-subscription",
        "2026-12",
        ["80012345678"],
    )
    assert error.offer.how == offers.SUBSCRIBE_HOW


def test_a_configuration_not_registered_is_access_refused_with_the_products_to_buy() -> None:
    offer = offers.register_product(
        [offers.OfferedProduct(article="4601234567890", name="Accounting PROF", edition="PROF")]
    )
    refused = NotHeld(
        Refusal(
            "configuration-not-registered",
            "no product includes Payroll (REG-6)",
            "forbidden",
            details={"offer": offer.model_dump()},
        )
    )
    error = error_from_answer(*wire(updates_problem(refused)))
    assert isinstance(error, AccessRefused) and error.status == 403
    assert error.type == PROBLEMS + "configuration-not-registered"
    assert error.offer is not None and error.offer.kind == "register-product"
    [product] = error.offer.products
    assert (product.article, product.name, product.edition) == ("4601234567890", "Accounting PROF", "PROF")


def _product(**changes: Any) -> Product:
    fields: dict[str, Any] = {
        "registration_number": "80012345678",
        "subscriber_id": uuid.uuid4(),
        "product_name": "Accounting PROF",
        "edition": "PROF",
        "configurations": ["Accounting"],
        "its_required": True,
        "purchase_date": date(2025, 3, 3),  # the free period ended long ago
        "active_from": datetime(2025, 3, 3, tzinfo=UTC),
        "contracts": (),
        **changes,
    }
    return Product(**fields)


def test_a_question_about_a_product_not_covered_is_not_covered_with_the_offer() -> None:
    """SUP-1's 402, from support's own rule."""
    refusal = may_ask(
        _product(),
        configuration="Accounting",
        role="owner",
        rights=frozenset(),
        now=datetime(2026, 12, 7, 9, tzinfo=UTC),
        today=TODAY,
    )
    assert refusal is not None
    error = error_from_answer(*wire(refusal_problem(Refused(refusal))))
    assert isinstance(error, NotCovered) and error.reason == "its-contract-required"
    assert error.offer is not None and error.offer.month == "2026-12"
    assert error.offer.registration_numbers == ["80012345678"]


def test_several_partners_are_a_conflict_listing_them() -> None:
    period = Period(Month(2026, 1), Month(2026, 12))
    ids = [uuid.uuid4(), uuid.uuid4()]
    chosen = route(
        [Accompanying(ids[0], "Franchisee One", period), Accompanying(ids[1], "Franchisee Two", period)], None
    )
    assert isinstance(chosen, Refusal)
    error = error_from_answer(*wire(refusal_problem(Refused(chosen))))
    assert isinstance(error, Conflict) and error.status == 409
    assert [(p.id, p.name) for p in error.partners] == [
        (str(ids[0]), "Franchisee One"),
        (str(ids[1]), "Franchisee Two"),
    ]


def test_invalid_fields_are_an_invalid_request_naming_them() -> None:
    validation = ValidationFailed([invalid("version", "not a version: 3.0.x"), invalid("platform_version", "required")])
    error = error_from_answer(*wire(validation))
    assert isinstance(error, InvalidRequest) and error.status == 422
    assert [(e.field, e.message) for e in error.errors] == [
        ("version", "not a version: 3.0.x"),
        ("platform_version", "required"),
    ]
    assert "version: not a version: 3.0.x" in str(error)


def test_no_chain_of_releases_says_what_can_be_reached() -> None:
    refused = Refused(
        Refusal(
            "no-update-chain",
            "no release updates from 2.9.0.1",
            "invalid",
            details={"reason": "unknown-version", "reachable": ["3.0.41.20"], "newest_reachable": "3.0.41.20"},
        )
    )
    error = error_from_answer(*wire(updates_problem(refused)))
    assert isinstance(error, NoUpdateChain) and isinstance(error, InvalidRequest)
    assert error.reachable == ["3.0.41.20"] and error.newest_reachable == "3.0.41.20"


def test_an_expired_access_token_is_not_authenticated() -> None:
    error = error_from_answer(*wire(Unauthorized("the access token has expired")))
    assert isinstance(error, NotAuthenticated) and error.detail == "the access token has expired"


def test_identitys_oauth_errors_map_to_not_authenticated_and_too_many_requests() -> None:
    refused = OAuthError("invalid_grant", "the refresh token is invalid, expired or revoked")
    error = error_from_answer(*wire(refused))
    assert isinstance(error, NotAuthenticated) and error.title == "invalid_grant"
    assert error.detail == "the refresh token is invalid, expired or revoked"
    throttled = OAuthError("invalid_grant", "too many failed logins", status=429, headers={"Retry-After": "120"})
    error = error_from_answer(*wire(throttled))
    assert isinstance(error, TooManyRequests) and error.retry_after == 120
    malformed = error_from_answer(*wire(OAuthError("invalid_request", "username and password are required")))
    assert type(malformed) is InvalidRequest


def test_the_kernels_429_carries_the_retry_after() -> None:
    error = error_from_answer(*wire(TooManyProblem("too many wrong PINs", retry_after=600)))
    assert isinstance(error, TooManyRequests) and isinstance(error, ServiceUnavailable)
    assert error.retry_after == 600


def _gateway_answer(location: str) -> tuple[int, str]:
    """The status and body the gateway's `location` returns (deploy/nginx/gateway.conf)."""
    conf = (ROOT / "deploy" / "nginx" / "gateway.conf").read_text()
    block = conf[conf.index(f"location {location} {{") :]
    match = re.search(r"return (\d+) '(.*?)';", block, re.S)
    assert match is not None
    return int(match[1]), match[2].removesuffix("\\n")  # nginx's escaped newline


def test_the_gateways_own_answers_map_too() -> None:
    status, page = _gateway_answer("@unavailable")  # a service down: 503, an HTML page for people, Retry-After
    error = error_from_answer(status, page, {"Retry-After": "30"})
    assert isinstance(error, ServiceUnavailable) and error.retry_after == 30 and "<" not in str(error)
    status, body = _gateway_answer("/api/")
    error = error_from_answer(status, json.loads(body), {})
    assert isinstance(error, NotFound) and error.title == "No such service"


def test_an_unexpected_status_is_a_plain_its_error() -> None:
    error = error_from_answer(500, {"type": PROBLEMS + "internal", "title": "Internal server error", "status": 500})
    assert type(error) is ItsError and str(error) == "Internal server error"


@pytest.mark.parametrize("status", [404, 410])
def test_not_found_and_gone_are_not_found(status: int) -> None:
    assert isinstance(error_from_answer(status, {"title": "Not found"}), NotFound)
