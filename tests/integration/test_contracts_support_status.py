"""The support status (MON-1) is serialised straight from its query's rows (issue 19): each answer must be exactly
the document `SupportStatusOut` describes, every field present, in every case a client program meets."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.contracts.coverage_api import SupportStatusOut
from tests.integration.contracts_fixtures import (
    Customer,
    World,
    contracts,
    keys,
    moscow,
    new_number,
    pool,
    publisher,
    world,
)
from tests.integration.test_contracts import issue_code

__all__ = ["contracts", "keys", "pool", "publisher", "world"]  # fixtures


async def status_of(world: World, token: dict[str, str], number: str, configuration: str) -> dict[str, Any]:
    status, answer = await world.call(
        "GET", "/v1/support-status", token, params={"registration_number": number, "configuration": configuration}
    )
    assert status == 200, answer
    # The model's own reading and writing of the answer give the answer back: nothing missing, added or retyped.
    assert SupportStatusOut.model_validate(answer).model_dump(mode="json", by_alias=True) == answer
    result: dict[str, Any] = answer
    return result


async def activate(world: World, customer: Customer, number: str) -> None:
    """A 12-month first-category maintenance service from December 2026 (CMS), through the API."""
    status, answer = await world.call(
        "POST",
        "/v1/maintenance-services/activate",
        world.owner(customer),
        json={"code": await issue_code(world, 1, 12), "registration_number": number, "period_from": "2026-12"},
    )
    assert status == 201, answer


async def test_every_support_status_is_the_documented_document(world: World) -> None:
    partner = await world.partner()
    customer, stranger = await world.customer(), await world.customer()
    configuration, trade = await world.configuration(1), await world.configuration(1)
    [main, other] = await world.issued("PROF", count=2, configurations=[configuration])
    [basic] = await world.issued("BASIC", configurations=[configuration])
    await world.register(customer, main, purchase_date=date(2024, 1, 10))
    await world.register(customer, basic)
    await world.register(stranger, other, purchase_date=date(2024, 1, 10))
    token = world.owner(customer, "user")

    async with world.clock_at(moscow("2026-12-01 10:00")):
        nothing = await status_of(world, token, main, configuration)
        assert (nothing["its_contract"], nothing["maintenance_service"], nothing["partner"]) == (
            "NO_CONTRACT",
            "NO_ACTIVATIONS",
            None,
        )
        assert (await status_of(world, token, basic, configuration))["its_contract"] is None
        for number in (new_number(), other):  # unknown, or another subscriber's: nothing told
            assert await status_of(world, token, number, configuration) == {
                "registration": "NOT_REGISTERED",
                "configuration": None,
                "its_contract": None,
                "its_covered_by": None,
                "its_until": None,
                "maintenance_service": None,
                "maintenance_until": None,
                "overall": "NOT_COMPLIED",
                "contracts": [],
                "activations": [],
                "partner": None,
            }

        body = world.contract_body(main, period=("2026-12", "2027-02"), additional=[basic])
        status, answer = await world.post_contract(partner, body)
        assert status == 202, answer
        await world.set_clock(moscow("2026-12-02 00:00"))
        await world.wait_state(answer["id"], "active")
        await activate(world, customer, main)

        supported = await status_of(world, token, main, configuration)
        assert supported == {
            "registration": "REGISTERED",
            "configuration": "INCLUDED",
            "its_contract": "OK",
            "its_covered_by": "contract",
            "its_until": "2027-02-28",
            "maintenance_service": "OK",
            "maintenance_until": "2027-11-30",
            "overall": "OK",
            "contracts": [
                {"number": body["number"], "period": {"from": "2026-12", "to": "2027-02"}, "partner": partner.name}
            ],
            "activations": [{"configuration": configuration, "period": {"from": "2026-12", "to": "2027-11"}}],
            "partner": {"name": partner.name, "email": partner.email},
        }
        # The contract lists the BASIC number too: shown, though BASIC needs none.
        assert [c["partner"] for c in (await status_of(world, token, basic, configuration))["contracts"]] == [
            partner.name
        ]
        # A configuration the product does not include: no maintenance, no activations, not supported.
        for asked in (trade, "NoSuchConfiguration"):
            other_configuration = await status_of(world, token, main, asked)
            assert (other_configuration["configuration"], other_configuration["overall"]) == (
                "NOT_INCLUDED",
                "NOT_COMPLIED",
            )
            assert other_configuration["activations"] == [] and other_configuration["maintenance_service"] is None
