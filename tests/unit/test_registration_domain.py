"""Registration's pure rules: numbers, PINs, articles, the wrong-PIN window (REG-1, REG-2, REG-7)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

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


def test_five_wrong_pins_in_an_hour_then_wait_for_the_oldest_to_leave_the_window() -> None:
    throttle = domain.PinThrottle()
    failures = [NOW - timedelta(minutes=m) for m in (50, 40, 30, 20)]
    assert throttle.retry_after(failures, NOW) is None
    failures.append(NOW - timedelta(minutes=10))
    assert throttle.retry_after(failures, NOW) == timedelta(minutes=10)
    assert throttle.retry_after([NOW - timedelta(minutes=61)] * 5, NOW) is None  # an hour later: allowed


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
