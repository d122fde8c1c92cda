"""UPD-4 / ITS-7 / SUB-5 / REG-3 / REG-6: the download policy over every combination of edition, coverage,
the member's right and the registration's state, written out as a table."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from rules.months import Month, Period
from services.updates.entitlement import ITS_ACCESS, Decision, Holding, Member, download_decision, support_end
from shared.problems import refusal_problem

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 27)

EDITIONS = {"BASIC": False, "PROF": True, "CORP": True}  # edition -> ITS required (ITS-7)
# coverage -> (purchase date, contract periods)
COVERAGE = {
    "none": (date(2025, 1, 10), ()),
    "contract": (date(2025, 1, 10), (Period(Month(2026, 7), Month(2026, 12)),)),
    "free_period": (date(2026, 7, 1), ()),  # July..December 2026
    "lapsed": (date(2025, 1, 10), (Period(Month(2026, 1), Month(2026, 10)),)),  # ended last month
}
MEMBERS = {
    "owner": Member("owner", frozenset({ITS_ACCESS})),
    "user_with_right": Member("user", frozenset({ITS_ACCESS})),
    "user_without_right": Member("user", frozenset()),
}
REGISTRATION = {
    "none": None,
    "pending": NOW + timedelta(minutes=15),
    "active": NOW - timedelta(days=1),
}

ALLOW = "allowed"
# (registration, member, edition, coverage) -> expected; "*" matches anything.
TABLE: list[tuple[str, str, str, str, str]] = [
    ("none", "*", "*", "*", "403 configuration-not-registered"),
    ("pending", "*", "*", "*", "403 registration-pending"),
    ("active", "user_without_right", "*", "*", "403 its-access-right-missing"),
    ("active", "owner", "BASIC", "*", ALLOW),
    ("active", "user_with_right", "BASIC", "*", ALLOW),
    ("active", "owner", "PROF", "contract", ALLOW),
    ("active", "owner", "PROF", "free_period", ALLOW),
    ("active", "owner", "PROF", "none", "402 its-contract-required"),
    ("active", "owner", "PROF", "lapsed", "402 its-contract-required"),
    ("active", "owner", "CORP", "contract", ALLOW),
    ("active", "owner", "CORP", "free_period", ALLOW),
    ("active", "owner", "CORP", "none", "402 its-contract-required"),
    ("active", "owner", "CORP", "lapsed", "402 its-contract-required"),
    ("active", "user_with_right", "PROF", "contract", ALLOW),
    ("active", "user_with_right", "PROF", "free_period", ALLOW),
    ("active", "user_with_right", "PROF", "none", "402 its-contract-required"),
    ("active", "user_with_right", "PROF", "lapsed", "402 its-contract-required"),
    ("active", "user_with_right", "CORP", "contract", ALLOW),
    ("active", "user_with_right", "CORP", "free_period", ALLOW),
    ("active", "user_with_right", "CORP", "none", "402 its-contract-required"),
    ("active", "user_with_right", "CORP", "lapsed", "402 its-contract-required"),
]


def expected(registration: str, member: str, edition: str, coverage: str) -> str:
    for row in TABLE:
        if all(
            want in ("*", got) for want, got in zip(row[:4], (registration, member, edition, coverage), strict=True)
        ):
            return row[4]
    raise AssertionError(f"the table has no row for {(registration, member, edition, coverage)}")


def outcome(decision: Decision) -> str:
    return ALLOW if decision.refusal is None else f"{refusal_problem(decision.refusal).status} {decision.reason}"


def holdings(registration: str, edition: str, coverage: str) -> list[Holding]:
    active_from = REGISTRATION[registration]
    if active_from is None:
        return []
    purchase, contracts = COVERAGE[coverage]
    return [
        Holding("12345678903", f"Accounting {edition}", edition, EDITIONS[edition], purchase, active_from, contracts)
    ]


@pytest.mark.parametrize(
    ("registration", "member", "edition", "coverage"),
    list(itertools.product(REGISTRATION, MEMBERS, EDITIONS, COVERAGE)),
)
def test_every_combination(registration: str, member: str, edition: str, coverage: str) -> None:
    decision = download_decision(holdings(registration, edition, coverage), MEMBERS[member], now=NOW, today=TODAY)
    assert outcome(decision) == expected(registration, member, edition, coverage)


def test_one_qualifying_product_is_enough() -> None:
    """A lapsed PROF and an active BASIC of the same configuration: BASIC needs no contract."""
    lapsed = holdings("active", "PROF", "lapsed") + holdings("active", "BASIC", "none")
    assert download_decision(lapsed, MEMBERS["owner"], now=NOW, today=TODAY).allowed


def test_the_current_month_is_the_vendors() -> None:
    """Covered through October: on 31 October (vendor's date) allowed, on 1 November refused."""
    covered = holdings("active", "PROF", "lapsed")
    assert download_decision(covered, MEMBERS["owner"], now=NOW, today=date(2026, 10, 31)).allowed
    assert not download_decision(covered, MEMBERS["owner"], now=NOW, today=date(2026, 11, 1)).allowed


def test_keygen_alternative_keeps_releases_published_while_covered() -> None:
    lapsed = holdings("active", "PROF", "lapsed")
    owner = MEMBERS["owner"]
    october, november = date(2026, 10, 15), date(2026, 11, 2)
    assert not download_decision(lapsed, owner, now=NOW, today=TODAY, released_on=october).allowed  # off by default
    assert download_decision(
        lapsed, owner, now=NOW, today=TODAY, released_on=october, keep_covered_releases=True
    ).allowed
    refused = download_decision(lapsed, owner, now=NOW, today=TODAY, released_on=november, keep_covered_releases=True)
    assert outcome(refused) == "402 its-contract-required"


def test_support_end() -> None:
    assert support_end(holdings("active", "PROF", "contract"), NOW) == Month(2026, 12)
    assert support_end(holdings("active", "PROF", "free_period"), NOW) == Month(2026, 12)
    assert support_end(holdings("active", "PROF", "lapsed"), NOW) is None
    assert support_end(holdings("active", "BASIC", "none"), NOW) is None  # needs no contract


def test_support_ends_where_the_unbroken_coverage_ends_as_mon1_says() -> None:
    """ITS-7 as the support status answers it: back-to-back contracts are one run of coverage."""
    back_to_back = (Period(Month(2026, 7), Month(2026, 12)), Period(Month(2027, 1), Month(2027, 6)))
    product = Holding(
        "12345678903", "Accounting PROF", "PROF", True, date(2020, 1, 10), NOW - timedelta(days=30), back_to_back
    )
    assert support_end([product], NOW) == Month(2027, 6)
