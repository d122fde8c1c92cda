"""Contracts' rules, pure: no I/O. Rules ITS-1..7 in docs/rules.md.

The processing moment (ITS-2) is here, on the vendor's production calendar (shared/calendar.py); organisation
data checks (ITS-1, ITS-6) are in
organisation.py, maintenance services (CMS) in maintenance.py, the support status (MON-1) in
support_status.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from rules.coverage import Coverage, coverage, covered_until
from rules.months import Month, Period
from rules.refusal import Refusal
from shared.calendar import ProductionCalendar

# ---- contracts (ITS-1) --------------------------------------------------------------------

CONTRACT_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]{0,49}$")
MAX_ADDITIONAL_NUMBERS = 100
MAX_PERIOD_MONTHS = 60


def period_problems(start: str, end: str, current: Month) -> list[Refusal]:
    """ITS-1: whole months, `from` ≤ `to`, not ended already, at most five years; one refusal per wrong field."""
    refusals: list[Refusal] = []
    months: dict[str, Month] = {}
    for field, text in (("period.from", start), ("period.to", end)):
        try:
            months[field] = Month.parse(text)
        except ValueError as exc:
            refusals.append(Refusal("month_format", str(exc), field=field))
    if refusals:
        return refusals
    first, last = months["period.from"], months["period.to"]
    if last < first:
        refusals.append(Refusal("period_order", f"the period ends ({last}) before it starts ({first})", field="period"))
    elif last < current:
        refusals.append(Refusal("period_ended", f"the period ended before this month ({current})", field="period.to"))
    elif Period(first, last).months > MAX_PERIOD_MONTHS:
        refusals.append(
            Refusal("period_too_long", f"a contract covers at most {MAX_PERIOD_MONTHS} months", field="period")
        )
    return refusals


# ---- the processing moment (ITS-2) ---------------------------------------------------------


def effective_moment(calendar: ProductionCalendar, received_at: datetime, zone: ZoneInfo) -> datetime:
    """Rule ITS-2: a contract received at `received_at` is processed at 00:00 in `zone` of the first business day
    after the local date of receipt."""
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError(f"received_at must be timezone-aware (got {received_at.isoformat()})")
    # The day is the vendor's local day, not UTC's: Saturday 00:01 Moscow is still Friday in UTC.
    local_day = received_at.astimezone(zone).date()
    start = datetime.combine(calendar.next_business_day_after(local_day), time(0, 0), tzinfo=zone)
    # Where a DST change skips midnight, "00:00" does not exist; the round trip gives the first real
    # instant of that day (e.g. 01:00).
    return start.astimezone(UTC).astimezone(zone)


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def expiry_moment(period_to: Month, zone: ZoneInfo) -> datetime:
    """A contract covers its last month whole: it expires at the start of the next month, vendor's time."""
    return start_of_day(period_to.plus(1).first_day, zone)


# ---- Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) -------------------------

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces
# How long a key's first answer is replayed (the draft asks for at least 24 hours).
IDEMPOTENCY_KEPT = timedelta(hours=48)


def fingerprint(body: dict[str, Any]) -> bytes:
    """The request's content, independent of key order and whitespace: "the same request"."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).digest()


# ---- what a subscriber sees (ITS-3, ITS-4, ITS-5, ITS-7) ----------------------------------


@dataclass(frozen=True)
class ContractFacts:
    """One contract as `why_not_listed` needs it."""

    state: Literal["processing", "active", "expired"]
    period: Period
    processing_on: date
    subscriber_code: str | None
    # Each registration number on the contract -> the code of the subscriber it is registered to.
    numbers: dict[str, str | None]


Reason = Literal["listed", "processing", "expired", "product_not_registered", "unknown"]


@dataclass(frozen=True)
class WhyNotListed:
    reason: Reason
    until: date | None = None  # processing: the day it is processed
    ended: date | None = None  # expired: the last day it covered
    register: tuple[str, ...] = ()  # product_not_registered: the numbers to register


def why_not_listed(
    contracts: list[ContractFacts], *, subscriber_code: str, known_number: str | None, current: Month
) -> WhyNotListed:
    """ITS-5 for one contract number, as the caller's subscriber may learn it.

    The caller is told about a contract only if it is theirs: a number on it is registered to
    them, the partner named their subscriber code, or they named a registration number on it
    (they hold the product). Anyone else learns `unknown`: the same as for a contract that does not
    exist, so probing reveals nothing (rule ITS-4).
    """
    answers = [_why(c, subscriber_code, known_number, current) for c in contracts]
    order: list[Reason] = ["listed", "processing", "product_not_registered", "expired", "unknown"]
    return min(answers, key=lambda a: order.index(a.reason), default=WhyNotListed("unknown"))


def _why(c: ContractFacts, subscriber_code: str, known_number: str | None, current: Month) -> WhyNotListed:
    mine = [n for n, owner in c.numbers.items() if owner == subscriber_code]
    # Naming a number proves holding the product only while nobody else has registered it.
    holds = known_number in c.numbers and c.numbers[known_number] in (None, subscriber_code)
    related = bool(mine) or c.subscriber_code == subscriber_code or holds
    if not related:
        return WhyNotListed("unknown")
    if c.state == "expired" or c.period.end < current:
        return WhyNotListed("expired", ended=c.period.end.last_day)
    if c.state == "processing":
        return WhyNotListed("processing", until=c.processing_on)
    if not mine:
        # Only numbers nobody else holds: another subscriber's registration is not told.
        free = tuple(n for n, owner in c.numbers.items() if owner is None)
        return WhyNotListed("product_not_registered", register=free)
    return WhyNotListed("listed")


@dataclass(frozen=True)
class ContractSpan:
    """A processed ITS contract as the coverage rules see it (ITS-7, CMS-6, CMS-7, MON-1)."""

    contract_id: uuid.UUID
    partner_id: uuid.UUID
    period: Period
    registration_numbers: frozenset[str]  # main and additional (ITS-1)


@dataclass(frozen=True)
class ItsProduct:
    """One registered product as ITS-7 sees it: the one definition of "its ITS condition holds in a month",
    shared by the coverage answer (ITS-7), the support status (MON-1) and the maintenance warning (CMS-1,
    CMS-6), so that they cannot disagree about a product."""

    registration_number: str
    its_required: bool  # ITS-7: False for BASIC editions (the catalogue may say otherwise for a product)
    purchase_date: date | None  # the free period runs from it (ITS-7)
    contracts: tuple[ContractSpan, ...]  # valid contracts listing this registration number

    @classmethod
    def of(
        cls, registration_number: str, *, its_required: bool, purchase_date: date | None, contracts: list[ContractSpan]
    ) -> ItsProduct:
        """The product with the contracts that list its number, main or additional: only those cover it."""
        listing = tuple(c for c in contracts if registration_number in c.registration_numbers)
        return cls(registration_number, its_required, purchase_date, listing)

    def coverage(self, month: Month) -> Coverage:
        return coverage(
            month,
            its_required=self.its_required,
            purchase_date=self.purchase_date,
            contract_periods=(c.period for c in self.contracts),
        )

    def covered_until(self, month: Month) -> Month | None:
        return covered_until(
            month,
            its_required=self.its_required,
            purchase_date=self.purchase_date,
            contract_periods=(c.period for c in self.contracts),
        )


@dataclass(frozen=True)
class PostedContract:
    """The contract as the partner posted it."""

    number: str
    subscriber_code: str | None
    org_name: str
    tin: str
    kpp: str | None
    main_number: str
    additional_numbers: list[str]
    period_from: str
    period_to: str
    kind: str


# ---- a partner's list ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PartnerListing:
    """What a partner's list shows: the search, the filters and the order (partner_api.py's query)."""

    q: str | None = None  # contract or registration number, organisation name or TIN, subscriber code
    state: str | None = None
    ending_by: datetime | None = None  # not expired, and its period ends after `now` and by this moment
    configuration: str | None = None  # a contract listing a number of a product of this configuration
    sort: str = "received"  # "received": newest received first; "ending": ending soonest first
    now: datetime | None = None
