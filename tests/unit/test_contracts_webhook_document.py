"""contracts' OpenAPI document describes the partner webhook as webhooks.py sends it (OpenAPI 3.1 `webhooks`): the
body is the event's envelope, the headers are those `delivery` sets, the signature has the documented form; and every
service's document, webhooks included, is valid OpenAPI 3.1 (openapi-spec-validator)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from openapi_spec_validator import validate

from services.contracts.webhook_api import SIGNATURE_PATTERN, ContractActivatedDelivery
from services.contracts.webhooks import delivery
from shared.events import wrap
from shared.events.contracts import ContractActivated, Organisation
from shared.openapi import build_openapi
from tests.unit.test_openapi_documents import SERVICES


def _activated() -> dict[str, Any]:
    event = ContractActivated(
        contract_id=uuid.uuid4(),
        number="ITS-2026-000001",
        partner_id=uuid.uuid4(),
        organisation=Organisation(name="Northwind", tin="7707083893"),
        main_registration_number="800100200",
        period_from="2026-01",
        period_to="2026-12",
        kind="its_prof",
        activated_at=datetime(2026, 1, 12, 6, tzinfo=UTC),
    )
    envelope = wrap(event, producer="contracts", occurred_at=event.activated_at, correlation_id="req-1")
    return envelope.model_dump(mode="json")  # as schedule_deliveries keeps it in the job


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_document_is_valid_openapi(service: str) -> None:
    validate(build_openapi(SERVICES[service]))


def test_the_partner_webhook_is_documented_with_the_headers_and_body_it_is_sent_with() -> None:
    document = build_openapi(SERVICES["contracts"])
    hook = document["webhooks"]["contractActivated"]["post"]
    event = _activated()
    body, headers = delivery(event, "the-secret", 1_767_225_600)

    documented = {parameter["name"]: parameter for parameter in hook["parameters"]}
    assert set(documented) == set(headers) - {"Content-Type"}  # the media type is the requestBody's
    assert all(parameter["required"] for parameter in documented.values())
    assert re.fullmatch(documented["X-ITS-Signature"]["schema"]["pattern"], headers["X-ITS-Signature"])
    assert documented["X-ITS-Signature"]["schema"]["pattern"] == SIGNATURE_PATTERN
    assert headers["X-ITS-Signature"].startswith("t=1767225600,v1=")
    assert headers["X-ITS-Delivery"] == event["id"]

    assert hook["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ContractActivatedDelivery"
    }
    schema = document["components"]["schemas"]["ContractActivatedDelivery"]
    assert schema["properties"]["data"] == {"$ref": "#/components/schemas/ContractActivated"}
    assert ContractActivatedDelivery.model_validate_json(body).model_dump(mode="json") == event


def test_a_delivery_of_another_event_does_not_fit_the_documented_body() -> None:
    event = {**_activated(), "type": "contracts.contract.expired"}
    with pytest.raises(ValueError, match="type"):
        ContractActivatedDelivery.model_validate(event)
