"""SUP-1, who may ask the consulting line and who answers. Pure.

May ask (as downloads, UPD-4): the product registered to the subscriber and active (REG-3); for a user who is not
the owner, the right "access to the ITS information system" (SUB-5); for an edition that needs ITS, the current
month covered by a contract or the free period (ITS-7). Feedback to the vendor is open to every account.

Who answers: the partner accompanying the product's ITS contract valid now; several → the asker chooses one of
them (`partner_id`); none → the vendor's consulting line (operators). Feedback → the vendor.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from rules.coverage import coverage
from rules.months import Month
from rules.refusal import Refusal
from services.support.read_models import Accompanying, Product

ITS_ACCESS = "its_access"
VENDOR_NAME = "Vendor's consulting line"
FEEDBACK_NAME = "Vendor"

SUBSCRIBE_HOW = (
    "Subscribe to ITS for the current month: ask your partner for an ITS contract that lists your product's "
    "registration number (as the main or an additional product). Feedback to the vendor needs no contract."
)


@dataclass(frozen=True)
class Route:
    kind: Literal["partner", "vendor"]
    partner_id: uuid.UUID | None
    name: str


def may_ask(
    product: Product | None,
    *,
    configuration: str | None,
    role: str,
    rights: frozenset[str],
    now: datetime,
    today: date,
) -> Refusal | None:
    """The consulting line for this product, for this member, now (None: allowed)."""
    if product is None:
        return Refusal(
            "registration-number-unknown",
            "the number is not one of your subscriber's registered products",
            "invalid",
            "registration_number",
        )
    if configuration is not None and configuration not in product.configurations:
        return Refusal(
            "configuration-not-in-product",
            f"the product includes {', '.join(product.configurations)}, not {configuration} (REG-6)",
            "invalid",
            "configuration",
            details={"configurations": product.configurations},
        )
    if product.active_from > now:
        return Refusal(
            "registration-pending",
            f"the product's registration takes effect at {product.active_from.isoformat()} (REG-3)",
            "forbidden",
            details={"active_from": product.active_from.isoformat()},
        )
    if role != "owner" and ITS_ACCESS not in rights:
        return Refusal(
            "its-access-right-missing",
            "your subscriber's owner has not given you access to the ITS information system (SUB-5); "
            "feedback to the vendor needs no such right",
            "forbidden",
        )
    month = Month.of(today)
    covered = coverage(
        month,
        its_required=product.its_required,
        purchase_date=product.purchase_date,
        contract_periods=product.contracts,
    )
    if not covered.covered:
        return Refusal(
            "its-contract-required",
            f"the consulting line answers products with an ITS contract valid for {month} (ITS-7)",
            "payment-required",
            details={
                "offer": {
                    "kind": "its-subscription",
                    "how": SUBSCRIBE_HOW,
                    "month": str(month),
                    "registration_numbers": [product.registration_number],
                }
            },
        )
    return None


def route(partners: list[Accompanying], chosen: uuid.UUID | None) -> Route | Refusal:
    """Who answers a consulting question, from the partners accompanying the product now."""
    by_id = {p.partner_id: p for p in partners}
    if chosen is not None:
        if chosen not in by_id:
            return Refusal(
                "partner-not-accompanying",
                "choose one of the partners accompanying this product's ITS contract",
                "invalid",
                "partner_id",
                details={"partners": _choices(partners)},
            )
        return Route("partner", chosen, by_id[chosen].name)
    if not partners:
        return Route("vendor", None, VENDOR_NAME)
    if len(by_id) == 1:
        only = partners[0]
        return Route("partner", only.partner_id, only.name)
    return Refusal(
        "partner-choice-needed",
        "several partners accompany this product's ITS contracts: choose the one to ask (partner_id)",
        "conflict",
        details={"partners": _choices(partners)},
    )


def _choices(partners: list[Accompanying]) -> list[dict[str, str]]:
    seen: dict[uuid.UUID, str] = {}
    for p in partners:
        seen.setdefault(p.partner_id, p.name)
    return [{"id": str(i), "name": n} for i, n in seen.items()]


FEEDBACK_ROUTE = Route("vendor", None, FEEDBACK_NAME)
