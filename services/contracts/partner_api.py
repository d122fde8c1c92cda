"""contracts' partner API: partners' systems post ITS contracts, list them and correct organisation data; the
webhook that tells them each contract's outcome is in webhook_api.py.

Rules ITS-1, ITS-2, ITS-6. A partner sees and changes only its own contracts.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from rules.refusal import Refused
from services.contracts import contract_queries, domain, intake, organisation_data, problems, store
from services.contracts.api_models import ContractNumber, ContractOut, RegistrationNumber, contract_out
from services.contracts.keys import SETTINGS
from services.contracts.path_ids import id_in_path
from services.contracts.problems import IdempotencyKeyMissing
from shared.auth import Caller
from shared.http import Api, Header, Link, document_response
from shared.keys import CALENDAR, CLOCK, OUTBOX, POOL
from shared.pages import Cursor, decode_cursor, encode_cursor
from shared.parsing import StrictModel
from shared.problems import BadRequest

routes = Api("ITS Portal contracts: partners")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class OrganisationIn(StrictModel):
    name: Text
    tin: Annotated[str, StringConstraints(strip_whitespace=True, max_length=12)]
    kpp: Annotated[str, StringConstraints(strip_whitespace=True, max_length=9)] | None = None


class PeriodIn(StrictModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # YYYY-MM; checked by the period rules (ITS-1), whose 422 says what is wrong with the month.
    from_: Annotated[str, StringConstraints(max_length=7), Field(json_schema_extra={"pattern": MONTH})] = Field(
        alias="from"
    )
    to: Annotated[str, StringConstraints(max_length=7), Field(json_schema_extra={"pattern": MONTH})]


class ContractIn(StrictModel):
    number: ContractNumber
    subscriber_code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^CL-[0-9]{7}$")] | None = None
    organisation: OrganisationIn
    main_registration_number: RegistrationNumber
    additional_registration_numbers: list[RegistrationNumber] = Field(
        default=[], max_length=domain.MAX_ADDITIONAL_NUMBERS
    )
    period: PeriodIn
    kind: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Accepted(BaseModel):
    id: uuid.UUID
    state: str
    processing_on: str  # YYYY-MM-DD, the business day it is processed on (ITS-2)


@routes.post(
    "/v1/contracts",
    summary="Post an ITS contract (partners; Idempotency-Key required); processed on the next business day",
    auth=True,
    body=ContractIn,
    response=Accepted,
    status=202,
    errors=(400, 403, 409, 422),
    tags=("partner",),
    headers=(
        Header(
            "Idempotency-Key",
            {"type": "string", "pattern": r"^[\x21-\x7e]{1,255}$"},
            required=True,
            description="One per contract (draft-ietf-httpapi-idempotency-key-header): a retry with the same key and "
            "body replays the first answer (`Idempotent-Replayed: true`), another body is 422, a retry while the first "
            f"is processed 409; kept {domain.IDEMPOTENCY_KEPT // timedelta(hours=1)} hours",
        ),
    ),
    callers=("partner",),
    links={
        "GetContract": Link("partner_contract", {"contract_id": "$response.body#/id"}),
        "CorrectOrganisation": Link("correct_organisation", {"contract_id": "$response.body#/id"}),
    },
)
async def post_contract(request: web.Request, caller: Caller, body: ContractIn) -> web.Response:
    """Idempotency (draft-ietf-httpapi-idempotency-key-header): the same key and body replay the first
    answer (header `Idempotent-Replayed: true`); the same key with another body is 422; a retry while the
    first is still being processed is 409. Keys are per partner and kept `domain.IDEMPOTENCY_KEPT`."""
    partner_id = caller.require_partner()
    key = request.headers.get("Idempotency-Key", "")
    if not key:
        raise IdempotencyKeyMissing("retries of a POST are only safe with an Idempotency-Key: send one per contract")
    if not domain.IDEMPOTENCY_KEY.fullmatch(key):
        raise BadRequest("an Idempotency-Key is 1 to 255 printable ASCII characters without spaces")
    try:
        receipt = await intake.receive_contract(
            request.app[POOL],
            request.app[OUTBOX],
            settings=request.app[SETTINGS],
            calendar=request.app[CALENDAR],
            now=request.app[CLOCK].now(),
            partner_id=partner_id,
            key=key,
            fingerprint=domain.fingerprint(body.model_dump(mode="json", by_alias=True)),
            posted=domain.PostedContract(
                number=body.number,
                subscriber_code=body.subscriber_code,
                org_name=body.organisation.name,
                tin=body.organisation.tin,
                kpp=body.organisation.kpp,
                main_number=body.main_registration_number,
                additional_numbers=body.additional_registration_numbers,
                period_from=body.period.from_,
                period_to=body.period.to,
                kind=body.kind,
            ),
        )
    except Refused as refused:
        raise problems.problem(refused) from None
    response = document_response(receipt.body, status=receipt.status)
    if receipt.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


# The cursor of each order: (received_at, id) or (expires_at, id) of the last contract seen.
PAGE_CURSORS = {"received": "c1", "ending": "c2"}
CONFIGURATION_CODE = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"  # registration's configuration codes


class PageQuery(StrictModel):
    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = Field(
        default=None,
        description="Part of the contract number or the organisation's name, the start of its TIN, a registration "
        "number it lists or the subscriber's code (case-insensitive)",
    )
    state: Literal["processing", "active", "expired"] | None = Field(
        default=None, description="processing: received, not processed yet (ITS-2); active: processed; expired"
    )
    ending_within_days: int | None = Field(
        default=None, ge=1, le=3660, description="Only contracts not expired whose period ends within this many days"
    )
    configuration: Annotated[str, StringConstraints(pattern=CONFIGURATION_CODE)] | None = Field(
        default=None, description="Only contracts listing a registration number of a product of this configuration"
    )
    sort: Literal["received", "ending"] = Field(
        default="received", description="received: the newest received first; ending: the soonest ending first"
    )
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: Cursor | None = None  # after `sort`: a cursor is checked against the order it was handed out for

    @field_validator("cursor")
    @classmethod
    def _cursor_is_ours(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            _after(value, info.data.get("sort", "received"))  # another list's or order's cursor: 422 naming it
        return value


def _after(cursor: str, sort: str) -> tuple[datetime, uuid.UUID]:
    moment, contract_id = decode_cursor(PAGE_CURSORS[sort], cursor, 2)
    try:
        return datetime.fromisoformat(moment), uuid.UUID(contract_id)
    except ValueError:
        raise ValueError("not a cursor from this list") from None


class ContractPage(BaseModel):
    items: list[ContractOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


@routes.get(
    "/v1/partner/contracts",
    summary="The partner's own contracts with their states: searched, filtered and sorted, a page at a time",
    auth=True,
    query=PageQuery,
    response=ContractPage,
    errors=(403,),
    callers=("partner",),
    links={"NextPage": Link("partner_contracts", {"cursor": "$response.body#/next_cursor"})},
    tags=("partner",),
)
async def partner_contracts(request: web.Request, caller: Caller, query: PageQuery) -> ContractPage:
    """The next page keeps the search, the filters and the order: pass them again with `cursor`."""
    partner_id = caller.require_partner()
    now = request.app[CLOCK].now()
    listing = domain.PartnerListing(
        q=query.q,
        state=query.state,
        ending_by=now + timedelta(days=query.ending_within_days) if query.ending_within_days else None,
        configuration=query.configuration,
        sort=query.sort,
        now=now,
    )
    after = _after(query.cursor, query.sort) if query.cursor is not None else None
    page = await contract_queries.partner_contracts(request.app[POOL], partner_id, query.limit, after, listing)
    found = page.contracts
    last = found.items[-1] if page.more else None
    return ContractPage(
        items=[contract_out(c, found.partners) for c in found.items],
        next_cursor=_cursor(last, query.sort) if last else None,
    )


def _cursor(last: store.Contract, sort: str) -> str:
    moment = last.received_at if sort == "received" else last.expires_at
    return encode_cursor(PAGE_CURSORS[sort], moment.isoformat(), str(last.id))


@routes.get(
    "/v1/partner/contracts/{contract_id:uuid}",
    summary="One of the partner's own contracts (another partner's: 404, as a missing one)",
    auth=True,
    response=ContractOut,
    errors=(403, 404),
    tags=("partner",),
    callers=("partner",),
)
async def partner_contract(request: web.Request, caller: Caller) -> ContractOut:
    partner_id = caller.require_partner()
    contract_id = id_in_path(request, "contract_id", contract_queries.NOT_YOURS)
    try:
        found = await contract_queries.partner_contract(request.app[POOL], partner_id, contract_id)
    except Refused as refused:
        raise problems.problem(refused) from None
    return contract_out(found.items[0], found.partners)


@routes.patch(
    "/v1/contracts/{contract_id:uuid}/organisation",
    summary="Correct the organisation's name, TIN and KPP (the accompanying partner, ITS-6)",
    auth=True,
    body=OrganisationIn,
    response=ContractOut,
    errors=(403, 404, 422),
    tags=("partner",),
    callers=("partner",),
)
async def correct_organisation(request: web.Request, caller: Caller, body: OrganisationIn) -> ContractOut:
    partner_id = caller.require_partner()
    contract_id = id_in_path(request, "contract_id", contract_queries.NOT_YOURS)
    try:
        found = await organisation_data.correct_organisation(
            request.app[POOL],
            request.app[OUTBOX],
            partner_id=partner_id,
            contract_id=contract_id,
            name=body.name,
            tin=body.tin,
            kpp=body.kpp,
        )
    except Refused as refused:
        raise problems.problem(refused) from None
    return contract_out(found.items[0], found.partners)
