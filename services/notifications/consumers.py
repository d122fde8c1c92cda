"""Events that ask for an e-mail (identity's, registration's, contracts'): render it, log the delivery, schedule
the send.

Each handler runs in the consumer's inbox transaction, so the delivery row, its
`send_email` job and the inbox record commit together: a redelivered event
changes nothing, and a crash before the commit leaves nothing half done.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

from services.notifications import store
from services.notifications.domain import (
    SEND_EMAIL_JOB,
    EmailRequest,
    Unsendable,
    contract_activated_email,
    invitation_accepted_email,
    invitation_email,
    maintenance_activated_email,
    organisation_error_email,
    password_reset_email,
    pick_language,
    products_authorised_email,
    verification_email,
)
from services.notifications.rendering import Renderer
from shared.clock import Clock
from shared.consumer import EventHandler, PermanentFailure, Subscription
from shared.db import Connection
from shared.events import E, Envelope, unwrap
from shared.events.contracts import ContractActivated, MaintenanceActivated, OrganisationErrorReported
from shared.events.identity import (
    EmailVerificationRequested,
    InvitationAccepted,
    InvitationSent,
    PasswordResetRequested,
)
from shared.events.registration import PartnerAuthorisedProducts
from shared.jobs import schedule
from shared.logging import get_contextvars_ids, get_logger

log = get_logger(__name__)

IDENTITY_QUEUE = "notifications.identity"
REGISTRATION_QUEUE = "notifications.registration"
CONTRACTS_QUEUE = "notifications.contracts"


def identity_subscription(renderer: Renderer, clock: Clock, zone: ZoneInfo) -> Subscription:
    """The queue is bound to exactly the event types below."""
    handlers: dict[str, EventHandler] = {
        EmailVerificationRequested.TYPE: email_for(
            renderer, clock, EmailVerificationRequested, lambda event: verification_email(event, zone)
        ),
        PasswordResetRequested.TYPE: email_for(
            renderer, clock, PasswordResetRequested, lambda event: password_reset_email(event, zone)
        ),
        InvitationSent.TYPE: email_for(renderer, clock, InvitationSent, lambda event: invitation_email(event, zone)),
        # To the owner, in the owner's language.
        InvitationAccepted.TYPE: email_for(
            renderer, clock, InvitationAccepted, invitation_accepted_email, language_field="owner_language"
        ),
    }
    return Subscription(IDENTITY_QUEUE, handlers)


def registration_subscription(renderer: Renderer, clock: Clock) -> Subscription:
    """The queue is bound to exactly the event types below; its own queue, so identity's traffic never
    waits behind registration's (and a registration DLQ holds registration's events only)."""
    handlers: dict[str, EventHandler] = {
        # rule REG-5: the partner's letter goes to the subscriber's owner, in the owner's language.
        PartnerAuthorisedProducts.TYPE: email_for(
            renderer, clock, PartnerAuthorisedProducts, products_authorised_email, language_field="owner_language"
        ),
    }
    return Subscription(REGISTRATION_QUEUE, handlers)


def contracts_subscription(renderer: Renderer, clock: Clock, zone: ZoneInfo) -> Subscription:
    """The queue is bound to exactly the event types below; its own queue, like registration's. The letters go
    to partners, whose language the events do not carry: `PARTNER_LANGUAGE` (see domain.py)."""
    handlers: dict[str, EventHandler] = {
        # rule ITS-2: the outcome of the contract the partner's system posted.
        ContractActivated.TYPE: email_for(
            renderer, clock, ContractActivated, lambda event: contract_activated_email(event, zone), language_field=None
        ),
        # rule ITS-6: a subscriber reports wrong organisation data to the accompanying partner.
        OrganisationErrorReported.TYPE: email_for(
            renderer,
            clock,
            OrganisationErrorReported,
            lambda event: organisation_error_email(event, zone),
            language_field=None,
        ),
        # rule CMS-7: the chosen partner is told; no partner chosen, no e-mail.
        MaintenanceActivated.TYPE: email_for(
            renderer, clock, MaintenanceActivated, maintenance_activated_email, language_field=None
        ),
    }
    return Subscription(CONTRACTS_QUEUE, handlers)


def email_for(
    renderer: Renderer,
    clock: Clock,
    model: type[E],
    build: Callable[[E], EmailRequest | None],
    *,
    language_field: str | None = "language",
) -> EventHandler:
    """A handler that sends the e-mail `build` makes of the event, in the language of `language_field` (None:
    the event carries no language, `build` picks it).

    `build` returns None for an event that needs no e-mail: it is then handled (recorded in the inbox, acked)
    with nothing sent and nothing logged in the deliveries.
    """

    async def handle(conn: Connection, envelope: Envelope) -> None:
        event = _event(envelope, model, language_field)
        with _unsendable_is_permanent():
            request = build(event)
        if request is None:
            log.info("mail.not_needed", event_id=str(envelope.id), event_type=envelope.type)
            return
        await _deliver(conn, envelope, request, renderer, clock)

    return handle


def _event(envelope: Envelope, model: type[E], language_field: str | None = "language") -> E:
    """The event's data (not fitting the schema: ValidationError, the message is parked).

    A language we have no templates for becomes English before validation.
    """
    if language_field is None:
        return unwrap(envelope, model)
    data = {**envelope.data, language_field: pick_language(envelope.data.get(language_field))}
    return unwrap(envelope.model_copy(update={"data": data}), model)


@contextlib.contextmanager
def _unsendable_is_permanent() -> Iterator[None]:
    """No retry can fix a bad address or link: park the event at once, with the reason."""
    try:
        yield
    except Unsendable as exc:
        raise PermanentFailure(str(exc)) from exc


async def _deliver(
    conn: Connection, envelope: Envelope, request: EmailRequest, renderer: Renderer, clock: Clock
) -> None:
    email = renderer.render(request.template, request.language, request.context)
    now = clock.now()
    delivery_id = await store.insert_delivery(
        conn,
        event_id=envelope.id,
        event_type=envelope.type,
        recipient=request.recipient,
        template=request.template,
        language=request.language,
        email=email,
        created_at=now,
    )
    if delivery_id is None:
        # The inbox already stops a redelivery; this catches the same event reaching us another way.
        log.info("mail.already_delivered", event_id=str(envelope.id))
        return
    # The flow's correlation id rides with the job, so the send is logged under it too.
    correlation_id = get_contextvars_ids().correlation_id or str(envelope.id)
    await schedule(
        conn,
        SEND_EMAIL_JOB,
        {"delivery_id": delivery_id, "correlation_id": correlation_id},
        now,
        dedupe_key=f"delivery:{delivery_id}",
    )
