"""Events that ask for an e-mail (identity's, registration's, contracts', updates', support's): render it, log the
delivery, schedule the send; and the events that keep the read models release news and support's letters need
(read_models.py).

Each handler runs in the consumer's inbox transaction, so the delivery rows, their
`send_email` jobs and the inbox record commit together: a redelivered event
changes nothing, and a crash before the commit leaves nothing half done.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from zoneinfo import ZoneInfo

from services.notifications import read_models
from services.notifications.addresses import Unsendable
from services.notifications.announcements import announce_form, announce_release
from services.notifications.deliveries import queue_emails
from services.notifications.languages import unwrap_in_our_languages
from services.notifications.letters import (
    EmailRequest,
    contract_activated_email,
    email_change_email,
    email_changed_email,
    invitation_accepted_email,
    invitation_email,
    maintenance_activated_email,
    organisation_error_email,
    password_reset_email,
    products_authorised_email,
    verification_email,
)
from services.notifications.releases import ReleaseLinks
from services.notifications.rendering import Renderer
from services.notifications.support_letters import SupportDesk, SupportLinks
from services.notifications.support_mail import LETTER_EVENTS, support_letters
from shared.clock import Clock
from shared.consumer import EventHandler, PermanentFailure, Subscription
from shared.db import Connection
from shared.events import E, Envelope, unwrap
from shared.events.contracts import ContractActivated, MaintenanceActivated, OrganisationErrorReported
from shared.events.identity import (
    AccountNameChanged,
    AccountRegistered,
    EmailChanged,
    EmailChangeRequested,
    EmailVerificationRequested,
    EmailVerified,
    InvitationAccepted,
    InvitationSent,
    PartnerCreated,
    PartnerStaffJoined,
    PartnerStaffRemoved,
    PasswordResetRequested,
    SubscriberCreated,
    SubscriberRenamed,
)
from shared.events.registration import (
    PartnerAuthorisedProducts,
    ProductActivated,
    ProductRegistered,
    ProductTransferred,
)
from shared.events.updates import ReleasePublished, ReportingFormPublished
from shared.logging import get_contextvars_ids, get_logger

log = get_logger(__name__)

IDENTITY_QUEUE = "notifications.identity"
REGISTRATION_QUEUE = "notifications.registration"
CONTRACTS_QUEUE = "notifications.contracts"
UPDATES_QUEUE = "notifications.updates"
SUPPORT_QUEUE = "notifications.support"


def identity_subscription(renderer: Renderer, clock: Clock, zone: ZoneInfo) -> Subscription:
    """The queue is bound to exactly the event types below."""
    handlers: dict[str, EventHandler] = {
        EmailVerificationRequested.TYPE: email_for(
            renderer, clock, EmailVerificationRequested, lambda event: verification_email(event, zone)
        ),
        PasswordResetRequested.TYPE: email_for(
            renderer, clock, PasswordResetRequested, lambda event: password_reset_email(event, zone)
        ),
        # ACC-4: the link to the new address; then the old address is told (and the read model learns the new one).
        EmailChangeRequested.TYPE: email_for(
            renderer, clock, EmailChangeRequested, lambda event: email_change_email(event, zone)
        ),
        EmailChanged.TYPE: email_changed(renderer, clock, zone),
        InvitationSent.TYPE: email_for(renderer, clock, InvitationSent, lambda event: invitation_email(event, zone)),
        # To the owner, in the owner's language.
        InvitationAccepted.TYPE: email_for(
            renderer, clock, InvitationAccepted, invitation_accepted_email, language_field="owner_language"
        ),
        # Read models for release news: owners (SUB-1), their addresses, names and languages.
        AccountRegistered.TYPE: read_models.account_registered,
        EmailVerified.TYPE: read_models.email_verified,
        AccountNameChanged.TYPE: read_models.account_name_changed,
        SubscriberCreated.TYPE: read_models.subscriber_created,
        SubscriberRenamed.TYPE: read_models.subscriber_renamed,
        # Read models for support's letters (SUP-1): the partners, their staff and admins.
        PartnerCreated.TYPE: read_models.partner_created,
        PartnerStaffJoined.TYPE: read_models.partner_staff_joined,
        PartnerStaffRemoved.TYPE: read_models.partner_staff_removed,
    }
    return Subscription(IDENTITY_QUEUE, handlers)


def email_changed(renderer: Renderer, clock: Clock, zone: ZoneInfo) -> EventHandler:
    """ACC-4: the letter to the old address and the read model's new address, in one inbox transaction."""
    tell_old_address = email_for(renderer, clock, EmailChanged, lambda event: email_changed_email(event, zone))

    async def handle(conn: Connection, envelope: Envelope) -> None:
        await tell_old_address(conn, envelope)
        await read_models.email_changed(conn, envelope)

    return handle


def registration_subscription(renderer: Renderer, clock: Clock) -> Subscription:
    """The queue is bound to exactly the event types below; its own queue, so identity's traffic never
    waits behind registration's (and a registration DLQ holds registration's events only)."""
    handlers: dict[str, EventHandler] = {
        # rule REG-5: the partner's letter goes to the subscriber's owner, in the owner's language.
        PartnerAuthorisedProducts.TYPE: email_for(
            renderer, clock, PartnerAuthorisedProducts, products_authorised_email, language_field="owner_language"
        ),
        # Read model for release news: which subscriber holds which configurations from when (REG-3, REG-6).
        ProductRegistered.TYPE: read_models.product_registered,
        ProductActivated.TYPE: read_models.product_activated,
        ProductTransferred.TYPE: read_models.product_transferred,
    }
    return Subscription(REGISTRATION_QUEUE, handlers)


def contracts_subscription(renderer: Renderer, clock: Clock, zone: ZoneInfo) -> Subscription:
    """The queue is bound to exactly the event types below; its own queue, like registration's. The letters go
    to partners, whose language the events do not carry: `PARTNER_LANGUAGE` (see languages.py)."""
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


def updates_subscription(renderer: Renderer, clock: Clock, links: ReleaseLinks) -> Subscription:
    """The queue is bound to exactly the event types below; its own queue, so a release's thousands of e-mails
    never hold up identity's or registration's letters."""
    return Subscription(
        UPDATES_QUEUE,
        {
            ReleasePublished.TYPE: release_news(renderer, clock, links),
            ReportingFormPublished.TYPE: form_news(renderer, clock, links),
        },
    )


def support_subscription(
    renderer: Renderer, clock: Clock, links: SupportLinks, desk: SupportDesk, zone: ZoneInfo
) -> Subscription:
    """SUP-1: a new question to the staff who answer it, an answer to the asker, an overdue question to the partner's
    admins or the operators (support_mail.py). Its own queue, like the other producers'."""

    async def handle(conn: Connection, envelope: Envelope) -> None:
        with _unsendable_is_permanent():
            requests = await support_letters(conn, envelope, links, desk, zone)
        await queue_emails(
            conn,
            renderer,
            requests,
            event_id=envelope.id,
            event_type=envelope.type,
            correlation_id=_correlation_id(envelope),
            now=clock.now(),
        )

    return Subscription(SUPPORT_QUEUE, dict.fromkeys(LETTER_EVENTS, handle))


def release_news(renderer: Renderer, clock: Clock, links: ReleaseLinks) -> EventHandler:
    """UPD-3: the release announced to the owners it concerns (announcements.py)."""
    return _news(renderer, clock, links, ReleasePublished, announce_release)


def form_news(renderer: Renderer, clock: Clock, links: ReleaseLinks) -> EventHandler:
    """DAT-2: a published reporting form announced to the owners it concerns (announcements.py)."""
    return _news(renderer, clock, links, ReportingFormPublished, announce_form)


def _news(
    renderer: Renderer, clock: Clock, links: ReleaseLinks, model: type[E], announce: Callable[..., Awaitable[None]]
) -> EventHandler:
    """News of what updates published, announced to the owners it concerns at the moment it was published; an event
    that can never be announced (no configuration, a bad link) is parked at once."""

    async def handle(conn: Connection, envelope: Envelope) -> None:
        event = unwrap(envelope, model)
        with _unsendable_is_permanent():
            await announce(
                conn,
                renderer,
                links,
                event,
                event_id=envelope.id,
                event_type=envelope.type,
                published_at=envelope.occurred_at,
                correlation_id=_correlation_id(envelope),
                now=clock.now(),
            )

    return handle


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
        event = unwrap_in_our_languages(envelope, model, language_field)
        with _unsendable_is_permanent():
            request = build(event)
        if request is None:
            log.info("mail.not_needed", event_id=str(envelope.id), event_type=envelope.type)
            return
        await queue_emails(
            conn,
            renderer,
            [request],
            event_id=envelope.id,
            event_type=envelope.type,
            correlation_id=_correlation_id(envelope),
            now=clock.now(),
        )

    return handle


def _correlation_id(envelope: Envelope) -> str:
    """The flow's correlation id, to ride with the send jobs."""
    return get_contextvars_ids().correlation_id or str(envelope.id)


@contextlib.contextmanager
def _unsendable_is_permanent() -> Iterator[None]:
    """No retry can fix a bad address or link: park the event at once, with the reason."""
    try:
        yield
    except Unsendable as exc:
        raise PermanentFailure(str(exc)) from exc
