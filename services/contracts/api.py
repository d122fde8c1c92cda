"""contracts' API for subscribers: their contracts, why one is not listed, coverage, support status.

Rules ITS-3..7 and MON-1. Requests act for the subscriber of the access token (SUB-7); a
subscriber learns nothing of contracts that are not on its products (ITS-4).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rules.coverage import CoveredBy, free_period, its_required
from rules.months import Month
from services.contracts import domain, maintenance_store, store
from services.contracts.calendar import ProductionCalendar
from services.contracts.settings import ContractsSettings
from services.contracts.support_status import MaintenanceSpan, support_status
from shared.app import CLOCK, OUTBOX, POOL
from shared.auth import Caller
from shared.events.contracts import Organisation, OrganisationErrorReported
from shared.http import Api
from shared.parsing import StrictModel
from shared.problems import NotFound, TooManyRequests

routes = Api("ITS Portal contracts")

SETTINGS = web.AppKey("contracts_settings", ContractsSettings)
CALENDAR = web.AppKey("calendar", ProductionCalendar)

RegistrationNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6,20}$")]
ContractNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=domain.CONTRACT_NUMBER.pattern)]
YearMonth = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
# ITS-6: a subscriber reports wrong organisation data at most this often per contract.
REPORTS_PER_DAY = 5


# ---- models shared with the partner API ---------------------------------------------------


class PeriodOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str


class OrganisationOut(BaseModel):
    name: str
    tin: str
    kpp: str | None


class ContractOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: uuid.UUID
    number: str
    state: Literal["processing", "active", "expired"]
    organisation: OrganisationOut
    main_registration_number: str
    additional_registration_numbers: list[str]
    period: PeriodOut
    kind: str
    subscriber_code: str | None
    partner: str | None  # the accompanying partner's name (ITS-6)
    received_at: datetime
    processing_on: date  # ITS-2: the business day it is (or was) processed
    activated_at: datetime | None
    expired_at: datetime | None


class ContractList(BaseModel):
    items: list[ContractOut]


def contract_out(c: store.Contract, partners: dict[uuid.UUID, store.Partner]) -> ContractOut:
    partner = partners.get(c.partner_id)
    return ContractOut(
        id=c.id,
        number=c.number,
        state=c.state,
        organisation=OrganisationOut(name=c.org_name, tin=c.tin, kpp=c.kpp),
        main_registration_number=c.main_number,
        additional_registration_numbers=c.additional_numbers,
        period=PeriodOut(from_=c.period_from, to=c.period_to),
        kind=c.kind,
        subscriber_code=c.subscriber_code,
        partner=partner.name if partner else None,
        received_at=c.received_at,
        processing_on=c.processing_on,
        activated_at=c.activated_at,
        expired_at=c.expired_at,
    )


def vendor_today(request: web.Request) -> date:
    return request.app[CLOCK].now().astimezone(request.app[SETTINGS].vendor_zone).date()


def contract_span(c: store.Contract) -> domain.ContractSpan:
    return domain.ContractSpan(c.id, c.partner_id, c.period, frozenset(c.registration_numbers))


def its_product(number: store.Number, contracts: list[store.Contract]) -> domain.ItsProduct:
    """The registered number as the ITS rules see it (ITS-7, CMS-6, MON-1), with the contracts that list it."""
    return domain.ItsProduct.of(
        number.number,
        its_required=its_required(number.edition, number.its_required),
        purchase_date=number.purchase_date,
        contracts=[contract_span(c) for c in contracts],
    )


# ---- the subscriber's contracts (ITS-3, ITS-4) -----------------------------------------------


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
    async with request.app[POOL].acquire() as conn:
        contracts = await store.subscriber_contracts(conn, subscriber.id, Month.of(vendor_today(request)))
        partners = await store.partners(conn, list({c.partner_id for c in contracts}))
    return ContractList(items=[contract_out(c, partners) for c in contracts])


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
    async with request.app[POOL].acquire() as conn:
        found = await store.contracts_numbered(conn, query.number)
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
    answer = domain.why_not_listed(
        facts,
        subscriber_code=subscriber.code,
        known_number=query.registration_number,
        current=Month.of(vendor_today(request)),
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
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        visible = await store.subscriber_contracts(conn, subscriber.id, Month(1, 1))
        contract = next((c for c in visible if c.id == contract_id), None)
        if contract is None:
            raise NotFound("no such contract among yours")  # another subscriber's: the same answer
        if await store.reports_since(conn, contract.id, subscriber.id, now - timedelta(days=1)) >= REPORTS_PER_DAY:
            raise TooManyRequests(
                "you reported this contract several times today; the partner has them", retry_after=3600
            )
        partners = await store.partners(conn, [contract.partner_id])
        partner = partners.get(contract.partner_id)
        if partner is None:
            raise NotFound("the contract's partner is not known yet; try again in a minute")
        report_id = uuid.uuid4()
        await store.insert_report(conn, report_id, contract.id, subscriber.id, caller.account_id, body.message, now)
        await request.app[OUTBOX].add(
            conn,
            OrganisationErrorReported(
                report_id=report_id,
                contract_id=contract.id,
                number=contract.number,
                organisation=Organisation(name=contract.org_name, tin=contract.tin, kpp=contract.kpp),
                partner_id=partner.id,
                partner_name=partner.name,
                partner_email=partner.contact_email,
                subscriber_code=subscriber.code,
                subscriber_name=await store.subscriber_name(conn, subscriber.id) or subscriber.code,
                message=body.message,
                reported_at=now,
            ),
        )
    return ReportOut(report_id=report_id, partner=partner.name)


def id_in_path(request: web.Request, name: str, not_found: str) -> uuid.UUID:
    """The id in the URL; one that is not even an id is as unknown as any other (404)."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise NotFound(not_found) from None


# ---- coverage (ITS-7) and support status (MON-1) ---------------------------------------------


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


async def _registered_number(request: web.Request, caller: Caller, number: str) -> store.Number:
    subscriber = caller.require_subscriber()
    async with request.app[POOL].acquire() as conn:
        found = await store.number(conn, number)
    if found is None or found.subscriber_id != subscriber.id:
        raise NotFound("no product with this registration number is registered to your subscriber")
    return found


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
    number = await _registered_number(request, caller, query.registration_number)
    month = Month.parse(query.month) if query.month else Month.of(vendor_today(request))
    async with request.app[POOL].acquire() as conn:
        contracts = await store.contracts_listing(conn, number.number)
    product = its_product(number, contracts)
    answer = product.coverage(month)
    free = free_period(number.purchase_date) if product.its_required and number.purchase_date else None
    return CoverageOut(
        registration_number=number.number,
        month=str(month),
        covered=answer.covered,
        by=answer.by,
        until=str(answer.until) if answer.until else None,
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
async def get_support_status(request: web.Request, caller: Caller, query: StatusQuery) -> SupportStatusOut:
    """Conditions that do not apply are left out (null): the contract for BASIC editions (ITS-7), the
    maintenance service where the product does not include the configuration (then `configuration` is
    NOT_INCLUDED and the product is not supported for it), everything else when the product is not
    registered to the caller's subscriber."""
    subscriber = caller.require_subscriber()
    async with request.app[POOL].acquire() as conn:
        number = await store.number(conn, query.registration_number)
        registered = number is not None and number.subscriber_id == subscriber.id and number.registration == "active"
        if not registered or number is None:
            return SupportStatusOut(registration="NOT_REGISTERED", overall="NOT_COMPLIED")
        contracts = await store.contracts_listing(conn, number.number)
        activations = await maintenance_store.activations(conn, subscriber.id, query.configuration)
        categories = await store.configuration_categories(conn)
        ids = {c.partner_id for c in contracts} | {a.partner_id for a in activations if a.partner_id}
        partners = await store.partners(conn, list(ids))
    included = query.configuration in (number.configurations or [])
    if not included:
        activations = []  # another configuration's service says nothing about this product
    status = support_status(
        product=its_product(number, contracts),
        configuration_included=included,
        configuration_category=categories.get(query.configuration),
        activations=[MaintenanceSpan(a.id, a.configuration, a.period, a.partner_id) for a in activations],
        today=vendor_today(request),
    )
    partner = partners.get(status.partner_id) if status.partner_id else None
    return SupportStatusOut(
        registration=status.registration,
        configuration=status.configuration,
        its_contract=status.its_contract,
        its_covered_by=status.its_covered_by,
        its_until=status.its_until,
        maintenance_service=status.maintenance_service,
        maintenance_until=status.maintenance_until,
        overall=status.overall,
        contracts=[
            StatusContract(
                number=c.number,
                period=PeriodOut(from_=c.period_from, to=c.period_to),
                partner=partners[c.partner_id].name if c.partner_id in partners else None,
            )
            for c in contracts
        ],
        activations=[
            StatusActivation(configuration=a.configuration, period=PeriodOut(from_=a.period_from, to=a.period_to))
            for a in activations
        ],
        partner=StatusPartner(name=partner.name, email=partner.contact_email) if partner else None,
    )


__all__ = [
    "CALENDAR",
    "SETTINGS",
    "ContractOut",
    "contract_out",
    "contract_span",
    "id_in_path",
    "its_product",
    "routes",
    "vendor_today",
]
