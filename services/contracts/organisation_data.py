"""ITS-6: the organisation data on a contract is the accompanying partner's to correct; a subscriber who sees it
wrong tells that partner."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from rules.months import Month
from rules.refusal import Refusal, Refused
from services.contracts import events, read_models, store
from services.contracts.contract_queries import Contracts, own_contract
from services.contracts.organisation import kpp_problem, tin_problem
from shared.db import Pool
from shared.outbox import Outbox

# ITS-6: a subscriber reports wrong organisation data at most this often per contract and day.
REPORTS_PER_DAY = 5
REPORT_RETRY_AFTER = 3600  # seconds: a subscriber who reported too often may try again in an hour


async def correct_organisation(
    pool: Pool, outbox: Outbox, *, partner_id: uuid.UUID, contract_id: uuid.UUID, name: str, tin: str, kpp: str | None
) -> Contracts:
    """The corrected contract; refused field by field for a TIN or KPP that cannot be right (ITS-1)."""
    refusals = [refusal for refusal in (tin_problem(tin), kpp_problem(kpp, tin)) if refusal]
    if refusals:
        raise Refused(*refusals)
    async with pool.acquire() as conn, conn.transaction():
        await own_contract(conn, contract_id, partner_id)
        corrected = await store.correct_organisation(conn, contract_id, name, tin, kpp)
        assert corrected is not None  # its own, found above
        partners = await read_models.partners(conn, [partner_id])
        await outbox.add(conn, events.organisation_corrected(corrected, partners.get(partner_id)))
    return Contracts([corrected], partners)


async def report_organisation_error(
    pool: Pool,
    outbox: Outbox,
    *,
    now: datetime,
    subscriber_id: uuid.UUID,
    subscriber_code: str,
    account_id: uuid.UUID,
    contract_id: uuid.UUID,
    message: str,
) -> tuple[uuid.UUID, read_models.Partner]:
    """The report's id and the partner told; only about a contract the subscriber sees (ITS-4)."""
    async with pool.acquire() as conn, conn.transaction():
        visible = await store.subscriber_contracts(conn, subscriber_id, Month(1, 1))
        contract = next((c for c in visible if c.id == contract_id), None)
        if contract is None:  # another subscriber's: the same answer
            raise Refused(Refusal("no-such-contract", "no such contract among yours", "not-found"))
        if await store.reports_since(conn, contract.id, subscriber_id, now - timedelta(days=1)) >= REPORTS_PER_DAY:
            raise Refused(
                Refusal(
                    "reported-too-often",
                    "you reported this contract several times today; the partner has them",
                    "too-often",
                    details={"retry_after": REPORT_RETRY_AFTER},
                )
            )
        partner = (await read_models.partners(conn, [contract.partner_id])).get(contract.partner_id)
        if partner is None:
            raise Refused(
                Refusal(
                    "partner-unknown", "the contract's partner is not known yet; try again in a minute", "not-found"
                )
            )
        report_id = uuid.uuid4()
        await store.insert_report(conn, report_id, contract.id, subscriber_id, account_id, message, now)
        subscriber_name = await read_models.subscriber_name(conn, subscriber_id) or subscriber_code
        await outbox.add(
            conn,
            events.organisation_error_reported(
                report_id,
                contract,
                partner,
                subscriber_code=subscriber_code,
                subscriber_name=subscriber_name,
                message=message,
                at=now,
            ),
        )
    return report_id, partner
