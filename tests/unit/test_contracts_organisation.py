"""Organisation data on a contract: TIN and KPP checks (rules ITS-1, ITS-6)."""

from __future__ import annotations

import pytest

from services.contracts.organisation import kpp_problem, tin_problem

ORGANISATION_TIN = "7707083893"  # Sberbank
INDIVIDUAL_TIN = "500100732259"
VALID_TINS = [ORGANISATION_TIN, INDIVIDUAL_TIN, "7736050003"]  # the last: Gazprom


@pytest.mark.parametrize("tin", VALID_TINS)
def test_valid_tins(tin: str) -> None:
    assert tin_problem(tin) is None


@pytest.mark.parametrize(
    ("tin", "says"),
    [
        ("", "digits only"),
        ("770708389", "not 9"),  # 9 digits
        ("77070838930", "not 11"),  # 11 digits
        ("5001007322590", "not 13"),  # 13 digits
        ("7707083892", "10th"),  # organisation, wrong check digit
        ("500100732249", "11th"),  # individual, wrong 11th digit
        ("500100732258", "12th"),  # individual, right 11th, wrong 12th digit
        ("770708389O", "digits only"),  # a letter O for a zero
        ("7707 083893", "digits only"),
        (" 7707083893", "digits only"),
        ("77070838-93", "digits only"),
        ("٧٧٠٧٠٨٣٨٩٣", "digits only"),  # Arabic-Indic digits: str.isdigit() is True, still not a TIN
        ("-707083893", "digits only"),
    ],
)
def test_invalid_tins_say_why(tin: str, says: str) -> None:
    problem = tin_problem(tin)
    assert problem is not None and says in problem.message
    kind = "tin_not_digits" if says == "digits only" else "tin_check_digit" if says.endswith("th") else "tin_length"
    assert (problem.field, problem.reason) == ("tin", kind)


@pytest.mark.parametrize("tin", [ORGANISATION_TIN, INDIVIDUAL_TIN])
def test_every_single_digit_change_of_a_valid_tin_fails(tin: str) -> None:
    # Holds for these two: their check sums mod 11 are 3 (10 digits), 5 and 9 (12 digits), never 0
    # or 10, which the final "mod 10" would merge.
    for position, digit in enumerate(tin):
        for other in "0123456789".replace(digit, ""):
            typo = tin[:position] + other + tin[position + 1 :]
            assert tin_problem(typo) is not None, typo


def test_swapping_the_two_check_digits_of_an_individual_fails() -> None:
    assert tin_problem(INDIVIDUAL_TIN[:10] + INDIVIDUAL_TIN[11] + INDIVIDUAL_TIN[10]) is not None


@pytest.mark.parametrize(
    ("kpp", "tin"),
    [
        ("773601001", ORGANISATION_TIN),  # Sberbank
        ("7736AB001", ORGANISATION_TIN),  # letters in the reason code (since 2013)
        ("77360Z001", ORGANISATION_TIN),  # one letter, one digit
        ("000000000", ORGANISATION_TIN),  # no check digit: any digits in the format pass
        (None, INDIVIDUAL_TIN),  # an individual has none
        ("", INDIVIDUAL_TIN),  # an empty form field is no KPP
        ("773601001", "12345"),  # a TIN of neither length: only the format is checked, tin_problem says the rest
    ],
)
def test_valid_kpps(kpp: str | None, tin: str) -> None:
    assert kpp_problem(kpp, tin) is None


@pytest.mark.parametrize(
    ("kpp", "tin", "says"),
    [
        (None, ORGANISATION_TIN, "must give its KPP"),
        ("", ORGANISATION_TIN, "must give its KPP"),
        ("773601001", INDIVIDUAL_TIN, "has no KPP"),
        ("77360100", ORGANISATION_TIN, "9 characters"),  # 8
        ("7736010011", ORGANISATION_TIN, "9 characters"),  # 10
        ("7736ab001", ORGANISATION_TIN, "capital Latin"),  # lower case
        ("7736\u0410\u0412001", ORGANISATION_TIN, "capital Latin"),  # Cyrillic А and В, not Latin A and B
        ("A73601001", ORGANISATION_TIN, "4 digits"),  # letter in the tax office code
        ("7736010A1", ORGANISATION_TIN, "3 digits"),  # letter in the last three
        ("7736 01001", ORGANISATION_TIN, "9 characters"),
        ("773601001 ", ORGANISATION_TIN, "9 characters"),
    ],
)
def test_invalid_kpps_say_why(kpp: str | None, tin: str, says: str) -> None:
    problem = kpp_problem(kpp, tin)
    assert problem is not None and says in problem.message
    kind = {"must give its KPP": "kpp_required", "has no KPP": "kpp_not_allowed"}.get(says, "kpp_format")
    assert problem.reason == kind
