"""Exchange rates end to end (DAT-1 with ITS-7, REG-5): identity, registration, contracts and updates as real
processes; an operator imports the rates, registration's events tell updates who holds what, and client programs of
the owners read the rates — a PROF product in its free period is covered, a BASIC one bought the same day is not (it
has no free period, though it needs no contract for its updates)."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.contracts_flows import contracts_db, flow, registration_db
from tests.e2e.flows import PROBLEMS, Reply, problem_type
from tests.e2e.test_updates_flow import Updates, moscow_today, owner_with, updates
from tests.infra import wait_for

__all__ = ["contracts_db", "flow", "registration_db", "updates"]  # fixtures


async def test_dat1_a_product_in_its_free_period_receives_the_rates_and_a_basic_one_is_offered_a_contract(
    updates: Updates,
) -> None:
    operator = await updates.flow.portal.operator()
    await updates.rates(operator, b"date,currency,nominal,value\n2020-03-06,SGD,1,66.1854\n2020-03-10,SGD,1,71.7846\n")

    yesterday = moscow_today() - timedelta(days=1)
    prof, _, _ = await owner_with(updates, operator, edition="PROF", purchase_date=yesterday)
    basic, _, basic_number = await owner_with(updates, operator, edition="BASIC", purchase_date=yesterday)
    asked = "/v1/rates?currencies=SGD&from=2020-03-06&to=2020-03-10"

    async def answered(token: str, status: int) -> Reply:
        async def reached() -> Reply | None:
            reply = await updates.call("GET", asked, token)
            return reply if reply.status == status else None

        found: Reply = await wait_for(reached, timeout=15, interval=0.2, what=f"rates answered {status}")
        return found

    rates = await answered(prof.token, 200)
    assert rates.body["rates"] == [
        ["2020-03-06", "SGD", 1, "66.1854"],
        ["2020-03-07", "SGD", 1, "66.1854"],  # Saturday to Monday (a holiday) carry Friday's rate
        ["2020-03-08", "SGD", 1, "66.1854"],
        ["2020-03-09", "SGD", 1, "66.1854"],
        ["2020-03-10", "SGD", 1, "71.7846"],
    ]
    assert rates.headers["Cache-Control"].startswith("private")

    refused = await answered(basic.token, 402)
    assert problem_type(refused.body) == PROBLEMS + "its-contract-required"
    assert refused.body["offer"]["registration_numbers"] == [basic_number]
