"""Login throttling (services.identity.domain): no single address or login locks other people out, and guessing
against one account stays bounded (ASVS 2.2.1: at most 100 failures per account per hour)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.identity.domain import FailureCounts, ThrottlePolicy, throttled_until

POLICY = ThrottlePolicy()
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OLDEST = NOW - timedelta(minutes=5)


def counts(*, pair: int = 0, login: int = 0, address: int = 0, known: bool = False) -> FailureCounts:
    return FailureCounts(
        pair=pair,
        pair_oldest=OLDEST if pair else None,
        login=login,
        login_oldest=OLDEST if login else None,
        address=address,
        address_oldest=OLDEST if address else None,
        address_is_known=known,
    )


@pytest.mark.parametrize(
    ("case", "failures", "until"),
    [
        ("nothing failed", counts(), None),
        ("5 wrong passwords for a login from one address", counts(pair=5, login=5), OLDEST + POLICY.pair_window),
        ("strangers' 50 failures for a login, from elsewhere", counts(login=50), OLDEST + POLICY.login_window),
        ("... do not refuse the owner at an address it logged in from", counts(login=50, known=True), None),
        ("100 failures from one address for many logins", counts(address=100), OLDEST + POLICY.address_window),
        ("... do not refuse a login that succeeded from that address", counts(address=100, known=True), None),
        ("both at once, the owner at a known address", counts(login=99, address=500, known=True), None),
        (
            "100 failures for one login in an hour, from anywhere",
            counts(login=100, known=True),
            OLDEST + POLICY.login_window,
        ),
    ],
)
def test_who_is_refused(case: str, failures: FailureCounts, until: datetime | None) -> None:
    assert throttled_until(failures, POLICY) == until, case


def test_guessing_against_one_account_is_bounded_by_asvs() -> None:
    assert POLICY.login_ceiling <= 100 and POLICY.login_window == timedelta(hours=1)
    # Strangers stop well before the ceiling: they cannot use it up to lock the owner out.
    assert POLICY.login_limit < POLICY.login_ceiling
