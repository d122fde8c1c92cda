"""registration's API for subscribers, partners and operators: registering products.

Rules REG-2..7, SUB-4, ITS-7. A subscriber's requests act for the subscriber of the access token
(SUB-7); nothing here takes a subscriber from the URL or the body except a partner's or an
operator's, who name it by its `CL-` code.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import AfterValidator, BaseModel, EmailStr, Field, StringConstraints

from services.registration import access, domain, registrations, store
from services.registration.keys import PINS, SETTINGS, THROTTLE
from services.registration.problems import refusals_answered
from shared.auth import Caller
from shared.events.registration import Edition, RegisteredBy
from shared.http import Api
from shared.keys import CLOCK, OUTBOX, POOL
from shared.parsing import PathParams, StrictModel

routes = Api("ITS Portal registration")


OPERATOR = "operator"

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _registration_number(value: str) -> str:
    number = domain.normalize(value)
    if not domain.is_registration_number(number):
        raise ValueError(f"not a registration number: {domain.NUMBER_LENGTH} digits as printed; check for a typo")
    return number


def _pin(value: str) -> str:
    pin = domain.normalize(value)
    if len(pin) != domain.PIN_LENGTH or not pin.isdigit():
        raise ValueError(f"a PIN is {domain.PIN_LENGTH} digits as printed in the envelope")
    return pin


def _phone(value: str) -> str:
    digits = sum(ch.isdigit() for ch in value)
    if not 7 <= digits <= 15:
        raise ValueError("a phone number has 7 to 15 digits, e.g. +7 495 123-45-67")
    return value


# As printed: digits, with spaces or hyphens between groups; the last digit of a number is a Luhn check digit.
RegistrationNumber = Annotated[
    str,
    StringConstraints(max_length=40, pattern=r"^[0-9]([0-9 -]*[0-9])?$"),
    Field(json_schema_extra={"format": "registration-number"}),
    AfterValidator(_registration_number),
]
Pin = Annotated[str, StringConstraints(max_length=40, pattern=r"^[0-9]([0-9 -]*[0-9])?$"), AfterValidator(_pin)]
SubscriberCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^CL-[0-9]{7}$")]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()-]{5,24}$"), AfterValidator(_phone)
]
# Postal codes are Russian six-digit indexes (the vendor's market).
PostalCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6}$")]
PurchaseDate = Annotated[date, Field(ge=date(1991, 1, 1))]


ARTICLE_MESSAGE = "an article is an EAN-13 code: 13 digits, the last a check digit"


def _ean13(article: str) -> str:
    if not domain.is_ean13(article):
        raise ValueError(ARTICLE_MESSAGE)
    return article


# Path parameters, in the formats the document declares (`format` names the check digit a pattern cannot say).
Article = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{13}$"),
    Field(json_schema_extra={"format": "ean-13"}),
    AfterValidator(_ean13),
]
NumberInPath = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{11}$"),
    Field(json_schema_extra={"format": "registration-number"}, description="11 digits, the last a Luhn check digit"),
    AfterValidator(lambda number: _registration_number(number)),
]


class ArticlePath(PathParams):
    article: Article


class NumberPath(PathParams):
    number: NumberInPath


# ---- models -------------------------------------------------------------------------------


class Card(StrictModel):
    """The registration card (REG-2): every field is mandatory."""

    company_name: Text
    activity_type: Text
    postal_code: PostalCode
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    head_of_organisation: Text
    responsible_person: Text
    phone: Phone
    email: EmailStr
    purchased_from: Text
    purchase_date: PurchaseDate
    workplaces: int = Field(ge=1, le=100_000)


class PinRegistration(StrictModel):
    registration_number: RegistrationNumber
    pin: Pin
    card: Card


class PartnerAuthorisation(StrictModel):
    registration_number: RegistrationNumber
    subscriber_code: SubscriberCode
    purchase_date: PurchaseDate


class Transfer(StrictModel):
    subscriber_code: SubscriberCode
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000)]


class ProductRef(BaseModel):
    article: str
    name: str
    edition: Edition
    configurations: list[str]


class RegistrationOut(BaseModel):
    registration_number: str
    product: ProductRef
    state: Literal["pending", "active"]
    active_from: datetime
    registered_by: RegisteredBy
    partner: str | None = None  # the authorising partner's name (REG-5)
    purchase_date: date


class RegistrationList(BaseModel):
    items: list[RegistrationOut]


class OfferedProduct(BaseModel):
    article: str
    name: str
    edition: Edition


class Offer(BaseModel):
    """REG-6: what to do to get a configuration the subscriber has not registered."""

    how: str
    products: list[OfferedProduct]


class ConfigurationAccess(BaseModel):
    code: str
    name: str
    maintenance_category: int
    registered: bool
    pending_from: datetime | None = None  # registered, access starting then (REG-3)
    offer: Offer | None = None


class AccessList(BaseModel):
    items: list[ConfigurationAccess]


def registration_out(r: store.Registration, partners: dict[uuid.UUID, str]) -> RegistrationOut:
    assert r.active_from is not None and r.registered_by is not None and r.purchase_date is not None
    return RegistrationOut(
        registration_number=r.number,
        product=ProductRef(article=r.article, name=r.product_name, edition=r.edition, configurations=r.configurations),
        state="active" if r.state == "active" else "pending",
        active_from=r.active_from,
        registered_by=r.registered_by,
        partner=partners.get(r.partner_id) if r.partner_id else None,
        purchase_date=r.purchase_date,
    )


# ---- self-registration with a PIN (REG-2, REG-3, REG-4, REG-7) ------------------------------


@routes.post(
    "/v1/registrations/pin",
    summary="Register a product with its registration number, PIN and registration card (owner)",
    auth=True,
    body=PinRegistration,
    response=RegistrationOut,
    status=202,
    errors=(403, 409, 422, 429),
    tags=("registrations",),
)
async def register_with_pin(request: web.Request, caller: Caller, body: PinRegistration) -> RegistrationOut:
    """Access starts 15 minutes later (REG-3): the answer says when. A wrong PIN and an unknown number
    get the same answer; after 5 wrong tries on a number in an hour (by this subscriber; 50 by everyone), or 20
    on any numbers, 429 says when to try again, in the vendor's time zone, and what is locked (REG-7)."""
    subscriber = caller.require_owner()  # rule SUB-4
    app = request.app
    with refusals_answered():
        registration = await registrations.register_with_pin(
            app[POOL],
            app[OUTBOX],
            app[PINS],
            app[THROTTLE],
            now=app[CLOCK].now(),
            zone=app[SETTINGS].vendor_zone,
            number=body.registration_number,
            pin=body.pin,
            subscriber_id=subscriber.id,
            subscriber_code=subscriber.code,
            account_id=caller.account_id,
            card=body.card.model_dump(mode="json"),
            purchase_date=body.card.purchase_date,
        )
    return registration_out(registration, {})


# ---- what a subscriber sees (REG-6, SUB-4) --------------------------------------------------


@routes.get(
    "/v1/registrations",
    summary="The subscriber's registered products",
    auth=True,
    response=RegistrationList,
    errors=(403,),
    tags=("registrations",),
)
async def list_registrations(request: web.Request, caller: Caller) -> RegistrationList:
    subscriber = caller.require_subscriber()  # any user of the subscriber may read (SUB-4 limits changes)
    registrations, partners = await access.subscriber_registrations(request.app[POOL], subscriber.id)
    return RegistrationList(items=[registration_out(r, partners) for r in registrations])


@routes.get(
    "/v1/configurations/access",
    summary="Every configuration, whether the subscriber has it, and an offer where not (REG-6)",
    auth=True,
    response=AccessList,
    errors=(403,),
    tags=("registrations",),
)
async def configuration_access(request: web.Request, caller: Caller) -> AccessList:
    subscriber = caller.require_subscriber()
    items = await access.configuration_access(request.app[POOL], subscriber.id)
    return AccessList(
        items=[
            ConfigurationAccess(
                code=a.configuration.code,
                name=a.configuration.name,
                maintenance_category=a.configuration.maintenance_category,
                registered=a.registered,
                pending_from=a.pending_from,
                offer=None
                if a.registered
                else Offer(
                    how=domain.OFFER_HOW,
                    products=[OfferedProduct(article=p.article, name=p.name, edition=p.edition) for p in a.offered],
                ),
            )
            for a in items
        ]
    )
