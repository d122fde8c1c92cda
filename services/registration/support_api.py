"""registration for the vendor's support (operators): a number's story, and transfers between subscribers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

from services.registration import store
from services.registration.api import (
    OPERATOR,
    NumberPath,
    ProductRef,
    RegistrationOut,
    Transfer,
    _registered,
    _registration_out,
    product_event,
)
from shared.app import CLOCK, OUTBOX, POOL
from shared.auth import Caller
from shared.events.registration import (
    ProductTransferred,
    RegisteredBy,
)
from shared.http import Api
from shared.problems import Conflict, NotFound, ValidationFailed, invalid

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
    number = params.number
    async with request.app[POOL].acquire() as conn:
        record = await store.number_record(conn, number)
        if record is None:
            raise NotFound("no product has this registration number")
        r, issued_at, card = record
        partners = await store.partner_names(conn, [r.partner_id] if r.partner_id else [])
        transfers = await store.transfers(conn, number)
    return NumberRecord(
        registration_number=r.number,
        product=ProductRef(article=r.article, name=r.product_name, edition=r.edition, configurations=r.configurations),
        issued_at=issued_at,
        with_pin=r.pin_hash is not None,
        state=r.state,
        subscriber_code=r.subscriber_code,
        registered_by=r.registered_by,
        partner=partners.get(r.partner_id) if r.partner_id else None,
        purchase_date=r.purchase_date,
        registered_at=r.registered_at,
        active_from=r.active_from,
        card=card,
        transfers=[TransferOut(**t) for t in transfers],
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
    number = params.number
    app, now = request.app, request.app[CLOCK].now()
    async with app[POOL].acquire() as conn, conn.transaction():
        target = await store.subscriber_by_code(conn, body.subscriber_code)
        if target is None:
            raise ValidationFailed([invalid("subscriber_code", "no subscriber has this code", "subscriber_unknown")])
        registration = await store.lock_number(conn, number)
        if registration is None:
            raise NotFound("no product has this registration number")
        if registration.subscriber_id is None or registration.subscriber_code is None:
            raise Conflict("the product is not registered to anyone: nothing to transfer")
        if registration.subscriber_id == target.id:
            raise Conflict("the product is registered to this subscriber already")
        await store.transfer(
            conn,
            number,
            to_subscriber_id=target.id,
            to_subscriber_code=target.code,
            from_subscriber_id=registration.subscriber_id,
            operator_id=caller.account_id,
            reason=body.reason,
            now=now,
        )
        moved = await _registered(conn, number)
        await app[OUTBOX].add(
            conn,
            product_event(
                ProductTransferred,
                moved,
                from_subscriber_id=registration.subscriber_id,
                from_subscriber_code=registration.subscriber_code,
                reason=body.reason,
            ),
        )
        partners = await store.partner_names(conn, [moved.partner_id] if moved.partner_id else [])
    return _registration_out(moved, partners)
