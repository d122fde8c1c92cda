"""Read models of other services' events, so that contracts never calls them.

registration: the catalogue (configurations and their maintenance category, products) and which
subscriber holds which registration number (ITS-4, ITS-7, CMS-3); identity: subscribers' codes and
names, partners' names and addresses (for the partners' e-mails). Each handler is an upsert keyed by
the event's ids, so a duplicate leaves the same state.
"""

from __future__ import annotations

from services.contracts import read_models
from shared.consumer import Subscription
from shared.db import Connection
from shared.events import Envelope, unwrap
from shared.events.identity import PartnerCreated, SubscriberCreated, SubscriberRenamed
from shared.events.registration import (
    ConfigurationChanged,
    NumbersIssued,
    ProductActivated,
    ProductChanged,
    ProductRegistered,
    ProductTransferred,
    RegisteredProductEvent,
)

REGISTRATION_QUEUE = "contracts.registration"
IDENTITY_QUEUE = "contracts.identity"


async def configuration_changed(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, ConfigurationChanged)
    await read_models.save_configuration(conn, event.code, event.name, event.maintenance_category)


async def product_changed(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, ProductChanged)
    await read_models.save_product(
        conn, event.article, event.name, event.edition, event.configurations, event.its_required
    )


async def numbers_issued(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, NumbersIssued)
    await read_models.save_issued_numbers(conn, event.registration_numbers, event.article, event.edition)


def _number(event: RegisteredProductEvent, registration: str) -> read_models.Number:
    return read_models.Number(
        number=event.registration_number,
        article=event.article,
        edition=event.edition,
        subscriber_id=event.subscriber_id,
        subscriber_code=event.subscriber_code,
        purchase_date=event.purchase_date,
        its_required=event.its_required,
        configurations=event.configurations,
        registration=registration,
    )


async def product_registered(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, ProductRegistered)
    await read_models.save_registered_number(conn, _number(event, "pending"))


async def product_activated(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, ProductActivated)
    await read_models.save_registered_number(conn, _number(event, "active"))


async def product_transferred(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, ProductTransferred)
    state = "active" if event.active_from <= envelope.occurred_at else "pending"
    await read_models.save_registered_number(conn, _number(event, state))


async def subscriber_created(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, SubscriberCreated)
    await read_models.save_subscriber(conn, event.subscriber_id, event.code, event.name)


async def subscriber_renamed(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, SubscriberRenamed)
    await read_models.save_subscriber(conn, event.subscriber_id, event.code, event.name)


async def partner_created(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, PartnerCreated)
    await read_models.save_partner(conn, event.partner_id, event.name, event.contact_email)


def subscriptions() -> list[Subscription]:
    return [
        Subscription(
            REGISTRATION_QUEUE,
            {
                ConfigurationChanged.TYPE: configuration_changed,
                ProductChanged.TYPE: product_changed,
                NumbersIssued.TYPE: numbers_issued,
                ProductRegistered.TYPE: product_registered,
                ProductActivated.TYPE: product_activated,
                ProductTransferred.TYPE: product_transferred,
            },
        ),
        Subscription(
            IDENTITY_QUEUE,
            {
                SubscriberCreated.TYPE: subscriber_created,
                SubscriberRenamed.TYPE: subscriber_renamed,
                PartnerCreated.TYPE: partner_created,
            },
        ),
    ]
