"""Where to buy a product or ITS: the accompanying partner, named with its contacts wherever the portal offers to buy
or extend (a release's offer, Software, Contracts, Help), or, when the subscriber has none, the list of the vendor's
active partners (`/partners`, from identity's partner directory)."""

from __future__ import annotations

from collections.abc import Collection

from aiohttp import web

from services.portal.clients.contracts import Contract
from services.portal.clients.identity import DirectoryPartner
from services.portal.clients.transport import ServiceDown, ServiceError
from services.portal.clients.updates import Offer
from services.portal.keys import CONTRACTS, IDENTITY
from services.portal.pages.base import as_user, logged_in, render, session_of

routes = web.RouteTableDef()

DIRECTORY_PAGE = "/partners"


def latest_contract(contracts: list[Contract], numbers: Collection[str] | None) -> Contract | None:
    """The contract that ends last (then the one processed last) among those listing any of `numbers` (None: all)."""
    mine = [
        c
        for c in contracts
        if numbers is None or {c.main_registration_number, *c.additional_registration_numbers} & set(numbers)
    ]
    return max(mine, key=lambda c: (c.period.to, c.processing_on), default=None)


async def accompanying_partner(
    request: web.Request, numbers: Collection[str] | None = None, *, contracts: list[Contract] | None = None
) -> DirectoryPartner | None:
    """The partner of the subscriber's latest contract for these products (None: for any), with its contacts; None
    when there is no such contract, the partner is no longer active, or a service cannot say now (the page then
    links the list of partners, which is never wrong). `contracts`: the subscriber's, when the page has them."""
    session = session_of(request)
    if session is None or session.tokens is None or session.subscriber_code is None:
        return None
    # The page's own call has refreshed the token if it needed to: this addition never refreshes (nor ends the
    # session); whatever goes wrong only leaves the list of partners in its place.
    token = session.tokens.access
    try:
        if contracts is None:
            contracts = await request.app[CONTRACTS].contracts(token)
        contract = latest_contract(contracts, numbers)
        if contract is None:
            return None
        return await request.app[IDENTITY].directory_partner(token, contract.partner_id)
    except (ServiceError, ServiceDown):  # a 401 (Unauthenticated) too
        return None


async def offer_partner(request: web.Request, offer: Offer | None) -> DirectoryPartner | None:
    """Whom an offer sends the subscriber to: for ITS on products it holds (UPD-4), the partner of their latest
    contract; for a product it does not hold yet (REG-6), none: the list of partners."""
    if offer is None or not offer.registration_numbers:
        return None
    return await accompanying_partner(request, offer.registration_numbers)


@routes.get(DIRECTORY_PAGE)
async def directory(request: web.Request) -> web.Response:
    """The vendor's active partners, by name, a page at a time; a cursor that is not ours starts again."""
    logged_in(request)
    cursor = request.query.get("cursor") or None
    identity = request.app[IDENTITY]
    try:
        page = await as_user(request, lambda token: identity.partner_directory(token, cursor))
    except ServiceError as exc:
        if exc.status != 422 or cursor is None:
            raise
        page = await as_user(request, lambda token: identity.partner_directory(token))
        cursor = None
    context = {"partners": page.items, "next_cursor": page.next_cursor, "first": cursor is None}
    return render(request, "partners_directory.html", context)
