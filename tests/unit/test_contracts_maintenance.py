"""Activating a configuration maintenance code (rules CMS-1..7)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from rules.months import Month, Period
from rules.refusal import Refusal
from services.contracts.domain import ContractSpan
from services.contracts.maintenance import (
    ActivationCode,
    ActivationPlan,
    Product,
    accompanying_partner,
    contract_warning,
    plan_activation,
    products_with,
    uncovered_months,
)

P1 = uuid.UUID("00000000-0000-0000-0000-0000000000a1")
P2 = uuid.UUID("00000000-0000-0000-0000-0000000000a2")
P3 = uuid.UUID("00000000-0000-0000-0000-0000000000a3")

CURRENT = Month(2026, 11)
NOW_TO_OCT = Period.parse("2026-11", "2027-10")  # a 12-month code started this month

LONG_AGO = date(2020, 5, 15)  # the free periods (ITS-7) ended long ago


def product(number: str, edition: str, configurations: dict[str, int], bought: date = LONG_AGO) -> Product:
    return Product(number, edition, configurations, its_required=edition != "BASIC", purchase_date=bought)


# rule CMS-2: each configuration has one category. A CORP product with four, of mixed categories.
CORP = product("10000000001", "CORP", {"ACC": 1, "HRM": 2, "ERP": 1, "TRADE": 2})
PROF_ACC = product("20000000002", "PROF", {"ACC": 1})
PROF_HRM = product("30000000003", "PROF", {"HRM": 2})
BASIC_TRADE = product("40000000004", "BASIC", {"TRADE": 2})
PRODUCTS = [PROF_ACC, CORP, PROF_HRM, BASIC_TRADE]
EVERY_NUMBER = tuple(p.registration_number for p in PRODUCTS)


def contract(partner: uuid.UUID, start: str, end: str, numbers: tuple[str, ...] = EVERY_NUMBER) -> ContractSpan:
    """A processed contract; by default it lists every product of the subscriber (main and additional)."""
    return ContractSpan(uuid.uuid4(), partner, Period.parse(start, end), frozenset(numbers))


def plan(**overrides: Any) -> ActivationPlan | Refusal:
    request: dict[str, Any] = {
        "code": ActivationCode(category=1, months=12, used=False),
        "product": PROF_ACC,
        "configuration": None,
        "start": CURRENT,
        "partner_id": None,
        "current": CURRENT,
        "subscriber_products": PRODUCTS,
        "contracts": [contract(P1, "2026-01", "2027-12")],
    }
    request.update(overrides)
    return plan_activation(**request)


def expected(**overrides: Any) -> ActivationPlan:
    fields: dict[str, Any] = {
        "configuration": "ACC",
        "category": 1,
        "period": NOW_TO_OCT,
        "registration_numbers": [PROF_ACC.registration_number, CORP.registration_number],
        "warning": None,
        "partner_id": P1,
        "partner_choice": "contract",
    }
    fields.update(overrides)
    return ActivationPlan(**fields)


PLANS: list[tuple[str, dict[str, Any], ActivationPlan]] = [
    (
        # rule CMS-3: the activation covers every product of the subscriber with ACC, CORP included.
        "one-configuration-covers-all-products-with-it",
        {},
        expected(),
    ),
    (
        "corp-category-2-chosen-hrm-covers-the-prof-hrm-too",
        {"code": ActivationCode(2, 12, False), "product": CORP, "configuration": "HRM"},
        expected(
            configuration="HRM",
            category=2,
            registration_numbers=[CORP.registration_number, PROF_HRM.registration_number],
        ),
    ),
    (
        "corp-category-1-chosen-erp-only-corp-has-it",
        {"product": CORP, "configuration": "ERP"},
        expected(configuration="ERP", registration_numbers=[CORP.registration_number]),
    ),
    (
        "corp-category-2-chosen-trade-covers-the-basic-too",
        {"code": ActivationCode(2, 3, False), "product": CORP, "configuration": "TRADE"},
        expected(
            configuration="TRADE",
            category=2,
            period=Period.parse("2026-11", "2027-01"),
            registration_numbers=[CORP.registration_number, BASIC_TRADE.registration_number],
        ),
    ),
    (
        "the-single-matching-configuration-may-also-be-named",
        {"configuration": "ACC"},
        expected(),
    ),
    (
        "the-named-product-is-listed-even-if-missing-from-the-subscriber-products",
        {"subscriber_products": [CORP]},
        expected(),
    ),
    (
        "one-month-code",
        {"code": ActivationCode(1, 1, False)},
        expected(period=Period.parse("2026-11", "2026-11")),
    ),
    (
        "a-future-start",
        {"start": Month(2027, 2), "code": ActivationCode(1, 6, False)},
        expected(period=Period.parse("2027-02", "2027-07")),
    ),
    (
        # rule CMS-5: March 2014 itself is allowed; no contract then: warned (CMS-6), partner later (CMS-7).
        "the-2014-03-floor-itself",
        {"start": Month(2014, 3), "current": Month(2014, 1), "code": ActivationCode(1, 1, False), "contracts": []},
        expected(
            period=Period.parse("2014-03", "2014-03"),
            warning="No ITS contract covers 2014-03 of the maintenance period 2014-03..2014-03: "
            "conclude an ITS contract with a partner so that the maintenance service works.",
            partner_id=None,
            partner_choice="choose-later",
        ),
    ),
    (
        # rule CMS-6: back-to-back contracts of one partner cover the period: no warning.
        "two-contracts-of-the-same-partner-span-the-period",
        {"contracts": [contract(P1, "2026-01", "2027-03"), contract(P1, "2027-04", "2028-03")]},
        expected(),
    ),
    (
        # rule CMS-6: a month without a contract: the activation succeeds with a warning naming it.
        "a-gap-month-is-named-in-the-warning",
        {"contracts": [contract(P1, "2026-01", "2027-01"), contract(P1, "2027-03", "2027-12")]},
        expected(
            warning="No ITS contract covers 2027-02 of the maintenance period 2026-11..2027-10: "
            "conclude an ITS contract with a partner so that the maintenance service works."
        ),
    ),
    (
        "the-contract-ends-before-the-period-does",
        {"contracts": [contract(P1, "2026-01", "2027-06")]},
        expected(
            warning="No ITS contract covers 2027-07..2027-10 of the maintenance period 2026-11..2027-10: "
            "conclude an ITS contract with a partner so that the maintenance service works."
        ),
    ),
    (
        "gaps-at-both-ends-and-in-the-middle",
        {"contracts": [contract(P1, "2027-01", "2027-03"), contract(P1, "2027-05", "2027-09")]},
        expected(
            warning="No ITS contract covers 2026-11..2026-12, 2027-04, 2027-10 of the maintenance period "
            "2026-11..2027-10: conclude an ITS contract with a partner so that the maintenance service works."
        ),
    ),
    (
        # rule CMS-6, CMS-7: no valid contract at all: succeed, warn, partner chosen later.
        "no-contract-at-all",
        {"contracts": []},
        expected(
            warning="No ITS contract covers 2026-11..2027-10 of the maintenance period 2026-11..2027-10: "
            "conclude an ITS contract with a partner so that the maintenance service works.",
            partner_id=None,
            partner_choice="choose-later",
        ),
    ),
    (
        # rule CMS-7: only contracts valid during the period count: P2's ends before it starts.
        "a-contract-outside-the-period-does-not-make-a-second-partner",
        {"contracts": [contract(P2, "2026-01", "2026-10"), contract(P1, "2026-11", "2027-10")]},
        expected(),
    ),
    (
        "contracts-only-outside-the-period-are-no-contract",
        {
            "start": Month(2027, 1),
            "code": ActivationCode(1, 2, False),
            "contracts": [contract(P1, "2026-01", "2026-12")],
        },
        expected(
            period=Period.parse("2027-01", "2027-02"),
            warning="No ITS contract covers 2027-01..2027-02 of the maintenance period 2027-01..2027-02: "
            "conclude an ITS contract with a partner so that the maintenance service works.",
            partner_id=None,
            partner_choice="choose-later",
        ),
    ),
    (
        # rule CMS-7: several partners: the subscriber's explicit choice.
        "several-partners-one-chosen",
        {"contracts": [contract(P1, "2026-01", "2027-03"), contract(P2, "2027-04", "2027-12")], "partner_id": P2},
        expected(partner_id=P2, partner_choice="chosen"),
    ),
    (
        "one-partner-named-in-the-request-is-still-the-contracts",
        {"partner_id": P1},
        expected(),
    ),
    (
        "one-partner-on-several-contracts-of-different-products",
        {"contracts": [contract(P1, "2026-01", "2027-12"), contract(P1, "2026-06", "2027-06")]},
        expected(),
    ),
]


@pytest.mark.parametrize(("overrides", "plan_expected"), [p[1:] for p in PLANS], ids=[p[0] for p in PLANS])
def test_plans(overrides: dict[str, Any], plan_expected: ActivationPlan) -> None:
    assert plan(**overrides) == plan_expected


TWO_PARTNERS = [contract(P1, "2026-01", "2027-03"), contract(P2, "2027-04", "2027-12")]

REFUSALS: list[tuple[str, dict[str, Any], str, str, str, list[str]]] = [
    # (id, request, field, reason, in the message, choices)
    ("code-used", {"code": ActivationCode(1, 12, True)}, "code", "code-used", "already been used", []),
    (
        # rule CMS-2: the message names the product's configurations and their categories.
        "no-configuration-of-the-codes-category",
        {"product": PROF_HRM},
        "registration_number",
        "category-mismatch",
        "product 30000000003 includes HRM (category 2)",
        [],
    ),
    (
        "a-category-2-code-for-a-category-1-only-product",
        {"code": ActivationCode(2, 12, False), "product": PROF_ACC},
        "registration_number",
        "category-mismatch",
        "maintenance category 2; product 20000000002 includes ACC (category 1)",
        [],
    ),
    (
        "corp-several-matching-none-chosen",
        {"product": CORP},
        "configuration",
        "choose-configuration",
        "choose one of: ACC, ERP",
        ["ACC", "ERP"],
    ),
    (
        "corp-chosen-configuration-not-in-the-product",
        {"product": CORP, "configuration": "SALARY"},
        "configuration",
        "configuration-not-in-product",
        "does not include configuration SALARY",
        ["ACC", "ERP"],
    ),
    (
        "corp-chosen-configuration-of-the-other-category",
        {"product": CORP, "configuration": "HRM"},
        "configuration",
        "category-mismatch",
        "HRM is of maintenance category 2, this code is for category 1",
        ["ACC", "ERP"],
    ),
    (
        "a-wrong-choice-is-refused-even-with-one-match",
        {"configuration": "HRM"},
        "configuration",
        "configuration-not-in-product",
        "does not include configuration HRM",
        ["ACC"],
    ),
    (
        # rule CMS-5: nothing before March 2014, even when the current month is earlier still.
        "before-the-2014-03-floor",
        {"start": Month(2014, 2), "current": Month(2014, 1), "contracts": []},
        "start",
        "start-too-early",
        "cannot start before 2014-03",
        [],
    ),
    (
        "before-the-current-month",
        {"start": Month(2026, 10)},
        "start",
        "start-too-early",
        "cannot start before 2026-11",
        [],
    ),
    (
        # rule CMS-7: several partners and no choice: the subscriber must choose explicitly.
        "several-partners-none-chosen",
        {"contracts": TWO_PARTNERS},
        "partner_id",
        "choose-partner",
        f"choose one of: {P1}, {P2}",
        [str(P1), str(P2)],
    ),
    (
        "chosen-partner-accompanies-no-contract",
        {"contracts": TWO_PARTNERS, "partner_id": P3},
        "partner_id",
        "partner-not-accompanying",
        f"Choose one of: {P1}, {P2}",
        [str(P1), str(P2)],
    ),
    (
        "chosen-partner-with-a-single-other-partner",
        {"partner_id": P2},
        "partner_id",
        "partner-not-accompanying",
        f"Choose one of: {P1}",
        [str(P1)],
    ),
    (
        "chosen-partners-contract-is-outside-the-period",
        {"contracts": [contract(P2, "2025-01", "2026-10"), contract(P1, "2026-11", "2027-12")], "partner_id": P2},
        "partner_id",
        "partner-not-accompanying",
        f"Choose one of: {P1}",
        [str(P1)],
    ),
    (
        "chosen-partner-without-any-contract",
        {"contracts": [], "partner_id": P1},
        "partner_id",
        "partner-not-accompanying",
        "can be chosen later",
        [],
    ),
]


@pytest.mark.parametrize(
    ("overrides", "field", "reason", "says", "choices"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_refusals(overrides: dict[str, Any], field: str, reason: str, says: str, choices: list[str]) -> None:
    refusal = plan(**overrides)
    assert isinstance(refusal, Refusal)
    assert (refusal.field, refusal.reason, refusal.details["choices"]) == (field, reason, choices)
    assert says in refusal.message


# ---- CMS-6: which contracts count: those listing a product of the configuration --------------------------

NO_CONTRACT_ALL_PERIOD = (
    "No ITS contract covers 2026-11..2027-10 of the maintenance period 2026-11..2027-10: "
    "conclude an ITS contract with a partner so that the maintenance service works."
)

WHICH_CONTRACT: list[tuple[str, dict[str, Any], ActivationPlan]] = [
    (
        # The defect: any contract of the subscriber used to count. One on a product without ACC covers nothing
        # of ACC's maintenance; its partner still accompanies the subscriber (CMS-7 is about the subscriber).
        "a-contract-on-a-product-without-the-configuration-does-not-count",
        {"contracts": [contract(P1, "2026-01", "2027-12", (PROF_HRM.registration_number,))]},
        expected(warning=NO_CONTRACT_ALL_PERIOD),
    ),
    (
        # CORP includes ACC: a contract listing CORP (here as an additional number) covers ACC's service.
        "another-product-with-the-configuration-listed-as-additional-counts",
        {"contracts": [contract(P1, "2026-01", "2027-12", (PROF_HRM.registration_number, CORP.registration_number))]},
        expected(),
    ),
    (
        "one-covered-product-of-the-configuration-is-enough",
        {"contracts": [contract(P1, "2026-01", "2027-12", (PROF_ACC.registration_number,))]},
        expected(),
    ),
    (
        "each-month-needs-some-product-of-the-configuration-covered",
        {
            "contracts": [
                contract(P1, "2026-01", "2027-03", (CORP.registration_number,)),
                contract(P1, "2027-05", "2027-12", (PROF_ACC.registration_number,)),
                contract(P1, "2027-04", "2027-04", (PROF_HRM.registration_number,)),  # HRM only: not ACC
            ]
        },
        expected(
            warning="No ITS contract covers 2027-04 of the maintenance period 2026-11..2027-10: "
            "conclude an ITS contract with a partner so that the maintenance service works."
        ),
    ),
    (
        # ITS-7: the free period is ITS support too, as the support status says (MON-1): bought 2026-09,
        # free through 2027-02.
        "the-free-period-covers-its-months",
        {"product": product(PROF_ACC.registration_number, "PROF", {"ACC": 1}, date(2026, 9, 5)), "contracts": []},
        expected(
            warning="No ITS contract covers 2027-03..2027-10 of the maintenance period 2026-11..2027-10: "
            "conclude an ITS contract with a partner so that the maintenance service works.",
            partner_id=None,
            partner_choice="choose-later",
        ),
    ),
    (
        # ITS-7: a product that needs no contract (BASIC) has nothing to warn about.
        "a-basic-product-alone-needs-no-contract",
        {
            "code": ActivationCode(2, 12, False),
            "product": BASIC_TRADE,
            "subscriber_products": [BASIC_TRADE],
            "contracts": [],
        },
        expected(
            configuration="TRADE",
            category=2,
            registration_numbers=[BASIC_TRADE.registration_number],
            partner_id=None,
            partner_choice="choose-later",
        ),
    ),
]


@pytest.mark.parametrize(
    ("overrides", "plan_expected"), [p[1:] for p in WHICH_CONTRACT], ids=[p[0] for p in WHICH_CONTRACT]
)
def test_only_contracts_on_a_product_of_the_configuration_count(
    overrides: dict[str, Any], plan_expected: ActivationPlan
) -> None:
    assert plan(**overrides) == plan_expected


def test_the_warning_read_later_is_the_one_of_the_rule_then() -> None:
    # Computed when read (maintenance_api.served): the same function, with the contracts known then.
    period = NOW_TO_OCT
    acc = products_with("ACC", PRODUCTS)
    assert [p.registration_number for p in acc] == [PROF_ACC.registration_number, CORP.registration_number]
    assert contract_warning(period, acc, []) == NO_CONTRACT_ALL_PERIOD
    arrived = [contract(P1, "2026-11", "2027-10", (CORP.registration_number,))]
    assert contract_warning(period, acc, arrived) is None
    assert contract_warning(period, [], arrived) == NO_CONTRACT_ALL_PERIOD  # no product of it left


# ---- CMS-7: one rule for choosing the partner, at activation and later ----------------------------------

LATER: list[tuple[str, list[ContractSpan], uuid.UUID, tuple[uuid.UUID, str] | str]] = [
    # (id, the subscriber's contracts, the partner chosen, (partner, how) or the refusal's reason)
    ("the-partner-of-a-contract-in-the-period", [contract(P1, "2026-01", "2027-12")], P1, (P1, "contract")),
    ("one-of-several-partners", TWO_PARTNERS, P2, (P2, "chosen")),
    ("a-partner-of-no-contract", [contract(P1, "2026-01", "2027-12")], P3, "partner-not-accompanying"),
    ("a-partner-whose-contract-ended-before", [contract(P2, "2025-01", "2026-10")], P2, "partner-not-accompanying"),
    ("still-no-contract-at-all", [], P1, "partner-not-accompanying"),
]


@pytest.mark.parametrize(("contracts", "partner", "outcome"), [c[1:] for c in LATER], ids=[c[0] for c in LATER])
def test_choosing_the_partner_later_follows_the_activation_rule(
    contracts: list[ContractSpan], partner: uuid.UUID, outcome: tuple[uuid.UUID, str] | str
) -> None:
    later = accompanying_partner(NOW_TO_OCT, contracts, partner)
    at_activation = plan(contracts=contracts, partner_id=partner)
    if isinstance(outcome, str):
        assert isinstance(later, Refusal) and later.reason == outcome
        assert isinstance(at_activation, Refusal) and at_activation.reason == outcome  # the same answer
    else:
        assert later == outcome
        assert isinstance(at_activation, ActivationPlan)
        assert (at_activation.partner_id, at_activation.partner_choice) == outcome


def test_a_used_code_is_refused_before_anything_else() -> None:
    refusal = plan(code=ActivationCode(2, 12, True), start=Month(2000, 1), product=PROF_ACC)
    assert isinstance(refusal, Refusal) and refusal.reason == "code-used"


@pytest.mark.parametrize(
    ("period", "contracts", "uncovered"),
    [
        ("2026-11..2027-01", [], ["2026-11", "2026-12", "2027-01"]),
        ("2026-11..2027-01", [("2026-01", "2027-12")], []),
        ("2026-11..2027-01", [("2026-01", "2026-11"), ("2026-12", "2027-01")], []),  # back to back
        ("2026-11..2027-01", [("2026-01", "2026-11"), ("2027-01", "2027-05")], ["2026-12"]),  # a gap month
        ("2026-11..2027-01", [("2027-01", "2027-05"), ("2026-01", "2026-11")], ["2026-12"]),  # any order
        ("2026-11..2027-01", [("2026-01", "2026-12"), ("2026-06", "2027-01")], []),  # overlapping
        ("2026-11..2026-11", [("2026-12", "2027-12")], ["2026-11"]),  # starts after
        ("2026-11..2026-11", [("2025-01", "2026-10")], ["2026-11"]),  # ended before
    ],
)
def test_uncovered_months(period: str, contracts: list[tuple[str, str]], uncovered: list[str]) -> None:
    start, end = period.split("..")
    spans = [contract(P1, a, b) for a, b in contracts]
    assert uncovered_months(Period.parse(start, end), [PROF_ACC], spans) == [Month.parse(m) for m in uncovered]


@pytest.mark.parametrize(
    "make",
    [
        lambda: ActivationCode(category=3, months=12, used=False),
        lambda: ActivationCode(category=0, months=12, used=False),
        lambda: ActivationCode(category=1, months=0, used=False),
        lambda: product("1", "PROF", {"ACC": 3}),
    ],
)
def test_inputs_outside_cms_2_and_cms_5_are_rejected(make: Any) -> None:
    with pytest.raises(ValueError, match=r"category|month"):
        make()
