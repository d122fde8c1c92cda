"""What a refused subscriber can do instead: register a product that includes the configuration (REG-6), or
get the current month covered by an ITS contract (UPD-4, ITS-7)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

OFFER_HOW = (
    "Buy a product that includes this configuration from a partner. Register it with the registration "
    "number and PIN from its envelope, or ask the partner to authorise it for your subscriber code."
)
SUBSCRIBE_HOW = (
    "Subscribe to ITS for the current month: ask your partner for an ITS contract that lists your "
    "product's registration number (as the main or an additional product)."
)


class OfferedProduct(BaseModel):
    article: str
    name: str
    edition: str


class Offer(BaseModel):
    """REG-6: how to get a configuration; UPD-4: how to get the current month covered."""

    kind: str  # "register-product" | "its-subscription"
    how: str
    products: list[OfferedProduct] = []
    month: str | None = None
    registration_numbers: list[str] = []


def register_product(products: list[OfferedProduct]) -> Offer:
    """REG-6: the products that include the configuration, and how to register one."""
    return Offer(kind="register-product", how=OFFER_HOW, products=products)


def its_subscription(today: date, registration_numbers: list[str]) -> Offer:
    """UPD-4, ITS-7: a contract for the vendor's current month, listing these products."""
    return Offer(
        kind="its-subscription",
        how=SUBSCRIBE_HOW,
        month=today.strftime("%Y-%m"),
        registration_numbers=registration_numbers,
    )
