"""Registration's pure rules: numbers, PINs, articles, the wrong-PIN window (REG-1, REG-2, REG-7)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.registration import domain
from services.registration.pins import pin_hasher

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_new_numbers_pass_the_check_digit_and_a_single_typo_fails_it() -> None:
    for _ in range(200):
        number = domain.new_registration_number()
        assert domain.is_registration_number(number) and number[0] != "0"
        for i in range(len(number)):
            typo = number[:i] + str((int(number[i]) + 1) % 10) + number[i + 1 :]
            assert not domain.is_registration_number(typo)


def test_numbers_and_pins_are_accepted_as_printed() -> None:
    assert domain.normalize(" 123 4567-8901 ") == "12345678901"
    pin = domain.new_pin()
    assert len(pin) == domain.PIN_LENGTH and pin.isdigit()


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_ean13_check_digit(first_twelve: str) -> None:
    valid = [d for d in "0123456789" if domain.is_ean13(first_twelve + d)]
    assert len(valid) == 1


def test_the_seed_article_is_a_valid_ean13() -> None:
    assert domain.is_ean13("4601546041807") and not domain.is_ean13("4601546041808")
    assert not domain.is_ean13("460154604180") and not domain.is_ean13("460154604180X")


def ago(*minutes: int) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


def test_five_wrong_pins_in_an_hour_then_wait_for_the_oldest_to_leave_the_window() -> None:
    throttle = domain.PinThrottle()
    mine = ago(50, 40, 30, 20)
    assert throttle.retry_after(domain.PinFailures(mine, mine, mine), NOW) is None
    mine = ago(50, 40, 30, 20, 10)
    assert throttle.retry_after(domain.PinFailures(mine, mine, mine), NOW) == domain.PinWait(
        "number", timedelta(minutes=10)
    )
    old = [NOW - timedelta(minutes=61)] * 5
    assert throttle.retry_after(domain.PinFailures(old, old, old), NOW) is None  # an hour later: allowed


# (id, minutes ago of the wrong PINs: of this number by this subscriber, of this number by others, of this
#  subscriber on other numbers; what is locked and for how many minutes, or None; tries left)
THROTTLE_CASES: list[tuple[str, list[int], list[int], list[int], tuple[str, int] | None, int]] = [
    ("nothing-yet", [], [], [], None, 5),
    # The defect: a stranger's five wrong PINs locked the number for its owner too.
    ("a-strangers-five-leave-the-owner-untouched", [], [55, 45, 35, 25, 15], [], None, 5),
    ("the-owners-own-five", [55, 45, 35, 25, 15], [], [], ("number", 5), 0),
    ("ten-strangers-reach-the-number-ceiling", [], [59] * 10 + list(range(10, 50)), [], ("number", 1), 0),
    ("forty-nine-by-others-leave-one", [], list(range(10, 59)), [], None, 1),
    ("twenty-on-other-numbers-lock-the-subscriber", [], [], list(range(30, 50)), ("subscriber", 11), 0),
    ("nineteen-on-other-numbers-leave-one", [], [], list(range(30, 49)), None, 1),
    ("the-longest-wait-of-two-reached-limits", [40] * 5, [], [58] * 15, ("number", 20), 0),
    ("failures-older-than-the-hour-do-not-count", [61, 70, 80, 90, 100], [61] * 60, [61] * 30, None, 5),
]


@pytest.mark.parametrize(
    ("mine", "number", "subscriber", "wait", "left"),
    [c[1:] for c in THROTTLE_CASES],
    ids=[c[0] for c in THROTTLE_CASES],
)
def test_wrong_pins_are_limited_per_number_and_subscriber_per_subscriber_and_per_number(
    mine: list[int], number: list[int], subscriber: list[int], wait: tuple[str, int] | None, left: int
) -> None:
    throttle = domain.PinThrottle()
    # The store's lists: the subscriber's own tries on this number are in the other two lists too.
    failures = domain.PinFailures(ago(*mine), ago(*mine, *number), ago(*mine, *subscriber))
    expected = None if wait is None else domain.PinWait(wait[0], timedelta(minutes=wait[1]))  # type: ignore[arg-type]
    assert throttle.retry_after(failures, NOW) == expected
    assert throttle.tries_left(failures, NOW) == left


def test_one_stranger_cannot_reach_the_number_ceiling() -> None:
    # REG-7: one subscriber has at most its 5 tries on a number; the owner's count is its own.
    throttle = domain.PinThrottle()
    assert throttle.per_number_and_subscriber * 2 <= throttle.per_number
    assert throttle.per_number_and_subscriber < throttle.per_subscriber < throttle.per_number
    stranger = ago(*range(10, 15))
    owner = domain.PinFailures([], stranger, [])
    assert throttle.retry_after(owner, NOW) is None and throttle.tries_left(owner, NOW) == 5


def test_prof_needs_a_contract_to_self_register_and_basic_needs_none_for_updates() -> None:
    assert domain.needs_contract_to_self_register("PROF")
    assert not any(domain.needs_contract_to_self_register(e) for e in ("BASIC", "CORP", "SPECIAL"))
    assert [domain.default_its_required(e) for e in domain.EDITIONS] == [False, True, True, True]


def test_a_contract_covers_until_the_end_of_its_last_month() -> None:
    assert domain.is_covering("2026-11", date(2026, 11, 30))
    assert domain.is_covering("2027-01", date(2026, 11, 30))
    assert not domain.is_covering("2026-10", date(2026, 11, 1))


def test_pin_hashes_are_salted_argon2id() -> None:
    hasher = pin_hasher()
    first, second = hasher.hash("123456789012"), hasher.hash("123456789012")
    assert first != second and first.startswith("$argon2id$") and "m=2048,t=1" in first
    assert hasher.verify(first, "123456789012")
