"""The entitlement read model (registration's and contracts' events) and what one caller may do with it.

Every request of a subscriber's user asks "which configurations does my subscriber hold, through
which products, covered when?". The answer is one query per subscriber, kept in a bounded
per-process cache; the consumers announce a change with `pg_notify(CHANNEL, subscriber_id)` in the
transaction that makes it, and every replica drops that subscriber's entry when it hears it. A
replica that lost its listening connection still forgets everything within CACHE_SECONDS.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from rules.months import Period
from services.updates import entitlement
from services.updates.entitlement import Decision, Holding, Member
from services.updates.settings import UpdatesSettings
from shared.app import CLOCK, POOL, SETTINGS
from shared.auth import Caller, SubscriberClaim
from shared.db import Connection
from shared.problems import Problem

CHANNEL = "updates_entitlement"
CACHE_SECONDS = 30.0
CACHE_SIZE = 100_000

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


class ConfigurationNotRegistered(Problem):
    status, slug, title = 403, "configuration-not-registered", "The configuration is not registered to you"


class DownloadRefused(Problem):
    """UPD-4 refusals: status and slug come from the policy's Decision."""

    title = "You cannot download this kit"

    def __init__(self, decision: Decision, offer: Offer | None) -> None:
        self.status = decision.status
        self.slug = decision.reason or "forbidden"
        extra: dict[str, Any] = {"reason": decision.reason}
        if offer is not None:
            extra["offer"] = offer.model_dump()
        super().__init__(decision.detail, **extra)


# ---- SQL (consumers write, requests read) ---------------------------------------------------


async def holdings_of(conn: Connection, subscriber_id: uuid.UUID) -> dict[str, list[Holding]]:
    """The subscriber's registered products per configuration, with their contracts' periods."""
    rows = await conn.fetch(
        "SELECT p.registration_number, p.product_name, p.edition, p.its_required, p.purchase_date, "
        "p.active_from, p.configurations, "
        "coalesce(array_agg(c.period_from || ':' || c.period_to) FILTER (WHERE c.contract_id IS NOT NULL), "
        "'{}') AS periods "
        "FROM registered_products p LEFT JOIN contract_coverage c USING (registration_number) "
        "WHERE p.subscriber_id = $1 GROUP BY p.registration_number",
        subscriber_id,
    )
    result: dict[str, list[Holding]] = {}
    for row in rows:
        periods = tuple(Period.parse(*span.split(":")) for span in row["periods"])
        holding = Holding(
            registration_number=row["registration_number"],
            product_name=row["product_name"],
            edition=row["edition"],
            its_required=row["its_required"],
            purchase_date=row["purchase_date"],
            active_from=row["active_from"],
            contracts=periods,
        )
        for configuration in row["configurations"]:
            result.setdefault(configuration, []).append(holding)
    return result


@dataclass(frozen=True)
class RegisteredProduct:
    registration_number: str
    subscriber_id: uuid.UUID
    subscriber_code: str
    article: str
    product_name: str
    edition: str
    configurations: list[str]
    its_required: bool
    purchase_date: date
    active_from: datetime


async def save_registered_product(conn: Connection, p: RegisteredProduct, occurred_at: datetime) -> None:
    """Upsert by number; a transfer moves it (both subscribers' caches are dropped). An event older than
    what is stored (a redelivery overtaken by a transfer) changes nothing."""
    previous = await conn.fetchval(
        "SELECT subscriber_id FROM registered_products WHERE registration_number = $1 FOR UPDATE",
        p.registration_number,
    )
    await conn.execute(
        "INSERT INTO registered_products (registration_number, subscriber_id, subscriber_code, article, "
        "product_name, edition, configurations, its_required, purchase_date, active_from, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
        "ON CONFLICT (registration_number) DO UPDATE SET subscriber_id = $2, subscriber_code = $3, article = $4, "
        "product_name = $5, edition = $6, configurations = $7, its_required = $8, purchase_date = $9, "
        "active_from = $10, updated_at = $11 WHERE registered_products.updated_at <= $11",
        p.registration_number,
        p.subscriber_id,
        p.subscriber_code,
        p.article,
        p.product_name,
        p.edition,
        p.configurations,
        p.its_required,
        p.purchase_date,
        p.active_from,
        occurred_at,
    )
    await announce(conn, p.subscriber_id, previous)


async def cover(conn: Connection, contract_id: uuid.UUID, numbers: list[str], period: Period) -> None:
    """A contract's numbers are covered for its months, unless it expired already (events may overtake)."""
    if await conn.fetchval("SELECT 1 FROM expired_contracts WHERE contract_id = $1", contract_id):
        return
    await conn.executemany(
        "INSERT INTO contract_coverage (contract_id, registration_number, period_from, period_to) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (contract_id, registration_number) "
        "DO UPDATE SET period_from = $3, period_to = $4",
        [(contract_id, number, str(period.start), str(period.end)) for number in numbers],
    )
    await announce_numbers(conn, numbers)


async def uncover(conn: Connection, contract_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO expired_contracts (contract_id, expired_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        contract_id,
        at,
    )
    numbers = await conn.fetch(
        "DELETE FROM contract_coverage WHERE contract_id = $1 RETURNING registration_number", contract_id
    )
    await announce_numbers(conn, [row["registration_number"] for row in numbers])


async def announce(conn: Connection, *subscriber_ids: uuid.UUID | None) -> None:
    """Tell every replica (on commit) that these subscribers' entitlements changed."""
    for subscriber_id in {s for s in subscriber_ids if s is not None}:
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(subscriber_id))


async def announce_numbers(conn: Connection, numbers: Sequence[str]) -> None:
    if not numbers:
        return
    ids = await conn.fetch(
        "SELECT DISTINCT subscriber_id FROM registered_products WHERE registration_number = ANY($1::text[])",
        list(numbers),
    )
    await announce(conn, *(row["subscriber_id"] for row in ids))


async def offered_products(conn: Connection, configuration: str) -> list[OfferedProduct]:
    rows = await conn.fetch(
        "SELECT article, name, edition FROM products WHERE $1 = ANY(configurations) ORDER BY name", configuration
    )
    return [OfferedProduct(article=r["article"], name=r["name"], edition=r["edition"]) for r in rows]


# ---- the per-process cache -----------------------------------------------------------------


class EntitlementCache:
    """Holdings per subscriber, bounded (LRU) and short-lived; dropped on a change notification."""

    def __init__(self, size: int = CACHE_SIZE, seconds: float = CACHE_SECONDS) -> None:
        self.size = size
        self.seconds = seconds
        self._entries: OrderedDict[uuid.UUID, tuple[float, dict[str, list[Holding]]]] = OrderedDict()
        self._generation = 0  # counts change notifications: a load overtaken by one is not kept

    async def get(self, conn_source: Any, subscriber_id: uuid.UUID) -> dict[str, list[Holding]]:
        entry = self._entries.get(subscriber_id)
        if entry is not None and time.monotonic() - entry[0] < self.seconds:
            self._entries.move_to_end(subscriber_id)
            return entry[1]
        loaded_at, generation = time.monotonic(), self._generation
        async with conn_source.acquire() as conn:
            holdings = await holdings_of(conn, subscriber_id)
        # A change announced while the query ran may not be in what it read: answer with it, keep nothing.
        if generation == self._generation:
            self._entries[subscriber_id] = (loaded_at, holdings)
            self._entries.move_to_end(subscriber_id)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return holdings

    def forget(self, subscriber_id: uuid.UUID | None = None) -> None:
        self._generation += 1
        if subscriber_id is None:
            self._entries.clear()
        else:
            self._entries.pop(subscriber_id, None)

    def forget_payload(self, payload: str | None) -> None:
        """A change notification: one subscriber's id, or None (listening was interrupted): everyone."""
        try:
            self.forget(uuid.UUID(payload) if payload is not None else None)
        except ValueError:
            self.forget()


CACHE = web.AppKey("entitlement_cache", EntitlementCache)


def setup_entitlements(app: web.Application) -> None:
    app[CACHE] = EntitlementCache()


# ---- what one caller may do ------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriberAccess:
    """The caller's subscriber's holdings at this moment, and the rules applied to them."""

    subscriber: SubscriberClaim
    member: Member
    holdings: dict[str, list[Holding]]
    now: datetime
    today: date  # the vendor's
    keep_covered_releases: bool
    request: web.Request

    @property
    def configurations(self) -> list[str]:
        return sorted(c for c, hs in self.holdings.items() if entitlement.visible(hs, self.now))

    def visible(self, configuration: str) -> bool:
        return entitlement.visible(self.holdings.get(configuration, []), self.now)

    @property
    def any_visible(self) -> bool:
        return bool(self.configurations)

    async def require_visible(self, configuration: str) -> None:
        """UPD-3 / REG-6: the pages of a configuration the subscriber holds; otherwise 403 with an offer."""
        if self.visible(configuration):
            return
        async with self.request.app[POOL].acquire() as conn:
            products = await offered_products(conn, configuration)
        raise ConfigurationNotRegistered(
            f"your subscriber has no active registered product that includes {configuration} (REG-6)",
            offer=Offer(kind="register-product", how=OFFER_HOW, products=products).model_dump(),
        )

    def download(self, configuration: str, published_at: datetime | None = None) -> Decision:
        """UPD-4 for one kit of `configuration`."""
        settings = self.request.app[SETTINGS]
        assert isinstance(settings, UpdatesSettings)
        released_on = published_at.astimezone(settings.vendor_zone).date() if published_at else None
        return entitlement.download_decision(
            self.holdings.get(configuration, []),
            self.member,
            now=self.now,
            today=self.today,
            released_on=released_on,
            keep_covered_releases=self.keep_covered_releases,
        )

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
        if decision.allowed:
            return
        raise DownloadRefused(decision, await self.offer(configuration, decision))

    async def offer(self, configuration: str | None, decision: Decision) -> Offer | None:
        if decision.reason == "its-contract-required":
            holdings = self.holdings.get(configuration, []) if configuration else []
            numbers = sorted({h.registration_number for h in holdings if h.active(self.now)})
            return Offer(
                kind="its-subscription",
                how=SUBSCRIBE_HOW,
                month=self.today.strftime("%Y-%m"),
                registration_numbers=numbers,
            )
        if decision.reason == "configuration-not-registered" and configuration:
            async with self.request.app[POOL].acquire() as conn:
                products = await offered_products(conn, configuration)
            return Offer(kind="register-product", how=OFFER_HOW, products=products)
        return None

    def support_end(self, configuration: str) -> str | None:
        end = entitlement.support_end(self.holdings.get(configuration, []), self.now)
        return str(end) if end else None


async def subscriber_access(request: web.Request, caller: Caller) -> SubscriberAccess:
    """The access of the caller's subscriber (SUB-7: the token's); a token for no subscriber is refused."""
    subscriber = caller.require_subscriber()
    settings = request.app[SETTINGS]
    assert isinstance(settings, UpdatesSettings)
    holdings = await request.app[CACHE].get(request.app[POOL], subscriber.id)
    now = request.app[CLOCK].now()
    return SubscriberAccess(
        subscriber=subscriber,
        member=Member(subscriber.role, subscriber.rights),
        holdings=holdings,
        now=now,
        today=now.astimezone(settings.vendor_zone).date(),
        keep_covered_releases=settings.keep_covered_releases,
        request=request,
    )
