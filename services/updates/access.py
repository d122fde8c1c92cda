"""What one subscriber's user may see and download now (UPD-3, UPD-4, SUB-5, SUB-7): the entitlement policy
(entitlement.py) applied to the subscriber's holdings, with the offer that says what to do when refused.

Built from plain facts (the token's subscriber claim, the holdings, the time and the vendor's zone), so that
handlers, jobs and tests alike can ask it; it knows no HTTP. A refusal is raised as `NotHeld` (the
configuration's pages, UPD-3) or `DownloadDenied` (a kit, UPD-4), each carrying its offer in the details.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from rules.refusal import Refusal, Refused
from services.updates import entitlement, offers
from services.updates.entitlement import Decision, Holding, Member
from services.updates.entitlement_cache import EntitlementCache
from services.updates.entitlement_store import offered_products
from services.updates.offers import Offer
from shared.auth import SubscriberClaim
from shared.db import Pool


class NotHeld(Refused):
    """UPD-3 / REG-6: the pages of a configuration are for subscribers that hold it."""


class DownloadDenied(Refused):
    """UPD-4: the kit may not be downloaded by this user now (402 or 403 at the HTTP edge)."""


class RatesDenied(Refused):
    """DAT-1: this user's client program may not receive exchange rates now (402 or 403, with the offer)."""


@dataclass(frozen=True)
class SubscriberAccess:
    """The caller's subscriber's holdings at this moment, and the rules applied to them."""

    subscriber: SubscriberClaim
    member: Member
    holdings: dict[str, list[Holding]]
    now: datetime
    vendor_zone: ZoneInfo  # "the current month" is the vendor's (UPD-4)
    keep_covered_releases: bool  # Keygen's alternative to the current month (settings)
    pool: Pool  # offers name the products that include a configuration
    # Each configuration's UPD-4 decision at this moment (a plan asks it for its steps, its platform kits and
    # its download status), worked out once.
    _decisions: dict[str, Decision] = field(default_factory=dict, init=False, compare=False, repr=False)

    @functools.cached_property
    def today(self) -> date:
        return self.now.astimezone(self.vendor_zone).date()

    @property
    def configurations(self) -> list[str]:
        return sorted(c for c, hs in self.holdings.items() if entitlement.visible(hs, self.now))

    def visible(self, configuration: str) -> bool:
        return entitlement.visible(self.holdings.get(configuration, []), self.now)

    @property
    def any_visible(self) -> bool:
        return bool(self.configurations)

    async def require_visible(self, configuration: str) -> None:
        """UPD-3 / REG-6: the pages of a configuration the subscriber holds; otherwise refused with an offer."""
        if self.visible(configuration):
            return
        offer = await self._register_product(configuration)
        raise NotHeld(
            Refusal(
                "configuration-not-registered",
                f"your subscriber has no active registered product that includes {configuration} (REG-6)",
                "forbidden",
                details={"offer": offer.model_dump()},
            )
        )

    def require_platform(self) -> None:
        """UPD-2: the platform's pages are for subscribers that hold at least one configuration."""
        if not self.any_visible:
            raise Refused(
                Refusal(
                    "no-registered-product",
                    "the platform's pages are for subscribers with an active registered product: register one first",
                    "forbidden",
                )
            )

    def download(self, configuration: str, published_at: datetime | None = None) -> Decision:
        """UPD-4 for one kit of `configuration`."""
        if published_at is None and (decision := self._decisions.get(configuration)) is not None:
            return decision
        released_on = published_at.astimezone(self.vendor_zone).date() if published_at else None
        decision = entitlement.download_decision(
            self.holdings.get(configuration, []),
            self.member,
            now=self.now,
            today=self.today,
            released_on=released_on,
            keep_covered_releases=self.keep_covered_releases,
        )
        if published_at is None:
            self._decisions[configuration] = decision
        return decision

    def download_any(self) -> Decision:
        """Platform kits: allowed through any configuration the subscriber may download (UPD-2, UPD-4)."""
        decisions = [self.download(c) for c in self.holdings]
        allowed = next((d for d in decisions if d.allowed), None)
        if allowed is not None:
            return allowed
        return (
            decisions[0]
            if decisions
            else entitlement.download_decision([], self.member, now=self.now, today=self.today)
        )

    async def require_download(self, configuration: str | None, published_at: datetime | None = None) -> None:
        """Raise the refusal with its offer (REG-6 products, or the current month's subscription)."""
        decision = self.download(configuration, published_at) if configuration else self.download_any()
        if decision.refusal is None:
            return
        offer = await self.offer(configuration, decision)
        details = {"offer": offer.model_dump()} if offer is not None else {}
        raise DownloadDenied(replace(decision.refusal, details=details))

    async def offer(self, configuration: str | None, decision: Decision) -> Offer | None:
        if decision.reason == "its-contract-required":
            holdings = self.holdings.get(configuration, []) if configuration else []
            numbers = sorted({h.registration_number for h in holdings if h.active(self.now)})
            return offers.its_subscription(self.today, numbers)
        if decision.reason == "configuration-not-registered" and configuration:
            return await self._register_product(configuration)
        return None

    async def _register_product(self, configuration: str) -> Offer:
        async with self.pool.acquire() as conn:
            return offers.register_product(await offered_products(conn, configuration))

    def rates(self) -> Decision:
        """DAT-1 over every product the subscriber holds, whatever its configurations."""
        held = [h for hs in self.holdings.values() for h in hs]
        return entitlement.rates_decision(held, self.member, now=self.now, today=self.today)

    def require_rates(self) -> None:
        """DAT-1: raise the refusal, with the current month's subscription for the active products when ITS is what
        is missing (the offer of UPD-4)."""
        decision = self.rates()
        if decision.refusal is None:
            return
        details = {}
        if decision.reason == "its-contract-required":
            numbers = sorted({h.registration_number for hs in self.holdings.values() for h in hs if h.active(self.now)})
            details = {"offer": offers.its_subscription(self.today, numbers).model_dump()}
        raise RatesDenied(replace(decision.refusal, details=details))

    def support_end(self, configuration: str) -> str | None:
        end = entitlement.support_end(self.holdings.get(configuration, []), self.now)
        return str(end) if end else None


async def subscriber_access(
    pool: Pool,
    cache: EntitlementCache,
    subscriber: SubscriberClaim,
    *,
    now: datetime,
    vendor_zone: ZoneInfo,
    keep_covered_releases: bool,
) -> SubscriberAccess:
    """The access of a subscriber's user (SUB-7: the subscriber of the token) at `now`."""
    return SubscriberAccess(
        subscriber=subscriber,
        member=Member(subscriber.role, subscriber.rights),
        holdings=await cache.holdings(pool, subscriber.id),
        now=now,
        vendor_zone=vendor_zone,
        keep_covered_releases=keep_covered_releases,
        pool=pool,
    )
