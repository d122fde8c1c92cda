"""What the home page tells each person: a customer's products, support, new releases since the last visit and what
ends soon; partner staff's contracts in processing and ending soon; an operator's drafts, publications and failed
deliveries. Each part is asked of its service on its own: a service that is down leaves
its part out (said on the page), never the whole page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar

from aiohttp import web

from services.portal import visits
from services.portal.clients.contracts import Contract
from services.portal.clients.members import Invitation
from services.portal.clients.notifications import Delivery
from services.portal.clients.registration import Registration
from services.portal.clients.support import Question
from services.portal.clients.transport import ServiceDown, ServiceError
from services.portal.clients.updates import ConfigurationEntitlement, Release, ReleaseList, ReleaseSummary
from services.portal.keys import CONTRACTS, IDENTITY, MEMBERS, NOTIFICATIONS, REGISTRATION, SETTINGS, SUPPORT, UPDATES
from services.portal.pages.base import PartnerLoginRequired, as_partner, as_user, session_of
from shared.clock import local_date
from shared.keys import CLOCK, POOL

# Contracts that end within this many days are shown on a customer's home page.
ENDING_WITHIN_DAYS = 60
# How many of the operator's latest drafts, publications and failed deliveries the home page lists.
LATEST = 5
# Of how many of the latest questions home picks the open ones.
RECENT_QUESTIONS = 20

T = TypeVar("T")


@dataclass
class CustomerHome:
    products: list[Registration] = field(default_factory=list)
    support: list[ConfigurationEntitlement] = field(default_factory=list)
    ending: list[Contract] = field(default_factory=list)
    invitations: list[Invitation] = field(default_factory=list)  # pending ones, for the owner
    questions: list[Question] = field(default_factory=list)  # open support questions (SUP-1), the latest few
    # Releases of the subscriber's configurations published since the account's last visit (visits.py), newest
    # first; `last_visit` None: this is the first visit, nothing to compare with.
    new_releases: list[NewRelease] = field(default_factory=list)
    last_visit: str | None = None
    unavailable: list[str] = field(default_factory=list)  # the parts a service could not give now


@dataclass(frozen=True)
class NewRelease:
    configuration: str
    configuration_name: str
    release: ReleaseSummary


@dataclass
class PartnerHome:
    """The cabinet last opened. Its token comes only from asking the password again (a step-up, 15 minutes):
    without a live one, home links the cabinet instead of listing (`open` False)."""

    partner_id: str | None = None
    open: bool = False
    processing: list[Contract] = field(default_factory=list)  # waiting for the next business day (ITS-2)
    ending: list[Contract] = field(default_factory=list)  # within ENDING_WITHIN_DAYS, soonest first
    unavailable: list[str] = field(default_factory=list)


@dataclass
class OperatorHome:
    drafts: list[Release] = field(default_factory=list)
    published: list[Release] = field(default_factory=list)
    failed: list[Delivery] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)


async def full_name(request: web.Request) -> str | None:
    """The person's name to greet them by; None if identity cannot say now (the login is used then)."""
    try:
        return (await as_user(request, request.app[IDENTITY].me)).full_name
    except (ServiceError, ServiceDown):
        return None


async def customer_home(request: web.Request) -> CustomerHome:
    home = CustomerHome()
    session = session_of(request)
    if session is None or session.subscriber_code is None or session.row.account_id is None:
        return home
    products = await _part(request, home.unavailable, "products", request.app[REGISTRATION].registrations)
    entitlements = await _part(request, home.unavailable, "support", request.app[UPDATES].entitlements)
    contracts = await _part(request, home.unavailable, "contracts", request.app[CONTRACTS].contracts)
    # Only the owner sees the subscriber's invitations; anyone else is refused, which is no news for the page.
    members, pending = request.app[MEMBERS], {"state": "pending", "limit": str(LATEST)}  # the latest few
    invitations = await _part(request, [], "invitations", lambda token: members.invitations(token, pending))
    home.products = products or []
    home.support = [e for e in entitlements.items if e.visible] if entitlements is not None else []
    home.ending = ending_soon(
        contracts or [], today=local_date(request.app[CLOCK].now(), request.app[SETTINGS].vendor_zone)
    )
    home.invitations = [i for i in invitations.items if i.state == "pending"] if invitations is not None else []
    support, recent = request.app[SUPPORT], {"limit": str(RECENT_QUESTIONS)}
    questions = await _part(
        request, home.unavailable, "support_questions", lambda token: support.questions(token, recent)
    )
    home.questions = [q for q in questions.items if q.state != "closed"][:LATEST] if questions is not None else []
    previous = await visits.home_shown(request.app[POOL], session.row.account_id, request.app[CLOCK].now())
    if previous is not None and entitlements is not None:
        home.last_visit = previous.isoformat()
        home.new_releases = await _new_releases(request, home, [e.configuration for e in home.support], previous)
    return home


async def _new_releases(
    request: web.Request, home: CustomerHome, configurations: list[str], since: datetime
) -> list[NewRelease]:
    """The releases (not prereleases) of `configurations` published after `since`, newest first."""
    updates, after = request.app[UPDATES], since.isoformat()
    found: list[NewRelease] = []
    missing: list[str] = []
    for code in configurations:

        async def releases(token: str, code: str = code) -> ReleaseList:
            return await updates.releases_of(token, code, published_after=after)

        listed = await _part(request, missing, "new_releases", releases)
        if listed is not None:
            name = listed.configuration_name or code
            found.extend(NewRelease(code, name, r) for r in listed.items if not r.prerelease)
    home.unavailable.extend(missing[:1])
    return sorted(found, key=lambda n: n.release.published_at or "", reverse=True)


async def partner_home(request: web.Request) -> PartnerHome:
    session = session_of(request)
    home = PartnerHome(partner_id=session.partner_id if session is not None else None)
    if home.partner_id is None:
        return home
    contracts = request.app[CONTRACTS]
    queries = {
        "processing": {"state": "processing", "limit": str(LATEST)},
        "ending": {"ending_within_days": str(ENDING_WITHIN_DAYS), "sort": "ending", "limit": str(LATEST)},
    }
    try:
        for part, query in queries.items():

            async def listed(token: str, query: dict[str, str] = query) -> list[Contract]:
                return (await contracts.partner_contracts(token, query)).items

            found = await as_partner(request, home.partner_id, listed)
            setattr(home, part, found)
    except PartnerLoginRequired:  # no live cabinet token: home does not ask for the password
        return PartnerHome(partner_id=home.partner_id)
    except (ServiceError, ServiceDown):
        home.unavailable.append("partner")
    home.open = True
    return home


async def operator_home(request: web.Request) -> OperatorHome:
    home = OperatorHome()
    updates, notifications = request.app[UPDATES], request.app[NOTIFICATIONS]
    latest = str(LATEST)
    drafts = await _part(
        request, home.unavailable, "drafts", lambda token: updates.releases(token, {"state": "draft", "limit": latest})
    )
    published = await _part(
        request,
        home.unavailable,
        "published",
        lambda token: updates.releases(token, {"state": "published", "limit": latest}),
    )
    failed = await _part(
        request,
        home.unavailable,
        "deliveries",
        lambda token: notifications.deliveries(token, {"status": "failed", "limit": latest}),
    )
    home.drafts = drafts.items if drafts is not None else []
    home.published = published.items if published is not None else []
    home.failed = failed.items if failed is not None else []
    return home


def ending_soon(contracts: list[Contract], *, today: date) -> list[Contract]:
    """Active contracts whose last month ends within ENDING_WITHIN_DAYS, soonest first."""
    horizon = today + timedelta(days=ENDING_WITHIN_DAYS)

    def last_day(contract: Contract) -> date:
        year, month = (int(part) for part in contract.period.to.split("-"))
        first_of_next = date(year + month // 12, month % 12 + 1, 1)
        return first_of_next - timedelta(days=1)

    ending = [c for c in contracts if c.state == "active" and today <= last_day(c) <= horizon]
    return sorted(ending, key=last_day)


async def _part(
    request: web.Request, unavailable: list[str], name: str, call: Callable[[str], Awaitable[T]]
) -> T | None:
    """One part of the page, or None (named in `unavailable`) when its service refuses or is down."""
    try:
        return await as_user(request, call)
    except (ServiceError, ServiceDown):
        unavailable.append(name)
        return None
