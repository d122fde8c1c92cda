"""Sample events the notifications tests (unit and integration) both send."""

from __future__ import annotations

from shared.events.registration import AuthorisedProduct


def authorised_products(accounting_name: str = "1C:Accounting PROF") -> list[AuthorisedProduct]:
    """REG-5: the two products of a partner's letter: an Accounting PROF for two configurations and a Trade
    BASIC; `accounting_name` may carry markup, to see it escaped."""
    return [
        AuthorisedProduct(
            registration_number="12345678903",
            product_name=accounting_name,
            edition="PROF",
            configurations=["Accounting", "Payroll"],
        ),
        AuthorisedProduct(
            registration_number="98765432106",
            product_name="1C:Trade BASIC",
            edition="BASIC",
            configurations=["Trade"],
        ),
    ]
