"""schemathesis hooks (loaded by the CLI through SCHEMATHESIS_HOOKS): values for the string formats our documents
name where a check digit is part of the format, so generated valid data is valid (and invalid data stays a
negative case of the pattern)."""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

from services.registration import domain


def _ean13(first12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


def _registration_number(first10: str) -> str:
    return first10 + domain.luhn_digit(first10)


# Addresses at domains e-mail can reach: the services refuse special-use names (`.test`, `.invalid`, `localhost`,
# as email-validator does), which `format: email` alone does not say.
schemathesis.openapi.format(
    "email",
    st.builds(
        "{}@{}".format,
        st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,20}[a-z0-9]\Z"),
        st.sampled_from(["example.com", "example.org", "mail.example.net"]),
    ),
)
schemathesis.openapi.format("ean-13", st.from_regex(r"\A[0-9]{12}\Z").map(_ean13))
schemathesis.openapi.format("registration-number", st.from_regex(r"\A[1-9][0-9]{9}\Z").map(_registration_number))
