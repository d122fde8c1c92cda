"""registration's partner authorisations (REG-5): a partner registers a product to a subscriber's code."""

from __future__ import annotations

from aiohttp import web

from services.registration import store
from services.registration.api import (
    PartnerAuthorisation,
    RegisteredElsewhere,
    RegistrationOut,
    _not_in_future,
    _registered,
    _registration_out,
    log,
    product_event,
    vendor_today,
)
from shared.app import CLOCK, OUTBOX, POOL
from shared.auth import Caller
from shared.db import Connection
from shared.events.registration import (
    AuthorisedProduct,
    PartnerAuthorisedProducts,
    ProductActivated,
    ProductRegistered,
)
from shared.http import Api
from shared.outbox import Outbox
from shared.problems import ValidationFailed, invalid

routes = Api("ITS Portal registration: authorisations")

# ---- partner authorisation (REG-5) ----------------------------------------------------------


@routes.post(
    "/v1/registrations/partner",
    summary="Authorise a product for a subscriber code (partners); active at once",
    auth=True,
    body=PartnerAuthorisation,
    response=RegistrationOut,
    errors=(403, 409, 422),
    tags=("registrations",),
)
async def authorise(request: web.Request, caller: Caller, body: PartnerAuthorisation) -> RegistrationOut:
    """Repeating an authorisation already made for the same subscriber answers it again (a retry is safe)."""
    partner_id = caller.require_partner()  # rule REG-5: partners authorise products
    _not_in_future(body.purchase_date, vendor_today(request), "purchase_date")
    app, now, number = request.app, request.app[CLOCK].now(), body.registration_number
    async with app[POOL].acquire() as conn, conn.transaction():
        subscriber = await store.subscriber_by_code(conn, body.subscriber_code)
        if subscriber is None:
            raise ValidationFailed([invalid("subscriber_code", "no subscriber has this code", "subscriber_unknown")])
        registration = await store.lock_number(conn, number)
        if registration is None:
            raise ValidationFailed([invalid("registration_number", "no product has this number", "product_unknown")])
        partners = await store.partner_names(conn, [partner_id])
        if registration.subscriber_id == subscriber.id:
            return _registration_out(registration, partners)
        if registration.subscriber_id is not None:
            raise RegisteredElsewhere(
                "This number is registered to another subscriber. Moving it is done by the vendor's "
                "support (an audited transfer)."
            )
        await store.register(
            conn,
            number,
            subscriber_id=subscriber.id,
            subscriber_code=subscriber.code,
            registered_by="partner",
            partner_id=partner_id,
            account_id=caller.account_id,
            purchase_date=body.purchase_date,
            card=None,
            now=now,
            active_from=now,
            pin_used=False,
        )
        registration = await _registered(conn, number)
        await app[OUTBOX].add(conn, product_event(ProductRegistered, registration))
        await app[OUTBOX].add(conn, product_event(ProductActivated, registration))
        await _partner_letter(app[OUTBOX], conn, subscriber, registration, partners.get(partner_id))
    return _registration_out(registration, partners)


async def _partner_letter(
    outbox: Outbox,
    conn: Connection,
    subscriber: store.Subscriber,
    registration: store.Registration,
    partner_name: str | None,
) -> None:
    """REG-5: the owner learns by e-mail what the partner authorised."""
    if subscriber.owner_email is None or registration.partner_id is None or registration.purchase_date is None:
        # The owner's account is not known here yet (identity announces it with the subscriber, so this
        # is rare): the product is registered all the same; the owner sees it in the list.
        log.warning("registration.partner_letter_skipped", subscriber_code=subscriber.code, number=registration.number)
        return
    await outbox.add(
        conn,
        PartnerAuthorisedProducts(
            subscriber_id=subscriber.id,
            subscriber_code=subscriber.code,
            subscriber_name=subscriber.name,
            partner_id=registration.partner_id,
            partner_name=partner_name or "Your partner",
            purchase_date=registration.purchase_date,
            products=[
                AuthorisedProduct(
                    registration_number=registration.number,
                    product_name=registration.product_name,
                    edition=registration.edition,
                    configurations=registration.configurations,
                )
            ],
            owner_email=subscriber.owner_email,
            owner_name=subscriber.owner_name or subscriber.name,
            owner_language="ru" if subscriber.owner_language == "ru" else "en",
        ),
    )
