"""Each path means one thing, on the services running as processes: a literal segment next to a parameter is never
read as the parameter's value, and what a method-less request is told (`Allow`) is exactly what the path serves."""

from __future__ import annotations

import aiohttp
import pytest

from tests.contract.conftest import Callers
from tests.infra import ServiceProcess


@pytest.mark.parametrize(
    ("service", "method", "path", "allow"),
    [
        # `access` is the subscriber's access list, not a configuration named "access" (PUT /v1/configurations/{code})
        ("registration", "OPTIONS", "/v1/configurations/access", {"GET"}),
        ("registration", "PUT", "/v1/configurations/access", {"GET"}),
        # `pin` and `partner` are where products are registered, not numbers (GET /v1/registrations/{number})
        ("registration", "GET", "/v1/registrations/pin", {"POST"}),
        ("registration", "GET", "/v1/registrations/partner", {"POST"}),
        # `confirm` is where a new password is posted, not a reset token (GET /v1/password-resets/{token})
        ("identity", "GET", "/v1/password-resets/confirm", {"POST"}),
    ],
)
async def test_a_literal_segment_is_not_a_parameter(
    service: str,
    method: str,
    path: str,
    allow: set[str],
    contract_services: dict[str, ServiceProcess],
    callers: Callers,
) -> None:
    headers = {"Authorization": f"Bearer {callers.operator}"}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, contract_services[service].url + path, headers=headers, json={}) as response,
    ):
        assert response.status == 405, await response.text()
        assert set(response.headers["Allow"].split(",")) == allow
        assert response.content_type == "application/problem+json"


@pytest.mark.parametrize(
    ("service", "path", "status"),
    [
        ("registration", "/v1/registrations/4601546041791", 422),  # digits, not a registration number (Luhn)
        ("registration", "/v1/registrations/not-digits", 404),  # no route: a number is digits
        ("registration", "/v1/products/4601546041790", 422),  # an EAN-13 with a wrong check digit
        ("updates", "/v1/platform/releases/3.01", 422),  # a version without leading zeros
        ("updates", "/v1/kits/not-a-uuid/download", 404),
        ("identity", "/v1/partners/not-a-uuid", 404),
        ("contracts", "/v1/partner/contracts/not-a-uuid", 404),
    ],
)
async def test_path_parameters_are_answered_as_their_documents_say(
    service: str, path: str, status: int, contract_services: dict[str, ServiceProcess], callers: Callers
) -> None:
    token = callers.partner if service == "contracts" else callers.operator
    async with (
        aiohttp.ClientSession() as http,
        http.get(contract_services[service].url + path, headers={"Authorization": f"Bearer {token}"}) as response,
        http.get(contract_services[service].url + "/openapi.json") as document,
    ):
        assert response.status == status, await response.text()
        assert response.content_type == "application/problem+json"
        paths = (await document.json())["paths"]
        [template] = [p for p in paths if _matches(p, path)]
        assert str(status) in paths[template]["get"]["responses"]


def _matches(template: str, path: str) -> bool:
    parts, given = template.split("/"), path.split("/")
    return len(parts) == len(given) and all(p == g or p.startswith("{") for p, g in zip(parts, given, strict=True))
