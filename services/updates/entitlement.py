"""Who may see and download what (UPD-3, UPD-4, ITS-7, SUB-5, REG-3, REG-6): one pure policy.

A subscriber holds a configuration through one or more registered products (a BASIC and a PROF
product may both include it). Pages need the configuration registered and active; a kit download
also needs, for a product that requires ITS (every edition but BASIC, ITS-7), the current month
covered by a contract or by the free period, and for a user who is not the owner the right
"access to the ITS information system" (SUB-5: necessary, not sufficient).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from rules.coverage import coverage, covered_until
from rules.months import Month, Period
from rules.refusal import Refusal

ITS_ACCESS = "its_access"

Reason = Literal[
    "configuration-not-registered",
    "registration-pending",
    "its-access-right-missing",
    "its-contract-required",
    "no-registered-product",
]


@dataclass(frozen=True)
class Holding:
    """One of the subscriber's registered products that includes the configuration."""

    registration_number: str
    product_name: str
    edition: str
    its_required: bool  # ITS-7: False for BASIC editions
    purchase_date: date
    active_from: datetime  # REG-3: access begins here
    contracts: tuple[Period, ...]  # the months its ITS contracts cover (ITS-1)

    def active(self, now: datetime) -> bool:
        return self.active_from <= now

    def covers(self, month: Month) -> bool:
        return coverage(
            month, its_required=True, purchase_date=self.purchase_date, contract_periods=self.contracts
        ).covered


@dataclass(frozen=True)
class Decision:
    """UPD-4's answer: allowed, or the rule's refusal (forbidden, or payment-required for a missing contract)."""

    refusal: Refusal | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    @property
    def reason(self) -> str | None:
        return self.refusal.reason if self.refusal else None

    @property
    def detail(self) -> str | None:
        return self.refusal.message if self.refusal else None

    @classmethod
    def allow(cls) -> Decision:
        return cls()

    @classmethod
    def refuse(cls, reason: Reason, message: str, *, payment_required: bool = False) -> Decision:
        return cls(Refusal(reason, message, "payment-required" if payment_required else "forbidden"))


@dataclass(frozen=True)
class Member:
    """The caller within its subscriber (from the access token)."""

    role: str  # owner | user
    rights: frozenset[str]

    @property
    def may_use_its(self) -> bool:
        return self.role == "owner" or ITS_ACCESS in self.rights


def visible(holdings: list[Holding], now: datetime) -> bool:
    """UPD-3 / REG-6: the release pages of a configuration in an active registered product."""
    return any(h.active(now) for h in holdings)


def support_end(holdings: list[Holding], now: datetime) -> Month | None:
    """The last month of the unbroken coverage that includes this month (ITS-7, as MON-1 answers it: back-to-back
    contracts and the free period count as one), for client programs; None when no product needs a contract or
    none is covered now."""
    month = Month.of(now.date())
    active = [h for h in holdings if h.active(now)]
    if not active or any(not h.its_required for h in active):
        return None
    ends = [
        end
        for h in active
        if (end := covered_until(month, its_required=True, purchase_date=h.purchase_date, contract_periods=h.contracts))
    ]
    return max(ends, default=None)


def download_decision(
    holdings: list[Holding],
    member: Member,
    *,
    now: datetime,
    today: date,
    released_on: date | None = None,
    keep_covered_releases: bool = False,
) -> Decision:
    """UPD-4: may this member download a kit of the configuration these holdings include?

    `today` is the vendor's date (the current month is the vendor's); `released_on` is the release's
    publication date in the vendor's zone, used only by Keygen's alternative (`keep_covered_releases`):
    a release published in a covered month stays downloadable after the coverage ends.
    """
    active = [h for h in holdings if h.active(now)]
    if not active:
        if holdings:
            starts = min(h.active_from for h in holdings)
            return Decision.refuse(
                "registration-pending",
                f"the product's registration takes effect at {starts.isoformat()} (REG-3)",
            )
        return Decision.refuse(
            "configuration-not-registered",
            "the configuration is not in any product registered to your subscriber (REG-6)",
        )
    if not member.may_use_its:
        return Decision.refuse(
            "its-access-right-missing",
            "your subscriber's owner has not given you access to the ITS information system (SUB-5)",
        )
    if any(not h.its_required for h in active):
        return Decision.allow()  # ITS-7: BASIC editions receive updates without a contract
    month = Month.of(today)
    if any(h.covers(month) for h in active):
        return Decision.allow()
    if keep_covered_releases and released_on is not None and any(h.covers(Month.of(released_on)) for h in active):
        return Decision.allow()
    return Decision.refuse(
        "its-contract-required",
        f"downloading updates needs an ITS contract valid for {month} (ITS-7, UPD-4)",
        payment_required=True,
    )


def its_covers(holding: Holding, month: Month) -> bool:
    """DAT-1: ITS itself covers the product in `month` — a contract, or the free period of an edition that has one.

    Not `Holding.covers`: that one grants every product the free period, and `download_decision` lets a product that
    needs no contract through before asking. A BASIC edition has no free period (ITS-7) and "needs no contract" only
    for its updates: it gets exchange rates only through a contract that lists it."""
    purchase = holding.purchase_date if holding.its_required else None
    return coverage(month, its_required=True, purchase_date=purchase, contract_periods=holding.contracts).covered


def rates_decision(holdings: Iterable[Holding], member: Member, *, now: datetime, today: date) -> Decision:
    """DAT-1: may this member's client program receive exchange rates? Any of the subscriber's active registered
    products (REG-3) covered by ITS in the vendor's current month (ITS-7), and the ITS right (SUB-5)."""
    products = {h.registration_number: h for h in holdings}.values()  # a product is held once per configuration
    active = [h for h in products if h.active(now)]
    if not active:
        if products:
            starts = min(h.active_from for h in products)
            return Decision.refuse(
                "registration-pending", f"the product's registration takes effect at {starts.isoformat()} (REG-3)"
            )
        return Decision.refuse(
            "no-registered-product", "exchange rates are for subscribers with a registered product under ITS (DAT-1)"
        )
    if not member.may_use_its:
        return Decision.refuse(
            "its-access-right-missing",
            "your subscriber's owner has not given you access to the ITS information system (SUB-5)",
        )
    month = Month.of(today)
    if any(its_covers(h, month) for h in active):
        return Decision.allow()
    return Decision.refuse(
        "its-contract-required",
        f"exchange rates need an ITS contract valid for {month} (ITS-7, DAT-1)",
        payment_required=True,
    )
