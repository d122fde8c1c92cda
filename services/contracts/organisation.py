"""Organisation data on an ITS contract: TIN (ИНН) and KPP (КПП) checks, pure (rules ITS-1, ITS-6).

Each check returns None when the value is fine, else a refusal of the field: a stable reason for programs (the
portal says it in the user's language) and one message for a person: the partner registering the
contract (ITS-1) or correcting it (ITS-6) reads it next to the field.
"""

from __future__ import annotations

import re

from rules.refusal import Refusal


def _refused(field: str, reason: str, message: str) -> Refusal:
    return Refusal(reason, message, field=field)


# Check-digit weights of the Russian TIN (ИНН).
_TIN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)  # an organisation: 10th digit
_TIN12_WEIGHTS_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)  # an individual: 11th digit
_TIN12_WEIGHTS_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)  # an individual: 12th digit

_DIGITS = re.compile(r"^[0-9]+$")  # ASCII only: str.isdigit() would accept "٣" or "²"

# KPP: 4 digits (tax office), 2 characters (reason: digits, or capital Latin A-Z since 2013), 3 digits.
# A KPP has no check digit: its format is all that can be checked here.
_KPP = re.compile(r"^[0-9]{4}[0-9A-Z]{2}[0-9]{3}$")


def _check_digit(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def tin_problem(tin: str, field: str = "tin") -> Refusal | None:
    """None for a valid TIN: 10 digits (an organisation) or 12 (an individual), check digits right."""
    if not _DIGITS.fullmatch(tin):
        return _refused(
            field, "tin_not_digits", "A TIN consists of digits only: 10 for an organisation, 12 for an individual."
        )
    if len(tin) == 10:
        if _check_digit(tin, _TIN10_WEIGHTS) != int(tin[9]):
            return _refused(
                field,
                "tin_check_digit",
                "This TIN's check digit (the 10th) is wrong: please check the number for typos.",
            )
        return None
    if len(tin) == 12:
        if _check_digit(tin, _TIN12_WEIGHTS_11) != int(tin[10]):
            return _refused(
                field,
                "tin_check_digit",
                "This TIN's first check digit (the 11th) is wrong: please check the number for typos.",
            )
        if _check_digit(tin, _TIN12_WEIGHTS_12) != int(tin[11]):
            return _refused(
                field,
                "tin_check_digit",
                "This TIN's second check digit (the 12th) is wrong: please check the number for typos.",
            )
        return None
    return _refused(
        field, "tin_length", f"A TIN has 10 digits (an organisation) or 12 (an individual), not {len(tin)}."
    )


def kpp_problem(kpp: str | None, tin: str, field: str = "kpp") -> Refusal | None:
    """None when the KPP fits the TIN: required for an organisation, absent for an individual.

    Only the TIN's length matters here (10: organisation, 12: individual); whether the TIN itself
    is valid is `tin_problem`'s answer. An empty string counts as no KPP (an empty form field).
    """
    if not kpp:
        if len(tin) == 10:
            return _refused(
                field, "kpp_required", "An organisation (10-digit TIN) must give its KPP: 9 characters, e.g. 773601001."
            )
        return None
    if len(tin) == 12:
        return _refused(field, "kpp_not_allowed", "An individual (12-digit TIN) has no KPP: leave it empty.")
    if not _KPP.fullmatch(kpp):
        return _refused(
            field,
            "kpp_format",
            "A KPP is 9 characters: 4 digits (tax office), 2 digits or capital Latin letters (reason), "
            "3 digits, e.g. 773601001 or 7736AB001.",
        )
    return None
