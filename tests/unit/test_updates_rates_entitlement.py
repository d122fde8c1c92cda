"""DAT-1 / ITS-7 / SUB-5 / REG-3: who receives exchange rates, over every combination of edition, coverage, the
member's right and the registration's state. Unlike downloads (UPD-4), a BASIC edition is not let through for
needing no contract: it has no free period, so only a contract listing it brings the rates."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

from services.updates.entitlement import Holding, rates_decision
from tests.unit.test_updates_entitlement import COVERAGE, EDITIONS, MEMBERS, NOW, REGISTRATION, TODAY, holdings, outcome

ALLOW = "allowed"
# (registration, member, edition, coverage) -> expected; "*" matches anything; the first matching row wins.
TABLE: list[tuple[str, str, str, str, str]] = [
    ("none", "*", "*", "*", "403 no-registered-product"),
    ("pending", "*", "*", "*", "403 registration-pending"),
    ("active", "user_without_right", "*", "*", "403 its-access-right-missing"),
    ("active", "*", "*", "contract", ALLOW),
    ("active", "*", "BASIC", "*", "402 its-contract-required"),  # no free period, no exemption (ITS-7)
    ("active", "*", "*", "free_period", ALLOW),
    ("active", "*", "*", "none", "402 its-contract-required"),
    ("active", "*", "*", "lapsed", "402 its-contract-required"),
]


def expected(*case: str) -> str:
    for row in TABLE:
        if all(want in ("*", got) for want, got in zip(row[:4], case, strict=True)):
            return row[4]
    raise AssertionError(f"the table has no row for {case}")


@pytest.mark.parametrize(
    ("registration", "member", "edition", "coverage"),
    list(itertools.product(REGISTRATION, MEMBERS, EDITIONS, COVERAGE)),
)
def test_dat1_every_combination(registration: str, member: str, edition: str, coverage: str) -> None:
    decision = rates_decision(holdings(registration, edition, coverage), MEMBERS[member], now=NOW, today=TODAY)
    assert outcome(decision) == expected(registration, member, edition, coverage)


def test_dat1_a_basic_edition_in_its_first_months_gets_no_rates_without_a_contract() -> None:
    """Bought this month: downloads are allowed (BASIC needs no contract), rates are not (no free period)."""
    basic = [Holding("12345678903", "Accounting BASIC", "BASIC", False, TODAY, NOW - timedelta(days=1), ())]
    assert outcome(rates_decision(basic, MEMBERS["owner"], now=NOW, today=TODAY)) == "402 its-contract-required"


def test_dat1_one_covered_product_of_any_configuration_is_enough() -> None:
    covered = holdings("active", "BASIC", "none") + holdings("active", "PROF", "contract")
    assert rates_decision(covered, MEMBERS["owner"], now=NOW, today=TODAY).allowed


def test_dat1_the_current_month_is_the_vendors() -> None:
    lapsed = holdings("active", "PROF", "lapsed")  # covered through October 2026
    assert rates_decision(lapsed, MEMBERS["owner"], now=NOW, today=date(2026, 10, 31)).allowed
    assert not rates_decision(lapsed, MEMBERS["owner"], now=NOW, today=date(2026, 11, 1)).allowed
