"""Events that ask for an e-mail (identity's, registration's, contracts', updates'): render it, log the delivery,
schedule the send; and the events that keep the read models release news needs (read_models.py).

Each handler runs in the consumer's inbox transaction, so the delivery rows, their
`send_email` jobs and the inbox record commit together: a redelivered event
changes nothing, and a crash before the commit leaves nothing half done.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from zoneinfo import ZoneInfo

from services.notifications import read_models, store
from services.notifications.domain import (
    EmailRequest,
    ReleaseLinks,
    Unsendable,
    announces,
    contract_activated_email,
    invitation_accepted_email,
    invitation_email,
    maintenance_activated_email,
    organisation_error_email,
    password_reset_email,
    products_authorised_email,
    release_audience,
    release_email,
    unwrap_in_our_languages,
    verification_email,
)
from services.notifications.rendering import Renderer
from shared.clock import Clock
from shared.consumer import EventHandler, PermanentFailure, Subscription
from shared.db import Connection
from shared.events import E, Envelope, unwrap
from shared.events.contracts import ContractActivated, MaintenanceActivated, OrganisationErrorReported
from shared.events.identity import (
    AccountRegistered,
    EmailVerificationRequested,
    EmailVerified,
    InvitationAccepted,
    InvitationSent,
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
from shared.events.updates import ReleasePublished
from shared.logging import get_contextvars_ids, get_logger

log = get_logger(__name__)

IDENTITY_QUEUE = "notifications.identity"
REGISTRATION_QUEUE = "notifications.registration"
CONTRACTS_QUEUE = "notifications.contracts"
UPDATES_QUEUE = "notifications.updates"
# Deliveries rendered, inserted and scheduled per statement when one event writes to many accounts.
DELIVERY_CHUNK = 500


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
        # Read models for release news: owners (SUB-1), their addresses, names and languages.
        AccountRegistered.TYPE: read_models.account_registered,
        EmailVerified.TYPE: read_models.email_verified,
        SubscriberCreated.TYPE: read_models.subscriber_created,
        SubscriberRenamed.TYPE: read_models.subscriber_renamed,
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
        # Read model for release news: which subscriber holds which configurations from when (REG-3, REG-6).
        ProductRegistered.TYPE: read_models.product_registered,
        ProductActivated.TYPE: read_models.product_activated,
        ProductTransferred.TYPE: read_models.product_transferred,
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


def updates_subscription(renderer: Renderer, clock: Clock, links: ReleaseLinks) -> Subscription:
    """The queue is bound to exactly the event types below; its own queue, so a release's thousands of e-mails
    never hold up identity's or registration's letters."""
    return Subscription(UPDATES_QUEUE, {ReleasePublished.TYPE: release_news(renderer, clock, links)})


def release_news(renderer: Renderer, clock: Clock, links: ReleaseLinks) -> EventHandler:
    """UPD-3: one e-mail per owner of a subscriber registered for the released configuration (a platform
    release: with any active product) at the time it was published, unless the owner turned release news off.

    Each release is announced once (store.claim_release), whatever event brings it again; within the event,
    once per account (the deliveries' unique (event, account)).
    """

    async def handle(conn: Connection, envelope: Envelope) -> None:
        event = unwrap(envelope, ReleasePublished)
        if not announces(event):
            log.info("release.not_announced", release_id=str(event.release_id), prerelease=event.prerelease)
            return
        with _unsendable_is_permanent():
            configuration = release_audience(event)
            page_url = links.page(event)
        first = await store.claim_release(
            conn,
            event.release_id,
            event_id=envelope.id,
            kind=event.kind,
            configuration=configuration,
            version=event.version,
            at=clock.now(),
        )
        if not first:
            log.info("release.already_announced", release_id=str(event.release_id))
            return
        owners = await store.owners_to_tell(conn, configuration=configuration, at=envelope.occurred_at)
        requests: list[EmailRequest] = []
        for owner in owners:
            try:
                unsubscribe_url = links.unsubscribe(owner.account_id)
                requests.append(release_email(event, owner, page_url=page_url, unsubscribe_url=unsubscribe_url))
            except Unsendable as exc:  # one owner's bad address must not keep the others' e-mails back
                log.warning("mail.owner_unsendable", account_id=str(owner.account_id), error=str(exc))
        created = await _deliver(conn, envelope, requests, renderer, clock)
        await store.count_announced(conn, event.release_id, created)
        log.info("release.announced", release_id=str(event.release_id), owners=len(owners), deliveries=created)

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
        await _deliver(conn, envelope, [request], renderer, clock)

    return handle


@contextlib.contextmanager
def _unsendable_is_permanent() -> Iterator[None]:
    """No retry can fix a bad address or link: park the event at once, with the reason."""
    try:
        yield
    except Unsendable as exc:
        raise PermanentFailure(str(exc)) from exc


async def _deliver(
    conn: Connection, envelope: Envelope, requests: Sequence[EmailRequest], renderer: Renderer, clock: Clock
) -> int:
    """Render, log and schedule the e-mails the event asks for, a chunk per statement; how many are new."""
    now = clock.now()
    # The flow's correlation id rides with the jobs, so the sends are logged under it too.
    correlation_id = get_contextvars_ids().correlation_id or str(envelope.id)
    created = 0
    for start in range(0, len(requests), DELIVERY_CHUNK):
        chunk = requests[start : start + DELIVERY_CHUNK]
        deliveries = [
            store.NewDelivery(
                recipient=request.recipient,
                template=request.template,
                language=request.language,
                email=renderer.render(request.template, request.language, request.context),
                account_id=request.account_id,
                unsubscribe_url=request.unsubscribe_url,
            )
            for request in chunk
        ]
        ids = await store.insert_deliveries(
            conn, event_id=envelope.id, event_type=envelope.type, created_at=now, deliveries=deliveries
        )
        if len(ids) < len(deliveries):
            # The inbox already stops a redelivery; this catches the same event reaching us another way.
            log.info("mail.already_delivered", event_id=str(envelope.id), skipped=len(deliveries) - len(ids))
        if ids:
            await store.schedule_sends(conn, ids, correlation_id=correlation_id, run_at=now)
        created += len(ids)
    return created
