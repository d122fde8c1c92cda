"""contracts' API for subscribers: their contracts, why one is not listed, reporting wrong organisation data.
Coverage and the support status are in coverage_api.py.

Rules ITS-3..6. Requests act for the subscriber of the access token (SUB-7); a
subscriber learns nothing of contracts that are not on its products (ITS-4).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, StringConstraints

from rules.months import Month
from rules.refusal import Refused
from services.contracts import contract_queries, domain, organisation_data, problems
from services.contracts.api_models import ContractNumber, ContractOut, RegistrationNumber, contract_out
from services.contracts.keys import today
from services.contracts.path_ids import id_in_path
from shared.auth import Caller
from shared.http import Api
from shared.keys import CLOCK, OUTBOX, POOL
from shared.parsing import StrictModel

routes = Api("ITS Portal contracts")


# ---- the subscriber's contracts (ITS-3, ITS-4) -----------------------------------------------


class ContractList(BaseModel):
    items: list[ContractOut]


@routes.get(
    "/v1/contracts",
    summary="The subscriber's ITS contracts valid now or for a future period",
    auth=True,
    response=ContractList,
    errors=(403,),
    tags=("contracts",),
)
async def list_contracts(request: web.Request, caller: Caller) -> ContractList:
    """A contract in processing (ITS-2) or on no product registered to the subscriber (ITS-4) is not listed."""
    subscriber = caller.require_subscriber()
    found = await contract_queries.subscriber_contracts(request.app[POOL], subscriber.id, Month.of(today(request.app)))
    return ContractList(items=[contract_out(c, found.partners) for c in found.items])


class WhyQuery(StrictModel):
    number: ContractNumber
    # The registration number of the product the contract is for, if the subscriber has it at hand.
    registration_number: RegistrationNumber | None = None


class WhyOut(BaseModel):
    number: str
    reason: domain.Reason
    message: str
    processing_until: date | None = None
    ended: date | None = None
    register_numbers: list[str] = []


@routes.get(
    "/v1/contracts/why-not-listed",
    summary="Why a contract is not in the subscriber's list (ITS-5)",
    auth=True,
    query=WhyQuery,
    response=WhyOut,
    errors=(403, 422),
    tags=("contracts",),
)
async def why_not_listed(request: web.Request, caller: Caller, query: WhyQuery) -> WhyOut:
    subscriber = caller.require_subscriber()
    answer = await contract_queries.why_not_listed(
        request.app[POOL],
        subscriber_code=subscriber.code,
        number=query.number,
        known_number=query.registration_number,
        current=Month.of(today(request.app)),
    )
    return WhyOut(
        number=query.number,
        reason=answer.reason,
        message=_why_message(answer),
        processing_until=answer.until,
        ended=answer.ended,
        register_numbers=list(answer.register),
    )


def _why_message(answer: domain.WhyNotListed) -> str:
    if answer.reason == "listed":
        return "The contract is in your list."
    if answer.reason == "processing":
        return f"The contract is being processed; it appears in your list on {answer.until} (the next business day)."
    if answer.reason == "expired":
        return f"The contract's period ended on {answer.ended}; ask your partner for a new one."
    if answer.reason == "product_not_registered":
        numbers = ", ".join(answer.register) or "its product"
        return f"Register the product the contract is for ({numbers}); the contract then appears in your list."
    return "We know of no such contract for your products. Contact the partner who sold it."


# ---- reporting wrong organisation data (ITS-6) ---------------------------------------------


class Report(StrictModel):
    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]


class ReportOut(BaseModel):
    report_id: uuid.UUID
    partner: str


@routes.post(
    "/v1/contracts/{contract_id:uuid}/report-organisation-error",
    summary="Tell the accompanying partner that the contract's organisation data is wrong (ITS-6)",
    auth=True,
    body=Report,
    response=ReportOut,
    status=202,
    errors=(403, 404, 429),
    tags=("contracts",),
)
async def report_organisation_error(request: web.Request, caller: Caller, body: Report) -> ReportOut:
    subscriber = caller.require_subscriber()
    contract_id = id_in_path(request, "contract_id", "no such contract among yours")
    try:
        report_id, partner = await organisation_data.report_organisation_error(
            request.app[POOL],
            request.app[OUTBOX],
            now=request.app[CLOCK].now(),
            subscriber_id=subscriber.id,
            subscriber_code=subscriber.code,
            account_id=caller.account_id,
            contract_id=contract_id,
            message=body.message,
        )
    except Refused as refused:
        raise problems.problem(refused) from None
    return ReportOut(report_id=report_id, partner=partner.name)
