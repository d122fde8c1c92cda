"""Events published by registration (`registration.*`): the catalogue, issued numbers, registered products.

`ProductRegistered`/`ProductActivated` carry everything contracts and updates need for their read
models (subscriber, number, product, edition, configurations, purchase date), so neither calls us.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.events import Event
from shared.events.identity import Language

Edition = Literal["BASIC", "PROF", "CORP", "SPECIAL"]
RegisteredBy = Literal["self", "partner"]


class ConfigurationChanged(Event):
    """A configuration was added to the catalogue or changed (CMS-2: its maintenance category)."""

    TYPE = "registration.configuration.changed"

    code: str
    name: str
    maintenance_category: Literal[1, 2]
    vendor: str


class ProductChanged(Event):
    TYPE = "registration.catalogue_product.changed"

    article: str
    name: str
    edition: Edition
    configurations: list[str]
    pin_envelope: bool
    its_required: bool  # ITS-7: updates need a contract (after the free period)


class NumbersIssued(Event):
    """Registration numbers issued for a product (REG-1); at most a batch's worth per event."""

    TYPE = "registration.numbers.issued"

    batch_id: uuid.UUID
    article: str
    edition: Edition
    registration_numbers: list[str]
    with_pin: bool


class RegisteredProductEvent(Event):
    """What every event about a registered product says: the product and its subscriber."""

    registration_number: str
    subscriber_id: uuid.UUID
    subscriber_code: str
    article: str
    product_name: str
    edition: Edition
    configurations: list[str]
    its_required: bool
    purchase_date: date
    registered_by: RegisteredBy
    partner_id: uuid.UUID | None = None
    active_from: datetime


class ProductRegistered(RegisteredProductEvent):
    """REG-2/REG-5: the number now belongs to the subscriber; access starts at `active_from` (REG-3)."""

    TYPE = "registration.product.registered"


class ProductActivated(RegisteredProductEvent):
    """The subscriber has the product's configurations from now on (REG-6)."""

    TYPE = "registration.product.activated"


class ProductTransferred(RegisteredProductEvent):
    """An operator moved the number to another subscriber (audited); the fields describe the new owner."""

    TYPE = "registration.product.transferred"

    from_subscriber_id: uuid.UUID
    from_subscriber_code: str
    reason: str


class AuthorisedProduct(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    registration_number: str
    product_name: str
    edition: Edition
    configurations: list[str]


class PartnerAuthorisedProducts(Event):
    """REG-5: the partner's letter to the subscriber's owner, listing what it authorised."""

    TYPE = "registration.partner.authorised"

    subscriber_id: uuid.UUID
    subscriber_code: str
    subscriber_name: str
    partner_id: uuid.UUID
    partner_name: str
    purchase_date: date
    products: list[AuthorisedProduct]
    owner_email: str
    owner_name: str
    owner_language: Language = "en"
