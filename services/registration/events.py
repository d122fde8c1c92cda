"""registration's records as the events it announces: the one place that maps a record to an outbox event,
for the use cases, the jobs and republish alike."""

from __future__ import annotations

import uuid
from typing import TypeVar

from services.registration import store
from shared.events.registration import (
    AuthorisedProduct,
    ConfigurationChanged,
    Edition,
    NumbersIssued,
    PartnerAuthorisedProducts,
    ProductChanged,
    RegisteredProductEvent,
)

P = TypeVar("P", bound=RegisteredProductEvent)


def product_event(event: type[P], r: store.Registration, **extra: object) -> P:
    """`event` about the registered product `r`, as it stands in this transaction."""
    return event.model_validate(
        {
            "registration_number": r.number,
            "subscriber_id": r.subscriber_id,
            "subscriber_code": r.subscriber_code,
            "article": r.article,
            "product_name": r.product_name,
            "edition": r.edition,
            "configurations": r.configurations,
            "its_required": r.its_required,
            "purchase_date": r.purchase_date,
            "registered_by": r.registered_by,
            "partner_id": r.partner_id,
            "active_from": r.active_from,
            **extra,
        }
    )


def configuration_changed(c: store.Configuration) -> ConfigurationChanged:
    return ConfigurationChanged(**c.__dict__)


def product_changed(p: store.Product) -> ProductChanged:
    return ProductChanged(**p.__dict__)


def numbers_issued(
    batch_id: uuid.UUID, article: str, edition: Edition, numbers: list[str], *, with_pin: bool
) -> NumbersIssued:
    return NumbersIssued(
        batch_id=batch_id, article=article, edition=edition, registration_numbers=numbers, with_pin=with_pin
    )


def partner_authorised(
    subscriber: store.Subscriber, registration: store.Registration, partner_name: str | None
) -> PartnerAuthorisedProducts | None:
    """REG-5: the owner's letter about what the partner authorised; None while the owner's address is unknown."""
    if subscriber.owner_email is None or registration.partner_id is None or registration.purchase_date is None:
        return None
    return PartnerAuthorisedProducts(
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
    )
