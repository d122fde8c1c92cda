"""registration for the vendor's support (operators): a number's story, and transfers between subscribers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

from services.registration import support
from services.registration.api import OPERATOR, NumberPath, ProductRef, RegistrationOut, Transfer, registration_out
from services.registration.problems import refusals_answered
from shared.auth import Caller
from shared.events.registration import RegisteredBy
from shared.http import Api
from shared.keys import CLOCK, OUTBOX, POOL

routes = Api("ITS Portal registration: support")

# ---- support: a number's story, and transfers (operators) -----------------------------------


class TransferOut(BaseModel):
    from_subscriber_code: str | None  # None: a subscriber this service never learnt of
    to_subscriber_code: str | None
    reason: str
    at: datetime


class NumberRecord(BaseModel):
    """What the vendor's support sees of one registration number."""

    registration_number: str
    product: ProductRef
    issued_at: datetime
    with_pin: bool
    state: Literal["issued", "pending", "active"]
    subscriber_code: str | None
    registered_by: RegisteredBy | None
    partner: str | None
    purchase_date: date | None
    registered_at: datetime | None
    active_from: datetime | None
    card: dict[str, Any] | None
    transfers: list[TransferOut]


@routes.get(
    # Digits only: `/v1/registrations/pin` and `/partner` are other resources, never a number (422).
    "/v1/registrations/{number:[0-9]+}",
    summary="A registration number: product, subscriber, card and transfers (operators)",
    scope=OPERATOR,
    params=NumberPath,
    response=NumberRecord,
    errors=(404,),
    tags=("registrations",),
)
async def number_record(request: web.Request, caller: Caller, params: NumberPath) -> NumberRecord:
    with refusals_answered():
        story = await support.number_story(request.app[POOL], params.number)
    r = story.registration
    return NumberRecord(
        registration_number=r.number,
        product=ProductRef(article=r.article, name=r.product_name, edition=r.edition, configurations=r.configurations),
        issued_at=story.issued_at,
        with_pin=r.pin_hash is not None,
        state=r.state,
        subscriber_code=r.subscriber_code,
        registered_by=r.registered_by,
        partner=story.partner_name,
        purchase_date=r.purchase_date,
        registered_at=r.registered_at,
        active_from=r.active_from,
        card=story.card,
        transfers=[TransferOut(**t) for t in story.transfers],
    )


@routes.post(
    "/v1/registrations/{number:[0-9]+}/transfer",
    summary="Move a registered product to another subscriber (operators; audited)",
    scope=OPERATOR,
    params=NumberPath,
    body=Transfer,
    response=RegistrationOut,
    errors=(404, 409),
    tags=("registrations",),
)
async def transfer(request: web.Request, caller: Caller, params: NumberPath, body: Transfer) -> RegistrationOut:
    app = request.app
    with refusals_answered():
        moved, partners = await support.transfer(
            app[POOL],
            app[OUTBOX],
            now=app[CLOCK].now(),
            operator_id=caller.account_id,
            number=params.number,
            subscriber_code=body.subscriber_code,
            reason=body.reason,
        )
    return registration_out(moved, partners)
