"""Support status for client programs (rule MON-1, with ITS-7 and CMS-1)."""

from __future__ import annotations

import itertools
import uuid
from datetime import date
from typing import Any

import pytest

from services.contracts.maintenance import ContractSpan
from services.contracts.support_status import MaintenanceSpan, SupportStatus, support_status
from shared.months import Period, free_period

P_CONTRACT = uuid.UUID("00000000-0000-0000-0000-0000000000c1")
P_CONTRACT_2 = uuid.UUID("00000000-0000-0000-0000-0000000000c2")
P_ACTIVATION = uuid.UUID("00000000-0000-0000-0000-0000000000d1")

TODAY = date(2026, 11, 10)
LONG_AGO = date(2020, 5, 15)  # its free period ended long ago


def contract(start: str, end: str, partner: uuid.UUID = P_CONTRACT) -> ContractSpan:
    return ContractSpan(uuid.uuid4(), partner, Period.parse(start, end))


def activation(start: str, end: str, partner: uuid.UUID | None = P_ACTIVATION) -> MaintenanceSpan:
    return MaintenanceSpan(uuid.uuid4(), "ACC", Period.parse(start, end), partner)


def status(**overrides: Any) -> SupportStatus:
    request: dict[str, Any] = {
        "registered": True,
        "edition": "PROF",
        "purchase_date": LONG_AGO,
        "configuration_category": 1,
        "contracts": [],
        "activations": [],
        "today": TODAY,
    }
    request.update(overrides)
    return support_status(**request)


# ---- every combination ---------------------------------------------------------------------

# name: (inputs, (its_contract, its_covered_by, its_until), partner it brings)
CONTRACTS: dict[str, tuple[dict[str, Any], tuple[str | None, str | None, date | None], uuid.UUID | None]] = {
    "no-contract": ({"contracts": [], "purchase_date": LONG_AGO}, ("NO_CONTRACT", None, None), None),
    "contract-ending-soon": (  # 20 days left
        {"contracts": [contract("2026-06", "2026-11")], "purchase_date": LONG_AGO},
        ("WARNING", "contract", date(2026, 11, 30)),
        P_CONTRACT,
    ),
    "contract-ok": (
        {"contracts": [contract("2026-01", "2026-12")], "purchase_date": LONG_AGO},
        ("OK", "contract", date(2026, 12, 31)),
        P_CONTRACT,
    ),
    "free-period": (  # ITS-7: bought 2026-09, free through 2027-02
        {"contracts": [], "purchase_date": date(2026, 9, 5)},
        ("OK", "free_period", date(2027, 2, 28)),
        None,
    ),
}

# name: (activations, (maintenance_service, maintenance_until), partner it brings)
ACTIVATIONS: dict[str, tuple[list[MaintenanceSpan], tuple[str, date | None], uuid.UUID | None]] = {
    "no-activation": ([], ("NO_ACTIVATIONS", None), None),
    "activation-ending-soon": ([activation("2026-06", "2026-11")], ("WARNING", date(2026, 11, 30)), P_ACTIVATION),
    "activation-ok": ([activation("2026-11", "2027-10")], ("OK", date(2027, 10, 31)), P_ACTIVATION),
}

# Written out rather than computed: the overall verdict of PROF and CORP products.
OVERALL = {
    ("no-contract", "no-activation"): "NOT_COMPLIED",
    ("no-contract", "activation-ending-soon"): "NOT_COMPLIED",
    ("no-contract", "activation-ok"): "NOT_COMPLIED",
    ("contract-ending-soon", "no-activation"): "NOT_COMPLIED",
    ("contract-ending-soon", "activation-ending-soon"): "WARNING",
    ("contract-ending-soon", "activation-ok"): "WARNING",
    ("contract-ok", "no-activation"): "NOT_COMPLIED",
    ("contract-ok", "activation-ending-soon"): "WARNING",
    ("contract-ok", "activation-ok"): "OK",
    ("free-period", "no-activation"): "NOT_COMPLIED",
    ("free-period", "activation-ending-soon"): "WARNING",
    ("free-period", "activation-ok"): "OK",
}

COMBINATIONS = list(itertools.product(["BASIC", "PROF", "CORP"], CONTRACTS, ACTIVATIONS, [True, False]))


@pytest.mark.parametrize(
    ("edition", "contract_case", "activation_case", "registered"),
    COMBINATIONS,
    ids=["-".join([e, c, a, "registered" if r else "not-registered"]) for e, c, a, r in COMBINATIONS],
)
def test_every_combination(edition: str, contract_case: str, activation_case: str, registered: bool) -> None:
    contract_inputs, its, contract_partner = CONTRACTS[contract_case]
    activations, maintenance, activation_partner = ACTIVATIONS[activation_case]
    got = status(registered=registered, edition=edition, activations=activations, **contract_inputs)

    if not registered:
        # MON-1: not registered: every other condition left out, nothing told about the number.
        assert got == SupportStatus(registration="NOT_REGISTERED", overall="NOT_COMPLIED")
        return
    assert got.registration == "REGISTERED"
    # The contract covering today is whom to contact, else the activation's partner.
    assert got.partner_id == (contract_partner or activation_partner)
    if edition == "BASIC":
        # ITS-7: BASIC needs no contract; the conditions are left out and the product is supported.
        assert (got.its_contract, got.its_covered_by, got.its_until) == (None, None, None)
        assert (got.maintenance_service, got.maintenance_until) == (None, None)
        assert got.overall == "OK"
        return
    assert (got.its_contract, got.its_covered_by, got.its_until) == its
    assert (got.maintenance_service, got.maintenance_until) == maintenance
    assert got.overall == OVERALL[(contract_case, activation_case)]


@pytest.mark.parametrize("contract_case", list(CONTRACTS))
def test_maintenance_is_left_out_when_the_configuration_is_not_on_the_product(contract_case: str) -> None:
    contract_inputs, its, _ = CONTRACTS[contract_case]
    got = status(configuration_category=None, activations=[], **contract_inputs)
    assert (got.maintenance_service, got.maintenance_until) == (None, None)
    assert (got.its_contract, got.its_covered_by, got.its_until) == its
    assert got.overall == {"OK": "OK", "WARNING": "WARNING", "NO_CONTRACT": "NOT_COMPLIED"}[str(its[0])]


# ---- the 30-day boundary ---------------------------------------------------------------------
# Our reading of "ends within 30 days": the days from today to the last covered day (the last day
# of the last covered month). 30 days or fewer: WARNING; 31 or more: OK.


@pytest.mark.parametrize(
    ("today", "days_left", "expected"),
    [
        (date(2026, 11, 29), 32, "OK"),
        (date(2026, 11, 30), 31, "OK"),
        (date(2026, 12, 1), 30, "WARNING"),
        (date(2026, 12, 2), 29, "WARNING"),
        (date(2026, 12, 31), 0, "WARNING"),  # the last covered day itself
    ],
)
def test_the_30_day_boundary(today: date, days_left: int, expected: str) -> None:
    until = date(2026, 12, 31)
    assert (until - today).days == days_left
    got = status(
        today=today,
        contracts=[contract("2026-01", "2026-12")],
        activations=[activation("2026-01", "2026-12")],
    )
    assert (got.its_contract, got.its_until) == (expected, until)
    assert (got.maintenance_service, got.maintenance_until) == (expected, until)
    assert got.overall == expected


def test_the_day_after_coverage_ends_is_no_contract() -> None:
    got = status(today=date(2027, 1, 1), contracts=[contract("2026-01", "2026-12")], activations=[])
    assert (got.its_contract, got.its_until, got.maintenance_service) == ("NO_CONTRACT", None, "NO_ACTIVATIONS")


def test_the_free_period_has_the_same_boundary() -> None:
    # Bought 2026-03: covered through 2026-08-31 (ITS-7).
    assert free_period(date(2026, 3, 31)) == Period.parse("2026-03", "2026-08")
    assert status(purchase_date=date(2026, 3, 1), today=date(2026, 8, 1)).its_contract == "WARNING"  # 30 days
    assert status(purchase_date=date(2026, 3, 1), today=date(2026, 7, 31)).its_contract == "OK"  # 31 days
    assert status(purchase_date=date(2026, 3, 1), today=date(2026, 9, 1)).its_contract == "NO_CONTRACT"


# ---- continuous coverage -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("contracts", "its_contract", "its_until", "partner"),
    [
        # Back to back: one continuous coverage, through the second's end; contact the one covering today.
        (
            [contract("2026-01", "2026-11"), contract("2026-12", "2027-06", P_CONTRACT_2)],
            "OK",
            date(2027, 6, 30),
            P_CONTRACT,
        ),
        # Given in any order, three of them, overlapping.
        (
            [contract("2027-03", "2027-08"), contract("2026-12", "2027-04"), contract("2026-01", "2026-11")],
            "OK",
            date(2027, 8, 31),
            P_CONTRACT,
        ),
        # A gap month (2026-12): coverage ends with November.
        ([contract("2026-01", "2026-11"), contract("2027-01", "2027-12")], "WARNING", date(2026, 11, 30), P_CONTRACT),
        # Only a future contract: nothing covers today.
        ([contract("2026-12", "2027-12")], "NO_CONTRACT", None, None),
        # Only an expired one.
        ([contract("2025-01", "2026-10")], "NO_CONTRACT", None, None),
        # Two covering today: the latest-ending one's partner.
        (
            [contract("2026-01", "2026-12"), contract("2026-06", "2027-05", P_CONTRACT_2)],
            "OK",
            date(2027, 5, 31),
            P_CONTRACT_2,
        ),
    ],
)
def test_back_to_back_contracts_are_one_coverage(
    contracts: list[ContractSpan], its_contract: str, its_until: date | None, partner: uuid.UUID | None
) -> None:
    got = status(today=date(2026, 11, 20), contracts=contracts, activations=[])
    assert (got.its_contract, got.its_until, got.partner_id) == (its_contract, its_until, partner)


def test_a_contract_continuing_the_free_period_extends_it() -> None:
    # Free through 2026-11 (bought 2026-06), a contract from 2026-12: covered today by the free period.
    got = status(purchase_date=date(2026, 6, 10), contracts=[contract("2026-12", "2027-12")], today=date(2026, 11, 20))
    assert (got.its_contract, got.its_covered_by, got.its_until) == ("OK", "free_period", date(2027, 12, 31))
    assert got.partner_id is None  # no contract covers today and no activation


def test_a_contract_wins_over_the_free_period_covering_the_same_month() -> None:
    got = status(purchase_date=date(2026, 9, 5), contracts=[contract("2026-11", "2026-11")])
    # The free period runs on through 2027-02, the contract says who covers today.
    assert (got.its_contract, got.its_covered_by, got.its_until) == ("OK", "contract", date(2027, 2, 28))
    assert got.partner_id == P_CONTRACT


def test_back_to_back_activations_are_one_coverage() -> None:
    got = status(
        contracts=[contract("2026-01", "2027-12")],
        activations=[activation("2026-06", "2026-11"), activation("2026-12", "2027-05", None)],
    )
    assert (got.maintenance_service, got.maintenance_until, got.overall) == ("OK", date(2027, 5, 31), "OK")


def test_an_activation_without_a_partner_gives_none_to_contact() -> None:
    got = status(activations=[activation("2026-01", "2027-12", None)])
    assert got.partner_id is None


def test_an_unknown_edition_is_checked_like_prof() -> None:
    got = status(edition=None, contracts=[], activations=[])
    assert (got.its_contract, got.maintenance_service, got.overall) == ("NO_CONTRACT", "NO_ACTIVATIONS", "NOT_COMPLIED")


def test_no_purchase_date_means_no_free_period() -> None:
    assert status(purchase_date=None, today=date(2026, 11, 10)).its_contract == "NO_CONTRACT"
