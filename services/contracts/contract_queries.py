"""Reading contracts: a subscriber's list and why one is not in it (ITS-3..5), a partner's own contracts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from rules.months import Month
from rules.refusal import Refusal, Refused
from services.contracts import domain, read_models, store
from shared.db import Connection, Pool

NOT_YOURS = "no such contract of yours"


@dataclass(frozen=True)
class Contracts:
    """Contracts with the partners that accompany them (ITS-6: their names are shown)."""

    items: list[store.Contract]
    partners: dict[uuid.UUID, read_models.Partner]


async def subscriber_contracts(pool: Pool, subscriber_id: uuid.UUID, current: Month) -> Contracts:
    """ITS-3, ITS-4: a contract in processing (ITS-2) or on no product registered to the subscriber is not listed."""
    async with pool.acquire() as conn:
        contracts = await store.subscriber_contracts(conn, subscriber_id, current)
        partners = await read_models.partners(conn, list({c.partner_id for c in contracts}))
    return Contracts(contracts, partners)


async def why_not_listed(
    pool: Pool, *, subscriber_code: str, number: str, known_number: str | None, current: Month
) -> domain.WhyNotListed:
    """ITS-5 for contract `number`, as much as the subscriber may learn (ITS-4)."""
    async with pool.acquire() as conn:
        found = await store.contracts_numbered(conn, number)
    facts = [
        domain.ContractFacts(
            state=c.state,  # type: ignore[arg-type]  # the table's CHECK
            period=c.period,
            processing_on=c.processing_on,
            subscriber_code=c.subscriber_code,
            numbers=owners,
        )
        for c, owners in found
    ]
    return domain.why_not_listed(facts, subscriber_code=subscriber_code, known_number=known_number, current=current)


@dataclass(frozen=True)
class Page:
    contracts: Contracts
    more: bool  # another page follows the last of these


async def partner_contracts(
    pool: Pool,
    partner_id: uuid.UUID,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    listing: domain.PartnerListing,
) -> Page:
    """The partner's contracts that match `listing`, in its order, from the keyset `after` (the key of the last
    one seen: received_at or expires_at, and id)."""
    async with pool.acquire() as conn:
        contracts = await store.partner_contracts(conn, partner_id, limit + 1, after, listing)  # one more: next page?
        partners = await read_models.partners(conn, [partner_id])
    return Page(Contracts(contracts[:limit], partners), more=len(contracts) > limit)


async def partner_contract(pool: Pool, partner_id: uuid.UUID, contract_id: uuid.UUID) -> Contracts:
    async with pool.acquire() as conn:
        contract = await own_contract(conn, contract_id, partner_id)
        partners = await read_models.partners(conn, [partner_id])
    return Contracts([contract], partners)


async def own_contract(conn: Connection, contract_id: uuid.UUID, partner_id: uuid.UUID) -> store.Contract:
    """The partner's own contract; another partner's is refused as a missing one, so ids reveal nothing."""
    contract = await store.contract(conn, contract_id)
    if contract is None or contract.partner_id != partner_id:
        raise Refused(Refusal("no-such-contract", NOT_YOURS, "not-found"))
    return contract
