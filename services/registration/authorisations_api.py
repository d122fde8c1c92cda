"""registration's partner authorisations (REG-5): a partner registers a product to a subscriber's code."""

from __future__ import annotations

from aiohttp import web

from services.registration import authorisations
from services.registration.api import PartnerAuthorisation, RegistrationOut, registration_out
from services.registration.keys import SETTINGS
from services.registration.problems import refusals_answered
from shared.auth import Caller
from shared.http import Api
from shared.keys import CLOCK, OUTBOX, POOL

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
    app = request.app
    with refusals_answered():
        registration, partners = await authorisations.authorise(
            app[POOL],
            app[OUTBOX],
            now=app[CLOCK].now(),
            zone=app[SETTINGS].vendor_zone,
            partner_id=partner_id,
            account_id=caller.account_id,
            number=body.registration_number,
            subscriber_code=body.subscriber_code,
            purchase_date=body.purchase_date,
        )
    return registration_out(registration, partners)
