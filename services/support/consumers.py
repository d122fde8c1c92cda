"""Read models of other services' events, so that support never calls them (SUP-1): registration's registered
products (who may ask about what), contracts' activated and expired contracts (which partner accompanies a
product now), identity's partners (their names); updates' articles, for the knowledge base (SUP-2). Each handler
is an upsert keyed by the event's ids, so a duplicate leaves the same state; a message that does not fit its schema
is parked by the kernel's consumer."""

from __future__ import annotations

from rules.months import Period
from services.support import knowledge, read_models
from shared.consumer import PermanentFailure, Subscription
from shared.db import Connection
from shared.events import Envelope, unwrap
from shared.events.contracts import ContractActivated, ContractExpired
from shared.events.identity import PartnerCreated
from shared.events.registration import ProductActivated, ProductRegistered, ProductTransferred, RegisteredProductEvent
from shared.events.updates import ArticleSaved, ArticleWithdrawn

REGISTRATION_QUEUE = "support.registration"
CONTRACTS_QUEUE = "support.contracts"
IDENTITY_QUEUE = "support.identity"
UPDATES_QUEUE = "support.updates"


async def _save(conn: Connection, envelope: Envelope, event: RegisteredProductEvent) -> None:
    await read_models.save_product(
        conn,
        registration_number=event.registration_number,
        subscriber_id=event.subscriber_id,
        subscriber_code=event.subscriber_code,
        product_name=event.product_name,
        edition=event.edition,
        configurations=event.configurations,
        its_required=event.its_required,
        purchase_date=event.purchase_date,
        active_from=event.active_from,
        occurred_at=envelope.occurred_at,
    )


async def product_registered(conn: Connection, envelope: Envelope) -> None:
    await _save(conn, envelope, unwrap(envelope, ProductRegistered))


async def product_activated(conn: Connection, envelope: Envelope) -> None:
    await _save(conn, envelope, unwrap(envelope, ProductActivated))


async def product_transferred(conn: Connection, envelope: Envelope) -> None:
    await _save(conn, envelope, unwrap(envelope, ProductTransferred))


async def contract_activated(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, ContractActivated)
    try:
        period = Period.parse(event.period_from, event.period_to)
    except ValueError as exc:  # ends before it starts: redelivering will not mend it
        raise PermanentFailure(str(exc)) from None
    await read_models.cover(
        conn, event.contract_id, event.registration_numbers, event.partner_id, event.partner_name, period
    )


async def contract_expired(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, ContractExpired)
    await read_models.uncover(conn, event.contract_id, envelope.occurred_at)


async def partner_created(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, PartnerCreated)
    await read_models.save_partner(conn, event.partner_id, event.name)


async def article_saved(conn: Connection, envelope: Envelope) -> None:
    """SUP-2: the vendor's article (UPD-6) in the knowledge base, as changed; an older version changes nothing."""
    event = unwrap(envelope, ArticleSaved)
    await knowledge.save_article(
        conn,
        slug=event.slug,
        configuration=event.configuration,
        title=event.title,
        markdown=event.body,
        updated_at=event.updated_at,
    )


async def article_withdrawn(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, ArticleWithdrawn)
    await knowledge.withdraw_article(conn, event.slug, event.withdrawn_at)


def subscriptions() -> list[Subscription]:
    return [
        Subscription(
            REGISTRATION_QUEUE,
            {
                ProductRegistered.TYPE: product_registered,
                ProductActivated.TYPE: product_activated,
                ProductTransferred.TYPE: product_transferred,
            },
        ),
        Subscription(
            CONTRACTS_QUEUE,
            {ContractActivated.TYPE: contract_activated, ContractExpired.TYPE: contract_expired},
        ),
        Subscription(IDENTITY_QUEUE, {PartnerCreated.TYPE: partner_created}),
        Subscription(UPDATES_QUEUE, {ArticleSaved.TYPE: article_saved, ArticleWithdrawn.TYPE: article_withdrawn}),
    ]
