"""contracts' API for configuration maintenance services: activation codes and activations (CMS-1..7).

Operators issue codes (for partners' envelopes and online sale); a subscriber's owner activates one
for a registered product; the use cases are in activation_codes.py and activations.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, Field, StringConstraints

from rules.months import Month
from rules.refusal import Refused
from services.contracts import activation_codes, activations
from services.contracts.api_models import PeriodOut
from services.contracts.keys import today
from services.contracts.path_ids import id_in_path
from services.contracts.problems import ActivationRefused, activation_problem
from shared.auth import Caller
from shared.http import Api, Link
from shared.keys import CLOCK, OUTBOX, POOL
from shared.parsing import StrictModel

routes = Api("ITS Portal contracts: maintenance services")

OPERATOR = "operator"


class CodesIn(StrictModel):
    category: Literal[1, 2]  # CMS-2
    months: int = Field(ge=1, le=36)  # CMS-5: whole months
    count: int = Field(ge=1, le=activation_codes.MAX_CODES)


class CodesOut(BaseModel):
    batch_id: uuid.UUID
    category: int
    months: int
    codes: list[str]  # shown once; only their hashes are kept


@routes.post(
    "/v1/maintenance-services/codes",
    summary="Issue activation codes for a category and a number of months (operators); shown once",
    scope=OPERATOR,
    body=CodesIn,
    response=CodesOut,
    status=201,
    errors=(422,),
    tags=("maintenance",),
)
async def issue_codes(request: web.Request, caller: Caller, body: CodesIn) -> CodesOut:
    batch_id, codes = await activation_codes.issue_codes(
        request.app[POOL], category=body.category, months=body.months, count=body.count, now=request.app[CLOCK].now()
    )
    return CodesOut(batch_id=batch_id, category=body.category, months=body.months, codes=codes)


class ActivateIn(StrictModel):
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=16, max_length=40)]
    registration_number: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6,20}$")]
    period_from: Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
    # Needed only when the product has several configurations of the code's category.
    configuration: str | None = None
    # CMS-7: the accompanying partner, when the subscriber's contracts have several.
    partner_id: uuid.UUID | None = None


class ActivationOut(BaseModel):
    id: uuid.UUID
    configuration: str
    category: int
    period: PeriodOut
    registration_numbers: list[str]  # CMS-3: every product of the subscriber with this configuration
    # CMS-6: the months of the period without a valid ITS contract, as of this answer (computed when read).
    warning: str | None
    partner: str | None  # CMS-7: notified automatically
    partner_id: uuid.UUID | None
    partner_choice: str
    covered_now: bool  # the current month is in the period
    activated_at: datetime


class ActivationList(BaseModel):
    items: list[ActivationOut]


@routes.post(
    "/v1/maintenance-services/activate",
    summary="Activate a maintenance service with a code for a registered product (owner; CMS-1..7)",
    auth=True,
    body=ActivateIn,
    response=ActivationOut,
    status=201,
    errors=(403, 404, 409, 422),
    tags=("maintenance",),
    links={"ChoosePartner": Link("choose_partner", {"activation_id": "$response.body#/id"})},
)
async def activate(request: web.Request, caller: Caller, body: ActivateIn) -> ActivationOut:
    subscriber = caller.require_owner()  # SUB-4
    now, current = request.app[CLOCK].now(), Month.of(today(request.app))
    try:
        start = Month.parse(body.period_from)
    except ValueError as exc:
        raise ActivationRefused(str(exc), field="period_from") from None
    try:
        view = await activations.activate(
            request.app[POOL],
            request.app[OUTBOX],
            now=now,
            current=current,
            subscriber_id=subscriber.id,
            subscriber_code=subscriber.code,
            account_id=caller.account_id,
            code=body.code,
            registration_number=body.registration_number,
            start=start,
            configuration=body.configuration,
            partner_id=body.partner_id,
        )
    except Refused as refused:
        raise activation_problem(refused) from None
    return _out(view, current)


def _out(view: activations.ActivationView, current: Month) -> ActivationOut:
    a = view.activation
    return ActivationOut(
        id=a.id,
        configuration=a.configuration,
        category=a.category,
        period=PeriodOut(from_=a.period_from, to=a.period_to),
        registration_numbers=view.served.registration_numbers,
        warning=view.served.warning,
        partner=view.partner.name if view.partner else None,
        partner_id=a.partner_id,
        partner_choice=view.partner_choice,
        covered_now=current in a.period,
        activated_at=a.activated_at,
    )


@routes.get(
    "/v1/maintenance-services",
    summary="The subscriber's maintenance service activations, with coverage and warnings",
    auth=True,
    response=ActivationList,
    errors=(403,),
    tags=("maintenance",),
)
async def list_activations(request: web.Request, caller: Caller) -> ActivationList:
    subscriber = caller.require_subscriber()
    current = Month.of(today(request.app))
    found = await activations.subscriber_activations(request.app[POOL], subscriber.id)
    return ActivationList(items=[_out(view, current) for view in found])


class PartnerChoiceIn(StrictModel):
    partner_id: uuid.UUID


@routes.route(
    "PUT",
    "/v1/maintenance-services/{activation_id:uuid}/partner",
    summary="Choose the accompanying partner later (CMS-7, owner); the partner is notified",
    auth=True,
    body=PartnerChoiceIn,
    response=ActivationOut,
    errors=(403, 404, 409, 422),
    tags=("maintenance",),
)
async def choose_partner(request: web.Request, caller: Caller, body: PartnerChoiceIn) -> ActivationOut:
    subscriber = caller.require_owner()
    activation_id = id_in_path(request, "activation_id", "no such activation")
    current = Month.of(today(request.app))
    try:
        view = await activations.choose_partner(
            request.app[POOL],
            request.app[OUTBOX],
            subscriber_id=subscriber.id,
            subscriber_code=subscriber.code,
            activation_id=activation_id,
            partner_id=body.partner_id,
        )
    except Refused as refused:
        raise activation_problem(refused) from None
    return _out(view, current)
