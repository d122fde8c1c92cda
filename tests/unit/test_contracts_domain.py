"""Contracts' pure rules: periods (ITS-1), why a contract is not listed (ITS-5), coverage (ITS-7)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from rules.coverage import Coverage, coverage, free_period, its_required
from rules.months import Month, Period
from services.contracts import domain

NOW = Month(2026, 12)
MINE, OTHER = "CL-1111111", "CL-2222222"


def facts(
    state: str = "active", *, numbers: dict[str, str | None], code: str | None = None, end: str = "2027-11"
) -> domain.ContractFacts:
    return domain.ContractFacts(
        state=state,  # type: ignore[arg-type]
        period=Period.parse(min("2026-12", end), end),
        processing_on=date(2026, 12, 2),
        subscriber_code=code,
        numbers=numbers,
    )


@pytest.mark.parametrize(
    ("start", "end", "field", "kind"),
    [
        ("2026-13", "2027-01", "period.from", "month_format"),
        ("2026-12", "2027-1", "period.to", "month_format"),
        ("2027-05", "2027-01", "period", "period_order"),
        ("2025-01", "2026-11", "period.to", "period_ended"),
        ("2026-12", "2032-01", "period", "period_too_long"),
    ],
)
def test_bad_periods_name_their_field_and_a_stable_type(start: str, end: str, field: str, kind: str) -> None:
    # The type is for programs (the portal says it in the user's language); the message for people.
    assert [(e.field, e.reason) for e in domain.period_problems(start, end, NOW)] == [(field, kind)]


def test_a_period_ending_this_month_or_later_is_fine() -> None:
    assert domain.period_problems("2026-01", "2026-12", NOW) == []


@pytest.mark.parametrize(
    ("contract", "known", "reason"),
    [
        (facts(numbers={"1": MINE}), None, "listed"),
        (facts("processing", numbers={"1": MINE}), None, "processing"),
        (facts("expired", numbers={"1": MINE}), None, "expired"),
        (facts(numbers={"1": MINE}, end="2026-11"), None, "expired"),
        (facts(numbers={"1": None}, code=MINE), None, "product_not_registered"),
        (facts(numbers={"1": None}), "1", "product_not_registered"),  # they hold the product
        (facts(numbers={"1": None}), None, "unknown"),  # not related: nothing told
        (facts(numbers={"1": OTHER}), None, "unknown"),
        (facts(numbers={"1": OTHER}), "1", "unknown"),  # naming another's number proves nothing
        (facts("processing", numbers={"1": OTHER}), None, "unknown"),
    ],
)
def test_why_not_listed(contract: domain.ContractFacts, known: str | None, reason: str) -> None:
    answer = domain.why_not_listed([contract], subscriber_code=MINE, known_number=known, current=NOW)
    assert answer.reason == reason


def test_product_not_registered_names_only_numbers_nobody_holds() -> None:
    contract = facts(numbers={"1": None, "2": OTHER}, code=MINE)
    answer = domain.why_not_listed([contract], subscriber_code=MINE, known_number=None, current=NOW)
    assert answer.register == ("1",)


def test_of_several_contracts_with_one_number_the_most_telling_answer_wins() -> None:
    contracts = [facts(numbers={"1": OTHER}), facts("processing", numbers={"2": MINE})]
    answer = domain.why_not_listed(contracts, subscriber_code=MINE, known_number=None, current=NOW)
    assert answer.reason == "processing" and answer.until == date(2026, 12, 2)
    assert domain.why_not_listed([], subscriber_code=MINE, known_number=None, current=NOW).reason == "unknown"


def test_coverage_prefers_the_contract_then_the_free_period() -> None:
    purchase = date(2026, 10, 20)
    assert free_period(purchase) == Period(Month(2026, 10), Month(2027, 3))
    contract = Period.parse("2027-02", "2028-01")
    assert coverage(Month(2027, 2), its_required=True, purchase_date=purchase, contract_periods=[contract]) == (
        Coverage(True, "contract", Month(2028, 1))
    )
    assert coverage(Month(2027, 1), its_required=True, purchase_date=purchase, contract_periods=[contract]).by == (
        "free_period"
    )
    assert not coverage(Month(2028, 2), its_required=True, purchase_date=purchase, contract_periods=[contract]).covered
    assert coverage(Month(2040, 1), its_required=False, purchase_date=None, contract_periods=[]).by == "not_required"


def span(start: str, end: str, *numbers: str) -> domain.ContractSpan:
    return domain.ContractSpan(uuid.uuid4(), uuid.uuid4(), Period.parse(start, end), frozenset(numbers))


@pytest.mark.parametrize(
    ("contracts", "month", "covered", "until"),
    [
        # (the subscriber's contracts, the month asked, covered?, the last month of the unbroken coverage)
        ([span("2026-01", "2026-12", "A")], "2026-06", True, "2026-12"),  # A is the main number
        ([span("2026-01", "2026-12", "X", "A")], "2026-06", True, "2026-12"),  # A is an additional number
        ([span("2026-01", "2026-12", "X")], "2026-06", False, None),  # another product's contract
        ([span("2026-01", "2026-06", "A"), span("2026-07", "2027-03", "A")], "2026-02", True, "2027-03"),
        ([span("2026-01", "2026-06", "A"), span("2026-08", "2027-03", "A")], "2026-02", True, "2026-06"),  # a gap
        ([span("2026-01", "2026-06", "A"), span("2026-07", "2027-03", "X")], "2026-02", True, "2026-06"),
        ([], "2024-12", True, "2025-05"),  # the free period alone (bought 2024-12)
        ([span("2025-06", "2025-12", "A")], "2025-03", True, "2025-12"),  # a contract continues the free period
    ],
)
def test_a_products_its_condition_counts_only_contracts_listing_it(
    contracts: list[domain.ContractSpan], month: str, covered: bool, until: str | None
) -> None:
    product = domain.ItsProduct.of("A", its_required=True, purchase_date=date(2024, 12, 20), contracts=contracts)
    assert all("A" in c.registration_numbers for c in product.contracts)
    assert product.coverage(Month.parse(month)).covered is covered
    assert product.covered_until(Month.parse(month)) == (Month.parse(until) if until else None)


def test_a_product_that_needs_no_contract_is_covered_without_an_end() -> None:
    basic = domain.ItsProduct.of("B", its_required=False, purchase_date=None, contracts=[])
    assert basic.coverage(Month(2040, 1)).by == "not_required" and basic.covered_until(Month(2040, 1)) is None
    assert its_required("BASIC", None) is False and its_required("PROF", None) is True
    assert its_required("PROF", False) is False  # the catalogue's word wins


def test_a_contract_expires_at_the_start_of_the_month_after_its_period() -> None:
    from zoneinfo import ZoneInfo

    moment = domain.expiry_moment(Month(2026, 12), ZoneInfo("Europe/Moscow"))
    assert moment.isoformat() == "2027-01-01T00:00:00+03:00"


def test_the_fingerprint_ignores_key_order() -> None:
    assert domain.fingerprint({"a": 1, "b": [1, 2]}) == domain.fingerprint({"b": [1, 2], "a": 1})
    assert domain.fingerprint({"a": 1}) != domain.fingerprint({"a": 2})
