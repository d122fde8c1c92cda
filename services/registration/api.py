"""registration's API for subscribers, partners and operators: registering products.

Rules REG-2..7, SUB-4, ITS-7. A subscriber's requests act for the subscriber of the access token
(SUB-7); nothing here takes a subscriber from the URL or the body except a partner's or an
operator's, who name it by its `CL-` code.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from aiohttp import web
from pydantic import AfterValidator, BaseModel, EmailStr, Field, StringConstraints

from services.registration import domain, store
from services.registration.pins import Pins
from services.registration.settings import RegistrationSettings
from shared.app import CLOCK, OUTBOX, POOL
from shared.auth import Caller
from shared.db import Connection
from shared.events.registration import (
    Edition,
    ProductActivated,
    ProductRegistered,
    RegisteredBy,
    RegisteredProductEvent,
)
from shared.http import Api
from shared.jobs import Job, JobHandler, schedule
from shared.logging import get_logger
from shared.outbox import Outbox
from shared.parsing import PathParams, StrictModel
from shared.problems import Conflict, Problem, TooManyRequests, ValidationFailed, invalid

log = get_logger(__name__)

routes = Api("ITS Portal registration")

SETTINGS = web.AppKey("registration_settings", RegistrationSettings)
PINS = web.AppKey("pins", Pins)
THROTTLE = web.AppKey("pin_throttle", domain.PinThrottle)

P = TypeVar("P", bound=RegisteredProductEvent)

OPERATOR = "operator"
ACTIVATE_JOB = "registration.activate"

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


def check_article(article: str) -> str:
    if not domain.is_ean13(article):
        raise ValidationFailed([{"field": "article", "message": ARTICLE_MESSAGE}])
    return article


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


# ---- problems -----------------------------------------------------------------------------


class PinRejected(ValidationFailed):
    slug, title = "pin-rejected", "The registration number or the PIN is wrong"

    def __init__(self, errors: list[dict[str, Any]], detail: str, *, tries_left: int) -> None:
        super().__init__(errors, detail)
        self.extra["tries_left"] = tries_left  # REG-7: for clients (the portal) to say it in their words


class PinUsed(Conflict):
    slug, title = "pin-used", "This PIN has been used"


class ContractRequired(Problem):
    status, slug, title = 422, "its-contract-required", "This product needs an ITS contract to be registered"


class RegisteredElsewhere(Conflict):
    slug, title = "registered-to-another-subscriber", "The product is registered to another subscriber"


WRONG_PIN = (
    "Check the registration number and the PIN as printed in the envelope. Products delivered "
    "without a PIN envelope are registered by the partner who sold them."
)


def _registration_out(r: store.Registration, partners: dict[uuid.UUID, str]) -> RegistrationOut:
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


def vendor_today(request: web.Request) -> date:
    return request.app[CLOCK].now().astimezone(request.app[SETTINGS].vendor_zone).date()


def _not_in_future(purchase_date: date, today: date, field: str) -> None:
    if purchase_date > today:
        raise ValidationFailed(
            [invalid(field, f"the purchase date cannot be after today ({today})", "purchase_date_future")]
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
    _not_in_future(body.card.purchase_date, vendor_today(request), "card.purchase_date")
    app, now, number = request.app, request.app[CLOCK].now(), body.registration_number
    outcome: Problem | store.Registration
    async with app[POOL].acquire() as conn, conn.transaction():
        # The failure row must commit with a refusal, so refusals are returned, and raised after the commit.
        outcome = await _try_pin(request, conn, body, subscriber.id, now)
        if isinstance(outcome, store.Registration):
            active_from = now + domain.ACTIVATION_DELAY
            await store.register(
                conn,
                number,
                subscriber_id=subscriber.id,
                subscriber_code=subscriber.code,
                registered_by="self",
                partner_id=None,
                account_id=caller.account_id,
                purchase_date=body.card.purchase_date,
                card=body.card.model_dump(mode="json"),
                now=now,
                active_from=active_from,
                pin_used=True,
            )
            await schedule(conn, ACTIVATE_JOB, {"number": number}, active_from, dedupe_key=f"activate:{number}")
            outcome = await _registered(conn, number)
            await app[OUTBOX].add(conn, product_event(ProductRegistered, outcome))
    if isinstance(outcome, Problem):
        raise outcome
    return _registration_out(outcome, {})


async def _try_pin(
    request: web.Request, conn: Connection, body: PinRegistration, subscriber_id: uuid.UUID, now: datetime
) -> Problem | store.Registration:
    """The number, locked, if the PIN opens it and it may be registered; otherwise the refusal."""
    number, throttle = body.registration_number, request.app[THROTTLE]
    registration = await store.lock_number(conn, number)
    await store.lock_subscriber_tries(conn, subscriber_id)
    failures = await store.pin_failures_since(conn, number, subscriber_id, now - throttle.window)
    locked = throttle.retry_after(failures, now)
    if locked is not None:
        return _too_many_wrong_pins(request, locked, now)
    pin_hash = registration.pin_hash if registration is not None else None
    if registration is None or not await request.app[PINS].verify(pin_hash, body.pin):
        await store.record_pin_failure(conn, number, subscriber_id, now)
        tries_left = throttle.tries_left(failures.plus(now), now)
        return PinRejected(
            [{"field": "pin", "message": "the registration number or the PIN is wrong"}],
            detail=f"{WRONG_PIN} Tries left this hour: {tries_left}.",
            tries_left=tries_left,
        )
    if registration.pin_used_at is not None or registration.subscriber_id is not None:
        yours = registration.subscriber_id == subscriber_id
        where = "to your subscriber" if yours else "to another subscriber; the vendor's support can transfer it"
        return PinUsed(f"A PIN works once: this product is registered already, {where}.", yours=yours)
    if domain.needs_contract_to_self_register(registration.edition) and not any(
        domain.is_covering(end, vendor_today(request)) for end in await store.coverage_ends(conn, number)
    ):
        return ContractRequired(
            "A PROF product is registered with its PIN only when an ITS contract lists its registration "
            "number, as the main or an additional product (rule REG-4). Ask your partner to register an ITS "
            "contract for this number (it is processed on the next business day) and try again then, or ask "
            "the partner to authorise the product for your subscriber code.",
            registration_number=number,
        )
    return registration


def _too_many_wrong_pins(request: web.Request, locked: domain.PinWait, now: datetime) -> TooManyRequests:
    """REG-7's "try later", with the time in the vendor's zone (as every time the services state)."""
    zone = request.app[SETTINGS].vendor_zone
    until = (now + locked.wait).astimezone(zone)
    what = (
        "for this registration number"
        if locked.scope == "number"
        else "from your subscriber in the last hour, on several registration numbers"
    )
    return TooManyRequests(
        f"Too many wrong PINs {what}; try again after {until:%Y-%m-%d %H:%M} ({zone.key}).",
        retry_after=int(locked.wait.total_seconds()) + 1,
        retry_at=until.isoformat(timespec="seconds"),
        scope=locked.scope,
    )


async def _registered(conn: Connection, number: str) -> store.Registration:
    registration = await store.registration(conn, number)
    assert registration is not None  # locked in this transaction
    return registration


def activate_job(outbox: Outbox) -> JobHandler:
    """REG-3: the deferred job that starts a self-registration's access, on the shared clock."""

    async def activate(conn: Connection, job: Job) -> None:
        registration = await store.activate(conn, str(job.payload["number"]))
        if registration is not None:  # already active: a re-run changes nothing
            await outbox.add(conn, product_event(ProductActivated, registration))

    return activate


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
    async with request.app[POOL].acquire() as conn:
        registrations = await store.subscriber_registrations(conn, subscriber.id)
        partners = await store.partner_names(conn, [r.partner_id for r in registrations if r.partner_id])
    return RegistrationList(items=[_registration_out(r, partners) for r in registrations])


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
    async with request.app[POOL].acquire() as conn:
        configurations = await store.configurations(conn)
        products = await store.products(conn)
        registrations = await store.subscriber_registrations(conn, subscriber.id)
    active = {c for r in registrations if r.state == "active" for c in r.configurations}
    pending: dict[str, datetime] = {}
    for r in registrations:
        if r.state == "pending" and r.active_from is not None:
            for code in r.configurations:
                pending[code] = min(pending.get(code, r.active_from), r.active_from)
    items = []
    for c in configurations:
        registered = c.code in active
        offer = None
        if not registered:
            offered = [
                OfferedProduct(article=p.article, name=p.name, edition=p.edition)
                for p in products
                if c.code in p.configurations
            ]
            offer = Offer(how=domain.OFFER_HOW, products=offered)
        items.append(
            ConfigurationAccess(
                code=c.code,
                name=c.name,
                maintenance_category=c.maintenance_category,
                registered=registered,
                pending_from=pending.get(c.code) if not registered else None,
                offer=offer,
            )
        )
    return AccessList(items=items)
