"""Support status for client programs: "is this product supported?", pure (rule MON-1).

One status per condition (registration REG-*, the configuration on the product REG-6, ITS contract
ITS-7, maintenance service CMS-1), conditions that do not apply left out (None), an overall verdict, the
dates and the partner to contact. Whether the product's ITS condition holds is `domain.ItsProduct`, the
rule the maintenance warning (CMS-6) uses too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Literal

from rules.months import Month, Period
from services.contracts.domain import ItsProduct

# rule MON-1: WARNING when the coverage ends within this many days. Our reading: count the days
# from today to the last covered day (the last day of the last covered month); 30 or fewer is
# "within 30 days" (WARNING), 31 or more is OK. E.g. today 2026-12-01, covered through 2026-12-31:
# 30 days, WARNING; today 2026-11-30, covered through 2026-12-31: 31 days, OK.
WARNING_DAYS = 30

Registration = Literal["REGISTERED", "NOT_REGISTERED"]
Configuration = Literal["INCLUDED", "NOT_INCLUDED"]
ItsContract = Literal["OK", "WARNING", "NO_CONTRACT"]
MaintenanceService = Literal["OK", "WARNING", "NO_ACTIVATIONS"]
Overall = Literal["OK", "WARNING", "NOT_COMPLIED"]
CoveredBy = Literal["contract", "free_period"]


@dataclass(frozen=True)
class MaintenanceSpan:
    """An activated maintenance service (CMS-3) of the subscriber for the asked configuration."""

    activation_id: uuid.UUID
    configuration: str
    period: Period
    partner_id: uuid.UUID | None  # None: to be chosen later (CMS-7)


@dataclass(frozen=True)
class SupportStatus:
    registration: Registration
    overall: Overall
    configuration: Configuration | None = None  # None: left out (not registered)
    its_contract: ItsContract | None = None  # None: left out (BASIC, or not registered)
    its_covered_by: CoveredBy | None = None  # what covers today's month
    its_until: date | None = None  # the last covered day, back-to-back periods counted as one
    maintenance_service: MaintenanceService | None = None  # None: left out
    maintenance_until: date | None = None
    partner_id: uuid.UUID | None = None  # whom to contact


def support_status(
    *,
    product: ItsProduct | None,
    configuration_included: bool,
    configuration_category: int | None,
    activations: list[MaintenanceSpan],
    today: date,
) -> SupportStatus:
    """rule MON-1 for one registration number and configuration, on `today` (the vendor's date).

    `product`: the number with its ITS facts, None when it is not registered (and active) to the caller's
    subscriber. `configuration_included`: the product includes the asked configuration (REG-6).
    `configuration_category`: that configuration's maintenance category, None when unknown (the condition
    is left out). `activations`: the subscriber's maintenance activations of the asked configuration
    (CMS-3: they cover every product of the subscriber with that configuration).
    """
    if product is None:
        # Nothing else is told about a number that is not the caller's (not even its partner).
        return SupportStatus(registration="NOT_REGISTERED", overall="NOT_COMPLIED")

    month = Month.of(today)
    # rule ITS-7: products that need no contract (BASIC) have neither condition (our reading of MON-1).
    needs_contract = product.its_required

    its_contract: ItsContract | None = None
    its_covered_by: CoveredBy | None = None
    its_until: date | None = None
    if needs_contract:
        until = product.covered_until(month)
        if until is None:
            its_contract = "NO_CONTRACT"
        else:
            its_until = until.last_day
            its_contract = "WARNING" if _ends_soon(its_until, today) else "OK"
            by = product.coverage(month).by  # a paid contract wins over the free period covering today
            its_covered_by = "contract" if by == "contract" else "free_period"

    # rule REG-6: a product runs only the configurations it includes; asked about another one, the answer
    # is that it does not include it, never that it is supported. Its maintenance is then not a question.
    maintenance: MaintenanceService | None = None
    maintenance_until: date | None = None
    if needs_contract and configuration_included and configuration_category is not None:
        maintenance_until = _covered_until([a.period for a in activations], month)
        if maintenance_until is None:
            maintenance = "NO_ACTIVATIONS"
        else:
            maintenance = "WARNING" if _ends_soon(maintenance_until, today) else "OK"

    statuses = {its_contract, maintenance}
    overall: Overall = "OK"
    if not configuration_included or statuses & {"NO_CONTRACT", "NO_ACTIVATIONS"}:
        overall = "NOT_COMPLIED"
    elif "WARNING" in statuses:
        overall = "WARNING"

    return SupportStatus(
        registration="REGISTERED",
        overall=overall,
        configuration="INCLUDED" if configuration_included else "NOT_INCLUDED",
        its_contract=its_contract,
        its_covered_by=its_covered_by,
        its_until=its_until,
        maintenance_service=maintenance,
        maintenance_until=maintenance_until,
        partner_id=_partner_to_contact(month, product, activations if configuration_included else []),
    )


def _covered_until(periods: list[Period], month: Month) -> date | None:
    """The last day of the continuous maintenance that includes `month`; None if `month` is not covered.

    Overlapping and back-to-back periods are one: 2026-01..2026-06 and 2026-07..2026-12 run through 2026-12-31.
    """
    covering = [p.end for p in periods if month in p]
    if not covering:
        return None
    end = max(covering)
    while True:
        following = [p.end for p in periods if p.start <= end.plus(1) and end < p.end]
        if not following:
            return end.last_day
        end = max(following)


def _ends_soon(until: date, today: date) -> bool:
    return (until - today).days <= WARNING_DAYS  # see WARNING_DAYS for the boundary


def _partner_to_contact(month: Month, product: ItsProduct, activations: list[MaintenanceSpan]) -> uuid.UUID | None:
    """The partner of the contract covering today (latest ending), else of the activation covering today."""
    covering_contracts = [c for c in product.contracts if month in c.period]
    if covering_contracts:
        return max(covering_contracts, key=lambda c: c.period.end).partner_id
    covering_activations = [a for a in activations if month in a.period and a.partner_id is not None]
    if covering_activations:
        return max(covering_activations, key=lambda a: a.period.end).partner_id
    return None
