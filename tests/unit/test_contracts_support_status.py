"""Support status for client programs (rule MON-1, with ITS-7 and CMS-1)."""

from __future__ import annotations

import itertools
import uuid
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.coverage import free_period
from rules.months import Month, Period
from services.contracts.domain import ContractSpan, ItsProduct
from services.contracts.maintenance import Product, contract_warning
from services.contracts.support_status import MaintenanceSpan, SupportStatus, support_status

P_CONTRACT = uuid.UUID("00000000-0000-0000-0000-0000000000c1")
P_CONTRACT_2 = uuid.UUID("00000000-0000-0000-0000-0000000000c2")
P_ACTIVATION = uuid.UUID("00000000-0000-0000-0000-0000000000d1")

TODAY = date(2026, 11, 10)
LONG_AGO = date(2020, 5, 15)  # its free period ended long ago
NUMBER = "20000000002"


def contract(start: str, end: str, partner: uuid.UUID = P_CONTRACT, number: str = NUMBER) -> ContractSpan:
    return ContractSpan(uuid.uuid4(), partner, Period.parse(start, end), frozenset({number}))


def activation(start: str, end: str, partner: uuid.UUID | None = P_ACTIVATION) -> MaintenanceSpan:
    return MaintenanceSpan(uuid.uuid4(), "ACC", Period.parse(start, end), partner)


def status(**overrides: Any) -> SupportStatus:
    """The product's facts as separate inputs: registered, edition, purchase date, contracts."""
    request: dict[str, Any] = {
        "registered": True,
        "edition": "PROF",
        "purchase_date": LONG_AGO,
        "configuration_included": True,
        "configuration_category": 1,
        "contracts": [],
        "activations": [],
        "today": TODAY,
    }
    request.update(overrides)
    registered, edition = request.pop("registered"), request.pop("edition")
    purchase_date, contracts = request.pop("purchase_date"), request.pop("contracts")
    product = ItsProduct.of(NUMBER, its_required=edition != "BASIC", purchase_date=purchase_date, contracts=contracts)
    return support_status(product=product if registered else None, **request)


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
    assert (got.registration, got.configuration) == ("REGISTERED", "INCLUDED")
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
def test_maintenance_is_left_out_when_the_configuration_has_no_known_category(contract_case: str) -> None:
    contract_inputs, its, _ = CONTRACTS[contract_case]
    got = status(configuration_category=None, activations=[], **contract_inputs)
    assert (got.configuration, got.maintenance_service, got.maintenance_until) == ("INCLUDED", None, None)
    assert (got.its_contract, got.its_covered_by, got.its_until) == its
    assert got.overall == {"OK": "OK", "WARNING": "WARNING", "NO_CONTRACT": "NOT_COMPLIED"}[str(its[0])]


# ---- REG-6: a configuration the product does not include is never "supported" ----------------------------

NOT_INCLUDED = list(itertools.product(["BASIC", "PROF", "CORP"], CONTRACTS, ACTIVATIONS))


@pytest.mark.parametrize(
    ("edition", "contract_case", "activation_case"), NOT_INCLUDED, ids=["-".join(case) for case in NOT_INCLUDED]
)
def test_a_configuration_the_product_does_not_include_is_not_complied(
    edition: str, contract_case: str, activation_case: str
) -> None:
    # The defect: an Accounting number asked about Trade answered overall OK.
    contract_inputs, its, contract_partner = CONTRACTS[contract_case]
    activations, _, _ = ACTIVATIONS[activation_case]
    got = status(edition=edition, configuration_included=False, activations=activations, **contract_inputs)
    assert (got.registration, got.configuration, got.overall) == ("REGISTERED", "NOT_INCLUDED", "NOT_COMPLIED")
    # Another configuration's maintenance says nothing about this product: left out, and not whom to contact.
    assert (got.maintenance_service, got.maintenance_until) == (None, None)
    assert got.partner_id == contract_partner
    # The product's own ITS contract is still told (ITS-7): it is the caller's product.
    expected_its = (None, None, None) if edition == "BASIC" else its
    assert (got.its_contract, got.its_covered_by, got.its_until) == expected_its


# ---- MON-1 and CMS-6 agree: one rule (domain.ItsProduct) says whether the product's ITS condition holds ----


@given(
    edition=st.sampled_from(["BASIC", "PROF", "CORP"]),
    bought=st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 11, 30)),
    periods=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 12)), max_size=3),
    on_this_product=st.booleans(),
)
def test_the_support_status_and_the_maintenance_warning_agree(
    edition: str, bought: date, periods: list[tuple[int, int]], on_this_product: bool
) -> None:
    first = Month(2025, 6)
    contracts = [
        contract(str(first.plus(a)), str(first.plus(a + n)), number=NUMBER if on_this_product else "30000000003")
        for a, n in periods
    ]
    got = status(edition=edition, purchase_date=bought, contracts=contracts, activations=[])
    this_month = Period(Month.of(TODAY), Month.of(TODAY))
    product = Product(NUMBER, edition, {"ACC": 1}, its_required=edition != "BASIC", purchase_date=bought)
    warned = contract_warning(this_month, [product], contracts) is not None
    assert warned == (got.its_contract == "NO_CONTRACT")


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
