"""contracts' partner API: partners' systems post ITS contracts, list them, correct organisation data,
and set the webhook that tells them each contract's outcome.

Rules ITS-1, ITS-2, ITS-6. A partner sees and changes only its own contracts.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from rules.months import Month
from services.contracts import domain, store
from services.contracts.api import (
    CALENDAR,
    SETTINGS,
    ContractOut,
    contract_out,
    id_in_path,
    vendor_today,
)
from services.contracts.organisation import kpp_problem, tin_problem
from services.contracts.processing import PROCESS_JOB, contract_event, schedule_processing
from shared.app import CLOCK, OUTBOX, POOL
from shared.auth import Caller
from shared.db import Connection
from shared.events.contracts import ContractReceived, OrganisationCorrected
from shared.http import Api, Header, Link
from shared.logging import get_logger
from shared.pages import Cursor, decode_cursor, encode_cursor
from shared.parsing import StrictModel
from shared.problems import BadRequest, Conflict, NotFound, Problem, ValidationFailed, invalid

log = get_logger(__name__)

routes = Api("ITS Portal contracts: partners")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
RegistrationNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6,20}$")]
MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
# How long an Idempotency-Key's first answer is kept (the draft asks for at least 24 hours).
IDEMPOTENCY_KEPT_HOURS = 48


class IdempotencyKeyMissing(BadRequest):
    slug, title = "idempotency-key-missing", "Send an Idempotency-Key header"


class IdempotencyKeyReused(Problem):
    status, slug, title = 422, "idempotency-key-reused", "This Idempotency-Key was used for another request"


class RequestInProgress(Conflict):
    slug, title = "request-in-progress", "A request with this Idempotency-Key is being processed"


class ContractNumberTaken(Conflict):
    slug, title = "contract-number-taken", "You have a contract with this number already"


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
    number: Annotated[str, StringConstraints(strip_whitespace=True, pattern=domain.CONTRACT_NUMBER.pattern)]
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
            "is processed 409; kept 48 hours",
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
    first is still being processed is 409. Keys are per partner and kept 48 hours."""
    partner_id = caller.require_partner()
    key = request.headers.get("Idempotency-Key", "")
    if not key:
        raise IdempotencyKeyMissing("retries of a POST are only safe with an Idempotency-Key: send one per contract")
    if not domain.IDEMPOTENCY_KEY.fullmatch(key):
        raise BadRequest("an Idempotency-Key is 1 to 255 printable ASCII characters without spaces")
    fingerprint = domain.fingerprint(body.model_dump(mode="json", by_alias=True))
    app, now = request.app, request.app[CLOCK].now()
    async with app[POOL].acquire() as conn, conn.transaction():
        try:
            stored = await store.claim_idempotency_key(conn, partner_id, key)
        except store.KeyBusy:
            raise RequestInProgress("the first request with this key has not finished: retry in a moment") from None
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise IdempotencyKeyReused("use a new Idempotency-Key for a new contract")
            return web.json_response(stored.response, status=stored.status, headers={"Idempotent-Replayed": "true"})
        await _check(conn, body, Month.of(vendor_today(request)))
        contract = _new_contract(request, partner_id, body)
        try:
            await store.insert_contract(conn, contract)
        except store.NumberTaken:
            raise ContractNumberTaken(f"contract {body.number} was posted before (with another key)") from None
        await schedule_processing(conn, contract.effective_at)
        # No e-mail is sent on receipt: the partner's name and address are left out of this event.
        await app[OUTBOX].add(
            conn,
            contract_event(
                ContractReceived, contract, None, received_at=contract.received_at, processing_on=contract.processing_on
            ),
        )
        answer = Accepted(id=contract.id, state="processing", processing_on=contract.processing_on.isoformat())
        response = answer.model_dump(mode="json")
        await store.store_answer(conn, partner_id, key, store.StoredAnswer(fingerprint, 202, response), now)
    return web.json_response(response, status=202)


async def _check(conn: Connection, body: ContractIn, current: Month) -> None:
    """Every problem at once, field by field (ITS-1); nothing is stored when there is one."""
    errors: list[dict[str, Any]] = domain.period_problems(body.period.from_, body.period.to, current)
    for field, problem in (
        ("organisation.tin", tin_problem(body.organisation.tin)),
        ("organisation.kpp", kpp_problem(body.organisation.kpp, body.organisation.tin)),
    ):
        if problem:
            errors.append(problem.entry(field))
    numbers = [body.main_registration_number, *body.additional_registration_numbers]
    if len(set(numbers)) != len(numbers):
        errors.append(
            invalid("additional_registration_numbers", "a registration number is repeated", "number_repeated")
        )
    for number in await store.unknown_numbers(conn, numbers):
        field = (
            "main_registration_number" if number == body.main_registration_number else "additional_registration_numbers"
        )
        message = f"{number} is not a registration number of the catalogue"
        errors.append(invalid(field, message, "number_unknown", input=number))
    if errors:
        raise ValidationFailed(errors)


def _new_contract(request: web.Request, partner_id: uuid.UUID, body: ContractIn) -> store.Contract:
    settings, calendar, now = request.app[SETTINGS], request.app[CALENDAR], request.app[CLOCK].now()
    zone = settings.vendor_zone
    effective_at = calendar.effective_moment(now, zone)  # rule ITS-2: the next business day
    if not calendar.covers(effective_at.date()):
        log.warning("calendar.not_covered", day=str(effective_at.date()), calendar=settings.calendar)
    return store.Contract(
        id=uuid.uuid4(),
        partner_id=partner_id,
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
        state="processing",
        received_at=now,
        processing_on=effective_at.astimezone(zone).date(),
        effective_at=effective_at,
        expires_at=domain.expiry_moment(Month.parse(body.period.to), zone),
        activated_at=None,
        expired_at=None,
    )


PAGE_CURSOR = "c1"  # (received_at, id) of the last contract seen


class PageQuery(StrictModel):
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: Cursor | None = None

    @field_validator("cursor")
    @classmethod
    def _cursor_is_ours(cls, value: str | None) -> str | None:
        if value is not None:
            _after(value)  # a cursor we did not hand out is a 422 naming the field
        return value


def _after(cursor: str) -> tuple[datetime, uuid.UUID]:
    received_at, contract_id = decode_cursor(PAGE_CURSOR, cursor, 2)
    try:
        return datetime.fromisoformat(received_at), uuid.UUID(contract_id)
    except ValueError:
        raise ValueError("not a cursor from this list") from None


class ContractPage(BaseModel):
    items: list[ContractOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


@routes.get(
    "/v1/partner/contracts",
    summary="The partner's own contracts with their states",
    auth=True,
    query=PageQuery,
    response=ContractPage,
    errors=(403,),
    callers=("partner",),
    links={"NextPage": Link("partner_contracts", {"cursor": "$response.body#/next_cursor"})},
    tags=("partner",),
)
async def partner_contracts(request: web.Request, caller: Caller, query: PageQuery) -> ContractPage:
    partner_id = caller.require_partner()
    after = _after(query.cursor) if query.cursor is not None else None
    async with request.app[POOL].acquire() as conn:
        contracts = await store.partner_contracts(conn, partner_id, query.limit + 1, after)  # one more: a next?
        partners = await store.partners(conn, [partner_id])
    page = contracts[: query.limit]
    last = page[-1] if len(contracts) > query.limit else None
    return ContractPage(
        items=[contract_out(c, partners) for c in page],
        next_cursor=encode_cursor(PAGE_CURSOR, last.received_at.isoformat(), str(last.id)) if last else None,
    )


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
    contract_id = id_in_path(request, "contract_id", "no such contract of yours")
    async with request.app[POOL].acquire() as conn:
        contract = await _own_contract(conn, contract_id, partner_id)
        partners = await store.partners(conn, [partner_id])
    return contract_out(contract, partners)


async def _own_contract(conn: Connection, contract_id: uuid.UUID, partner_id: uuid.UUID) -> store.Contract:
    """The partner's own contract; another partner's is answered as a missing one, so ids reveal nothing."""
    contract = await store.contract(conn, contract_id)
    if contract is None or contract.partner_id != partner_id:
        raise NotFound("no such contract of yours")
    return contract


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
    contract_id = id_in_path(request, "contract_id", "no such contract of yours")
    errors = [
        problem.entry(field)
        for field, problem in (("tin", tin_problem(body.tin)), ("kpp", kpp_problem(body.kpp, body.tin)))
        if problem
    ]
    if errors:
        raise ValidationFailed(errors)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await _own_contract(conn, contract_id, partner_id)
        corrected = await store.correct_organisation(conn, contract_id, body.name, body.tin, body.kpp)
        assert corrected is not None
        partners = await store.partners(conn, [partner_id])
        await request.app[OUTBOX].add(conn, contract_event(OrganisationCorrected, corrected, partners.get(partner_id)))
    return contract_out(corrected, partners)


# ---- webhook -------------------------------------------------------------------------------------


class WebhookIn(StrictModel):
    url: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True,
            max_length=2000,
            # https://, or http:// to this machine (development); a host is required.
            pattern=r"^(https://[A-Za-z0-9.-]+|http://(localhost|127\.0\.0\.1|\[::1\]))(:[0-9]{1,5})?([/?#]\S*)?$",
        ),
    ]

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        local = parts.hostname in ("localhost", "127.0.0.1", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and local):
            raise ValueError("a webhook URL is https:// (http:// only to this machine, for development)")
        if not parts.hostname:
            raise ValueError("the URL has no host")
        return value


class WebhookOut(BaseModel):
    url: str
    # Shown when set: signatures are HMAC-SHA256 of "<timestamp>.<body>" with this secret.
    secret: str | None = None


@routes.post(
    "/v1/partner/webhook",
    summary="Set the URL that receives contract outcomes, signed (HMAC-SHA256); a new secret each time",
    auth=True,
    body=WebhookIn,
    response=WebhookOut,
    errors=(403, 422),
    tags=("partner",),
    callers=("partner",),
)
async def set_webhook(request: web.Request, caller: Caller, body: WebhookIn) -> WebhookOut:
    partner_id = caller.require_partner()
    secret = secrets.token_urlsafe(32)
    async with request.app[POOL].acquire() as conn:
        await store.set_webhook(conn, partner_id, body.url, secret, request.app[CLOCK].now())
    return WebhookOut(url=body.url, secret=secret)


@routes.get(
    "/v1/partner/webhook",
    summary="The partner's webhook URL",
    auth=True,
    response=WebhookOut,
    errors=(403, 404),
    tags=("partner",),
    callers=("partner",),
)
async def get_webhook(request: web.Request, caller: Caller) -> WebhookOut:
    partner_id = caller.require_partner()
    async with request.app[POOL].acquire() as conn:
        hook = await store.webhook(conn, partner_id)
    if hook is None:
        raise NotFound("no webhook is set")
    return WebhookOut(url=hook.url)


@routes.delete(
    "/v1/partner/webhook",
    summary="Stop sending contract outcomes to the webhook",
    auth=True,
    errors=(403, 404),
    tags=("partner",),
    callers=("partner",),
    status=204,
)
async def delete_webhook(request: web.Request, caller: Caller) -> None:
    partner_id = caller.require_partner()
    async with request.app[POOL].acquire() as conn:
        if not await store.delete_webhook(conn, partner_id):
            raise NotFound("no webhook is set")


__all__ = ["PROCESS_JOB", "routes"]
