"""Configuration maintenance services: activating a code, pure (rules CMS-1..7).

`plan_activation` decides everything about one activation request and returns either an
`ActivationPlan` (what to store and whom to notify) or a `rules.refusal.Refusal` (which request field is
wrong, a stable reason slug, a message for a person, what to choose from in its details' `choices`). The
caller does the I/O: it loads the code, the subscriber's products and valid contracts, stores the plan and
marks the code used.

Two rules are also asked on their own, after the activation: `accompanying_partner` (CMS-7) when the
partner is chosen later, with the same answer as at activation; and `contract_warning` (CMS-6), which is
computed whenever an activation is read rather than stored, so that it is true when it is read: a contract
that arrives later removes it, one that expires or another product that is transferred away brings it
back. It reads only contracts' own read models, so no event has to keep a stored copy up to date.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Literal

from rules.months import Month, Period
from rules.refusal import Refusal, RefusalKind
from services.contracts.domain import ContractSpan, ItsProduct

# rule CMS-5: no maintenance period starts before March 2014.
EARLIEST_START = Month(2014, 3)

CATEGORIES = (1, 2)  # rule CMS-2: first or second

PartnerChoice = Literal["contract", "chosen", "choose-later", "must-choose"]


# ---- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivationCode:
    """An activation sheet's code (CMS-4): for configurations of one category, for a number of months."""

    category: int  # 1 | 2 (CMS-2)
    months: int  # >= 1 (CMS-5: whole months)
    used: bool

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"a maintenance category is 1 or 2 (got {self.category})")
        if self.months < 1:
            raise ValueError(f"an activation code is for at least one month (got {self.months})")


@dataclass(frozen=True)
class Product:
    """One registered product of the subscriber (REG-1)."""

    registration_number: str
    edition: str
    configurations: dict[str, int]  # configuration code -> its maintenance category (CMS-2)
    its_required: bool  # ITS-7: whether it needs a contract at all (not for BASIC)
    purchase_date: date | None  # its free ITS period runs from it (ITS-7)

    def __post_init__(self) -> None:
        for configuration, category in self.configurations.items():
            if category not in CATEGORIES:
                raise ValueError(f"configuration {configuration}: a maintenance category is 1 or 2 (got {category})")

    def its(self, contracts: list[ContractSpan]) -> ItsProduct:
        return ItsProduct.of(
            self.registration_number,
            its_required=self.its_required,
            purchase_date=self.purchase_date,
            contracts=contracts,
        )


# ---- outputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivationPlan:
    configuration: str
    category: int
    period: Period  # start .. start + months - 1 (CMS-5)
    registration_numbers: list[str]  # every subscriber product with this configuration (CMS-3)
    warning: str | None  # CMS-6: months without a valid ITS contract
    partner_id: uuid.UUID | None  # the accompanying partner, to notify (CMS-7)
    # How the partner was decided (CMS-7). "must-choose" is never in a plan: that case is the
    # Refusal with reason "choose-partner"; the value stays in the type for the API's schema.
    partner_choice: PartnerChoice


# ---- rules ----------------------------------------------------------------------------------


def products_with(configuration: str, subscriber_products: list[Product]) -> list[Product]:
    """CMS-3: the subscriber's products that include `configuration`: one activation serves them all."""
    return [p for p in subscriber_products if configuration in p.configurations]


def uncovered_months(period: Period, products: list[Product], contracts: list[ContractSpan]) -> list[Month]:
    """CMS-6, CMS-1: the months of `period`, in order, in which no product of the configuration has its ITS
    condition met: no valid contract lists its registration number (main or additional) and it is not in its
    free period (ITS-7). The same per-product rule as the support status (MON-1)."""
    its = [p.its(contracts) for p in products]
    months = [period.start.plus(i) for i in range(period.months)]
    return [m for m in months if not any(p.coverage(m).covered for p in its)]


def contract_warning(period: Period, products: list[Product], contracts: list[ContractSpan]) -> str | None:
    """CMS-6: a valid ITS contract is needed for the whole period; the warning names the months without one."""
    gaps = uncovered_months(period, products, contracts)
    if not gaps:
        return None
    return (
        f"No ITS contract covers {_month_list(gaps)} of the maintenance period {period.start}..{period.end}: "
        "conclude an ITS contract with a partner so that the maintenance service works."
    )


def plan_activation(
    *,
    code: ActivationCode,
    product: Product,
    configuration: str | None,
    start: Month,
    partner_id: uuid.UUID | None,
    current: Month,
    subscriber_products: list[Product],
    contracts: list[ContractSpan],
) -> ActivationPlan | Refusal:
    """Activate `code` for `product` from `start` (CMS-1..7).

    `current` is today's month in the vendor's zone; `subscriber_products` are all the
    subscriber's registered products; `contracts` its valid ITS contracts on any of them.
    """
    if code.used:
        return _refusal("code", "code-used", "This activation code has already been used.", kind="conflict")

    chosen = _choose_configuration(code, product, configuration)
    if isinstance(chosen, Refusal):
        return chosen

    # rule CMS-5: any time, whole months, not before March 2014 nor before the current month.
    earliest = max(EARLIEST_START, current)
    if start < earliest:
        return _refusal(
            "start",
            "start-too-early",
            f"The maintenance period cannot start before {earliest} "
            f"(not before {EARLIEST_START} and not before the current month, {current}).",
        )
    period = Period(start, start.plus(code.months - 1))

    partner = accompanying_partner(period, contracts, partner_id)
    if isinstance(partner, Refusal):
        return partner
    chosen_partner, partner_choice = partner

    # rule CMS-3: one activation covers all of the subscriber's products with this configuration.
    products = [product]
    products += [
        p for p in products_with(chosen, subscriber_products) if p.registration_number != product.registration_number
    ]

    return ActivationPlan(
        configuration=chosen,
        category=code.category,
        period=period,
        registration_numbers=[p.registration_number for p in products],
        # rule CMS-6: a valid ITS contract is needed for the whole period; without one, succeed and warn.
        warning=contract_warning(period, products, contracts),
        partner_id=chosen_partner,
        partner_choice=partner_choice,
    )


def _choose_configuration(code: ActivationCode, product: Product, configuration: str | None) -> str | Refusal:
    """rule CMS-2, CMS-3: the configuration of `product` the code is for."""
    matching = [c for c, category in product.configurations.items() if category == code.category]
    if not matching:
        included = ", ".join(f"{c} (category {category})" for c, category in product.configurations.items())
        return _refusal(
            "registration_number",
            "category-mismatch",
            f"This code is for configurations of maintenance category {code.category}; "
            f"product {product.registration_number} includes {included}.",
        )
    if configuration is not None:
        # An explicit choice is checked even when only one configuration would fit: never overridden silently.
        if configuration not in product.configurations:
            return _refusal(
                "configuration",
                "configuration-not-in-product",
                f"Product {product.registration_number} does not include configuration {configuration}; "
                f"choose one of: {', '.join(matching)}.",
                choices=matching,
            )
        if product.configurations[configuration] != code.category:
            return _refusal(
                "configuration",
                "category-mismatch",
                f"Configuration {configuration} is of maintenance category {product.configurations[configuration]}, "
                f"this code is for category {code.category}; choose one of: {', '.join(matching)}.",
                choices=matching,
            )
        return configuration
    if len(matching) > 1:
        return _refusal(
            "configuration",
            "choose-configuration",
            f"Product {product.registration_number} includes several configurations of maintenance category "
            f"{code.category}: choose one of: {', '.join(matching)}.",
            choices=matching,
        )
    return matching[0]


def accompanying_partner(
    period: Period, contracts: list[ContractSpan], partner_id: uuid.UUID | None
) -> tuple[uuid.UUID | None, PartnerChoice] | Refusal:
    """rule CMS-7: the partner of the subscriber's contract(s) valid during the period; `partner_id` is the
    subscriber's choice, if any. The one rule for choosing at activation and choosing later."""
    in_period = [c for c in contracts if c.period.start <= period.end and period.start <= c.period.end]
    partners: list[uuid.UUID] = []
    for c in sorted(in_period, key=lambda c: (c.period.start, c.period.end)):
        if c.partner_id not in partners:
            partners.append(c.partner_id)
    if partner_id is not None and partner_id not in partners:
        # Without any contract in the period there is nobody to choose yet: "later" (CMS-7).
        then = f"Choose one of: {', '.join(map(str, partners))}." if partners else "It can be chosen later."
        return _refusal(
            "partner_id",
            "partner-not-accompanying",
            f"The chosen partner does not accompany any of your ITS contracts valid during "
            f"{period.start}..{period.end}. {then}",
            choices=[str(p) for p in partners],
        )
    if len(partners) == 1:
        # One partner: the contract decides (naming that same partner in the request changes nothing).
        return partners[0], "contract"
    if len(partners) > 1:
        if partner_id is None:
            return _refusal(
                "partner_id",
                "choose-partner",
                f"Your ITS contracts valid during {period.start}..{period.end} are accompanied by several "
                f"partners: choose one of: {', '.join(map(str, partners))}.",
                choices=[str(p) for p in partners],
            )
        return partner_id, "chosen"
    return None, "choose-later"  # no valid contract: the partner can be chosen later


def _refusal(
    field: str, reason: str, message: str, choices: list[str] | None = None, kind: RefusalKind = "invalid"
) -> Refusal:
    """A refused activation names the request field to correct and what to choose from (`choices`, maybe none):
    nothing is stored and the code stays unused."""
    return Refusal(reason, message, kind=kind, field=field, details={"choices": choices or []})


def _month_list(months: list[Month]) -> str:
    """2026-11, 2027-01..2027-03: consecutive months as one range."""
    runs: list[tuple[Month, Month]] = []
    for m in months:
        if runs and runs[-1][1].plus(1) == m:
            runs[-1] = (runs[-1][0], m)
        else:
            runs.append((m, m))
    return ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in runs)
