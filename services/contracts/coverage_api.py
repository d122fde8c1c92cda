"""contracts' API for whether a product is covered (ITS-7) and supported (MON-1): for the subscriber's
pages and for client programs."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field, StringConstraints

from rules.coverage import CoveredBy
from rules.months import Month
from rules.refusal import Refused
from services.contracts import coverage_queries, problems
from services.contracts.api_models import PeriodOut, RegistrationNumber
from services.contracts.keys import SUPPORT_CACHE, today
from shared.auth import Caller
from shared.http import Api, encode_document, encoded_response
from shared.keys import POOL
from shared.parsing import StrictModel

routes = Api("ITS Portal contracts: coverage")

YearMonth = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class CoverageQuery(StrictModel):
    registration_number: RegistrationNumber
    month: YearMonth | None = None  # default: this month


class CoverageOut(BaseModel):
    registration_number: str
    month: str
    covered: bool
    by: CoveredBy | None
    until: str | None  # the last covered month
    free_period: PeriodOut | None  # ITS-7, for products that need a contract


@routes.get(
    "/v1/coverage",
    summary="Whether updates of a product are covered in a month, and by what (ITS-7)",
    auth=True,
    query=CoverageQuery,
    response=CoverageOut,
    errors=(403, 404, 422),
    tags=("contracts",),
)
async def get_coverage(request: web.Request, caller: Caller, query: CoverageQuery) -> CoverageOut:
    subscriber = caller.require_subscriber()
    month = Month.parse(query.month) if query.month else Month.of(today(request.app))
    try:
        answer = await coverage_queries.product_coverage(
            request.app[POOL], subscriber.id, query.registration_number, month
        )
    except Refused as refused:
        raise problems.problem(refused) from None
    free = answer.free_period
    return CoverageOut(
        registration_number=answer.registration_number,
        month=str(answer.month),
        covered=answer.coverage.covered,
        by=answer.coverage.by,
        until=str(answer.coverage.until) if answer.coverage.until else None,
        free_period=PeriodOut(from_=str(free.start), to=str(free.end)) if free else None,
    )


class StatusQuery(StrictModel):
    registration_number: RegistrationNumber
    configuration: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]


class StatusContract(BaseModel):
    number: str
    period: PeriodOut
    partner: str | None


class StatusActivation(BaseModel):
    configuration: str
    period: PeriodOut


class StatusPartner(BaseModel):
    name: str
    email: str


class SupportStatusOut(BaseModel):
    registration: Literal["REGISTERED", "NOT_REGISTERED"] = Field(
        description="REGISTERED: the number is registered (and active) to the caller's subscriber. "
        "NOT_REGISTERED: it is not, and nothing else is told about it."
    )
    configuration: Literal["INCLUDED", "NOT_INCLUDED"] | None = Field(
        default=None,
        description="Whether the product includes the asked configuration (REG-6). NOT_INCLUDED: this product does "
        "not license that configuration, so it is not supported for it (overall NOT_COMPLIED) and the maintenance "
        "service is left out. Left out (null) when the number is not registered.",
    )
    its_contract: Literal["OK", "WARNING", "NO_CONTRACT"] | None = Field(
        default=None,
        description="ITS contract or free period covering this month (ITS-7); WARNING: it ends within 30 days. "
        "Left out (null) for products that need no contract (BASIC).",
    )
    its_covered_by: Literal["contract", "free_period"] | None = None
    its_until: date | None = None
    maintenance_service: Literal["OK", "WARNING", "NO_ACTIVATIONS"] | None = Field(
        default=None,
        description="The configuration's maintenance service (CMS-1); left out where it does not apply: a product "
        "that needs no contract, a configuration the product does not include or of unknown category.",
    )
    maintenance_until: date | None = None
    overall: Literal["OK", "WARNING", "NOT_COMPLIED"]
    contracts: list[StatusContract] = []
    activations: list[StatusActivation] = []
    partner: StatusPartner | None = None


@routes.get(
    "/v1/support-status",
    summary="Is this product supported? One status per condition (MON-1), for client programs",
    auth=True,
    query=StatusQuery,
    response=SupportStatusOut,
    errors=(403, 422),
    tags=("contracts",),
)
async def get_support_status(request: web.Request, caller: Caller, query: StatusQuery) -> web.Response:
    """Conditions that do not apply are left out (null): the contract for BASIC editions (ITS-7), the
    maintenance service where the product does not include the configuration (then `configuration` is
    NOT_INCLUDED and the product is not supported for it), everything else when the product is not
    registered to the caller's subscriber."""
    subscriber = caller.require_subscriber()
    pool, day = request.app[POOL], today(request.app)
    number, configuration = query.registration_number, query.configuration

    async def answer() -> bytes:
        support = await coverage_queries.product_support(pool, subscriber.id, number, configuration, day)
        return encode_document(support_document(support))

    # Polled by every installed program: kept, already written, until what it was read from changes
    # (support_cache.py).
    key = (number, configuration, day)
    return encoded_response(await request.app[SUPPORT_CACHE].get(subscriber.id, key, answer))


def support_document(support: coverage_queries.Support) -> dict[str, Any]:
    """The answer straight from the query's rows, in SupportStatusOut's shape (a test holds it to the model)."""
    status, partner = support.status, support.partner
    return {
        "registration": status.registration,
        "configuration": status.configuration,
        "its_contract": status.its_contract,
        "its_covered_by": status.its_covered_by,
        "its_until": status.its_until,
        "maintenance_service": status.maintenance_service,
        "maintenance_until": status.maintenance_until,
        "overall": status.overall,
        "contracts": [
            {"number": c.number, "period": {"from": c.period_from, "to": c.period_to}, "partner": c.partner}
            for c in support.contracts
        ],
        "activations": [
            {"configuration": a.span.configuration, "period": {"from": a.period_from, "to": a.period_to}}
            for a in support.activations
        ],
        "partner": {"name": partner.name, "email": partner.contact_email} if partner else None,
    }
