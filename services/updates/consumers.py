"""Read models of other services' events, so that updates never calls them (UPD-3, UPD-4).

registration: configuration names, the products that include each configuration (offers, REG-6), and
which subscriber holds which registration number from when (REG-3); contracts: the months each
contract covers (ITS-1, ITS-7). Each handler is an upsert keyed by the event's ids, so a duplicate
leaves the same state; each change also tells the replicas' caches (entitlement_store.announce).
"""

from __future__ import annotations

from rules.months import Period
from services.updates import entitlement_store as store
from shared.consumer import PermanentFailure, Subscription
from shared.db import Connection
from shared.events import Envelope, unwrap
from shared.events.contracts import ContractActivated, ContractExpired
from shared.events.registration import (
    ConfigurationChanged,
    ProductActivated,
    ProductChanged,
    ProductRegistered,
    ProductTransferred,
    RegisteredProductEvent,
)

REGISTRATION_QUEUE = "updates.registration"
CONTRACTS_QUEUE = "updates.contracts"


async def configuration_changed(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, ConfigurationChanged)
    await store.save_configuration(conn, event.code, event.name, envelope.occurred_at)


async def product_changed(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, ProductChanged)
    await store.save_product(conn, event.article, event.name, event.edition, event.configurations, event.its_required)


async def _save(conn: Connection, envelope: Envelope, event: RegisteredProductEvent) -> None:
    product = store.RegisteredProduct(
        registration_number=event.registration_number,
        subscriber_id=event.subscriber_id,
        subscriber_code=event.subscriber_code,
        article=event.article,
        product_name=event.product_name,
        edition=event.edition,
        configurations=event.configurations,
        its_required=event.its_required,
        purchase_date=event.purchase_date,
        active_from=event.active_from,
    )
    await store.save_registered_product(conn, product, envelope.occurred_at)


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
    await store.cover(conn, event.contract_id, event.registration_numbers, period)


async def contract_expired(conn: Connection, envelope: Envelope) -> None:
    event = unwrap(envelope, ContractExpired)
    await store.uncover(conn, event.contract_id, envelope.occurred_at)


def subscriptions() -> list[Subscription]:
    return [
        Subscription(
            REGISTRATION_QUEUE,
            {
                ConfigurationChanged.TYPE: configuration_changed,
                ProductChanged.TYPE: product_changed,
                ProductRegistered.TYPE: product_registered,
                ProductActivated.TYPE: product_activated,
                ProductTransferred.TYPE: product_transferred,
            },
        ),
        Subscription(
            CONTRACTS_QUEUE,
            {
                ContractActivated.TYPE: contract_activated,
                ContractExpired.TYPE: contract_expired,
            },
        ),
    ]
