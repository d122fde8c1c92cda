"""Pure rules of notifications: which e-mail an event asks for (for release news: to which owners, with which
links), in which language, and what a failed send leads to. No I/O here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from email.headerregistry import Address
from email.utils import parseaddr
from typing import Any, Literal, get_args
from urllib.parse import quote
from zoneinfo import ZoneInfo

from services.notifications.summary import plain_summary
from services.notifications.unsubscribe import sign
from shared.events import E, Envelope, unwrap
from shared.events.contracts import ContractActivated, MaintenanceActivated, Organisation, OrganisationErrorReported
from shared.events.identity import (
    EmailVerificationRequested,
    InvitationAccepted,
    InvitationSent,
    Language,
    PasswordResetRequested,
)
from shared.events.registration import PartnerAuthorisedProducts
from shared.events.updates import ReleasePublished

DeliveryStatus = Literal["pending", "sent", "retrying", "failed"]
SEND_EMAIL_JOB = "send_email"
# Where the one-click unsubscribe link of release news points (RFC 8058), on notifications' public address.
UNSUBSCRIBE_PATH = "/v1/unsubscribe"

LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "en"
# Letters to partners (contracts' events): the events carry no language and notifications knows none for
# partners, so English, the default of every letter; the templates have Russian too, ready for when they do.
PARTNER_LANGUAGE: Language = DEFAULT_LANGUAGE

_MONTHS: dict[Language, tuple[str, ...]] = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    # Genitive, as in a date: "15 января".
    "ru": (
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ),
}

# Nominative, as a month on its own (the ends of a period): "ноябрь", not "ноября".
_MONTHS_ALONE: dict[Language, tuple[str, ...]] = {
    "en": _MONTHS["en"],
    "ru": (
        "январь",
        "февраль",
        "март",
        "апрель",
        "май",
        "июнь",
        "июль",
        "август",
        "сентябрь",
        "октябрь",
        "ноябрь",
        "декабрь",
    ),
}


class Unsendable(ValueError):
    """The event asks for an e-mail that can never be sent (bad address, bad link): no retry helps."""


@dataclass(frozen=True)
class EmailRequest:
    """What an event asks to be sent, before rendering.

    `account_id`: the account it goes to, when one event asks for an e-mail to each of many accounts (release
    news): one delivery per (event, account). `unsubscribe_url`: the one-click link (RFC 8058) it carries.
    """

    template: str
    language: Language
    recipient: str
    context: dict[str, Any]
    account_id: uuid.UUID | None = None
    unsubscribe_url: str | None = None


@dataclass(frozen=True)
class Delivery:
    """One row of the delivery log, as operators see it."""

    id: int
    event_id: uuid.UUID
    event_type: str
    recipient: str
    template: str
    language: str
    subject: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class OutgoingEmail:
    """What the mailer needs to send one delivery."""

    delivery_id: int
    event_id: uuid.UUID
    template: str
    recipient: str
    subject: str
    body_text: str
    body_html: str
    status: DeliveryStatus
    attempts: int
    account_id: uuid.UUID | None = None
    unsubscribe_url: str | None = None


@dataclass(frozen=True)
class Owner:
    """An owner to tell of a release (read models of identity's and registration's events): the account and the
    subscribers it owns that are registered for the release's configuration."""

    account_id: uuid.UUID
    email: str
    login: str | None
    full_name: str | None
    language: str
    subscribers: list[tuple[str, str]]  # (name, code) of each, sorted


def pick_language(value: object) -> Language:
    """The account's language if we have templates for it, else English.

    Checked before the event is validated: a language identity adds before we have its
    templates must still get the person an e-mail, not park the event.
    """
    return next((language for language in LANGUAGES if language == value), DEFAULT_LANGUAGE)


def unwrap_in_our_languages(envelope: Envelope, model: type[E], language_field: str | None = "language") -> E:
    """The event's data (not fitting the schema: ValidationError, the message is parked).

    A language we have no templates for becomes English before validation (`language_field` None: the event
    carries no language).
    """
    if language_field is None:
        return unwrap(envelope, model)
    data = {**envelope.data, language_field: pick_language(envelope.data.get(language_field))}
    return unwrap(envelope.model_copy(update={"data": data}), model)


def verification_email(event: EmailVerificationRequested, zone: ZoneInfo) -> EmailRequest:
    """ACC-2: the link that verifies the address is sent to that address, with how long it is valid."""
    return EmailRequest(
        template="email_verification",
        language=event.language,
        recipient=check_recipient(event.email),
        context={
            "name": display_name(event.full_name, event.login),
            "login": event.login,
            "email": event.email,
            "verification_url": check_link(event.verification_url),
            "valid_until": format_moment(event.expires_at, event.language, zone),
        },
    )


def password_reset_email(event: PasswordResetRequested, zone: ZoneInfo) -> EmailRequest:
    return EmailRequest(
        template="password_reset",
        language=event.language,
        recipient=check_recipient(event.email),
        context={
            "name": display_name(event.full_name, event.login),
            "login": event.login,
            "reset_url": check_link(event.reset_url),
            "valid_until": format_moment(event.expires_at, event.language, zone),
        },
    )


def invitation_email(event: InvitationSent, zone: ZoneInfo) -> EmailRequest:
    """INV-2, INV-3: the owner's text exactly as they read it, the link, the date until which it is valid,
    and who invites."""
    return EmailRequest(
        template="invitation",
        language=event.language,
        recipient=check_recipient(event.email),
        context={
            "name": display_name(event.full_name, event.email),
            # Plain text, shown as it is (escaped in HTML); line breaks at its end only would pad the layout.
            "text": event.text.rstrip("\r\n"),
            "invitation_url": check_link(event.invitation_url),
            "valid_until": format_moment(event.valid_until, event.language, zone),
            "inviter": name_and_address(event.owner_name, event.owner_email),
            "owner_email": event.owner_email,
            "subscriber_name": event.subscriber_name,
            "to_partner": event.partner_id is not None,
        },
    )


def invitation_accepted_email(event: InvitationAccepted) -> EmailRequest:
    """INV-5: the owner learns who accepted the invitation to which subscriber."""
    return EmailRequest(
        template="invitation_accepted",
        language=event.owner_language,
        recipient=check_recipient(event.owner_email),
        context={
            "name": display_name(event.owner_name, event.owner_email),
            "member_name": display_name(event.full_name, event.email),
            "member": name_and_address(event.full_name, event.email),
            "subscriber_name": event.subscriber_name,
        },
    )


def products_authorised_email(event: PartnerAuthorisedProducts) -> EmailRequest:
    """rule REG-5: the partner's letter to the subscriber's owner, listing every product it authorised."""
    if not event.products:
        # A letter about nothing is the producer's mistake: park the event rather than send it.
        raise Unsendable("the authorisation lists no products")
    return EmailRequest(
        template="products_authorised",
        language=event.owner_language,
        recipient=check_recipient(event.owner_email),
        context={
            "name": display_name(event.owner_name, event.owner_email),
            "partner_name": event.partner_name,
            "subscriber_name": event.subscriber_name,
            "subscriber_code": event.subscriber_code,
            "purchase_date": format_date(event.purchase_date, event.owner_language),
            "products": [
                {
                    "registration_number": product.registration_number,
                    "product_name": product.product_name,
                    "edition": product.edition,
                    "configurations": product.configurations,
                }
                for product in event.products
            ],
            # rule ITS-7: every edition but BASIC has 6 months of free ITS support from the purchase date.
            "free_support": any(product.edition != "BASIC" for product in event.products),
        },
    )


def contract_activated_email(
    event: ContractActivated, zone: ZoneInfo, language: Language = PARTNER_LANGUAGE
) -> EmailRequest:
    """rule ITS-2: the partner learns the outcome of the contract its system posted: processed, active."""
    return EmailRequest(
        template="contract_activated",
        language=language,
        recipient=partner_recipient(event.partner_email),
        context={
            "name": display_name(event.partner_name, event.partner_email),
            "number": event.number,
            **organisation_context(event.organisation),
            "main_registration_number": event.main_registration_number,
            "additional_registration_numbers": event.additional_registration_numbers,
            "period": format_period(event.period_from, event.period_to, language),
            "kind": event.kind,
            "activated_at": format_moment(event.activated_at, language, zone),
        },
    )


def organisation_error_email(
    event: OrganisationErrorReported, zone: ZoneInfo, language: Language = PARTNER_LANGUAGE
) -> EmailRequest:
    """rule ITS-6: a subscriber tells the accompanying partner that the organisation data of a contract is
    wrong; the partner corrects it (name, TIN, KPP)."""
    return EmailRequest(
        template="organisation_error",
        language=language,
        recipient=partner_recipient(event.partner_email),
        context={
            "name": display_name(event.partner_name, event.partner_email),
            "number": event.number,
            **organisation_context(event.organisation),
            "subscriber_name": event.subscriber_name,
            "subscriber_code": event.subscriber_code,
            # Plain text, shown as it is (escaped in HTML); line breaks at its end only would pad the layout.
            "message": event.message.rstrip("\r\n"),
            "reported_at": format_moment(event.reported_at, language, zone),
        },
    )


def maintenance_activated_email(
    event: MaintenanceActivated, language: Language = PARTNER_LANGUAGE
) -> EmailRequest | None:
    """rule CMS-7: the accompanying partner learns of a maintenance service activated for its subscriber, with
    the CMS-6 warning if any. None (no e-mail) while the subscriber has no partner chosen."""
    if event.partner_id is None and not event.partner_email:
        return None  # no partner chosen: no one to tell
    recipient = partner_recipient(event.partner_email or "")
    return EmailRequest(
        template="maintenance_activated",
        language=language,
        recipient=recipient,
        context={
            "name": display_name(event.partner_name, recipient),
            "subscriber_name": event.subscriber_name,
            "subscriber_code": event.subscriber_code,
            "configuration": event.configuration,
            "category": event.category,
            "period": format_period(event.period_from, event.period_to, language),
            "registration_numbers": event.registration_numbers,
            "warning": (event.warning or "").strip() or None,  # CMS-6
        },
    )


# ---- release news (UPD-1, UPD-2, UPD-3) ------------------------------------------------------------


def announces(event: ReleasePublished) -> bool:
    """Which published releases owners hear of: not prereleases, which are for those who ask for them (the
    update plan's `allow_prerelease`), not news for every owner."""
    return not event.prerelease


def release_audience(event: ReleasePublished) -> str | None:
    """The configuration whose subscribers' owners are told (UPD-3); None: a platform release (UPD-2), for
    the owners of every subscriber with an active product."""
    if event.kind == "platform":
        return None
    if not event.configuration:
        raise Unsendable("a configuration release that names no configuration")
    return event.configuration


@dataclass(frozen=True)
class ReleaseLinks:
    """The links of a release e-mail: the release's page, and each account's one-click unsubscribe link."""

    portal_url: str | None  # the portal's pages, when set (as identity's links)
    updates_url: str  # else updates' own page API
    unsubscribe_url: str  # notifications' public address: the link must reach this service
    secret: bytes = field(repr=False)

    def page(self, event: ReleasePublished) -> str:
        """`/configurations/<code>/releases/<version>` or `/platform/releases/<version>` on the portal, or the
        same paths under `/v1` on updates."""
        version = quote(event.version, safe="")
        configuration = release_audience(event)
        if configuration is None:
            path = f"/platform/releases/{version}"
        else:
            path = f"/configurations/{quote(configuration, safe='')}/releases/{version}"
        if self.portal_url:
            return check_link(f"{self.portal_url.rstrip('/')}{path}")
        return check_link(f"{self.updates_url.rstrip('/')}/v1{path}")

    def unsubscribe(self, account_id: uuid.UUID) -> str:
        return check_link(f"{self.unsubscribe_url.rstrip('/')}{UNSUBSCRIBE_PATH}?token={sign(self.secret, account_id)}")


def release_email(event: ReleasePublished, owner: Owner, *, page_url: str, unsubscribe_url: str) -> EmailRequest:
    """UPD-3: the owner of a subscriber registered for the configuration (a platform release: with any active
    product) learns of the release, in the owner's language, with a link that stops these e-mails."""
    language = pick_language(owner.language)
    configuration = release_audience(event)
    platform = configuration is None
    return EmailRequest(
        template="release_published",
        language=language,
        recipient=check_recipient(owner.email),
        account_id=owner.account_id,
        unsubscribe_url=check_link(unsubscribe_url),
        context={
            "name": display_name(owner.full_name, owner.login or owner.email),
            "platform": platform,
            "configuration": configuration or "",
            "configuration_name": display_name(event.configuration_name, configuration or ""),
            "version": event.version,
            "release_date": format_date(event.release_date, language),
            "its_issue": event.its_issue,
            "min_platform": None if platform else event.min_platform,
            "grade": event.grade if platform else None,
            "whats_new": plain_summary(event.whats_new),
            "page_url": check_link(page_url),
            "unsubscribe_url": unsubscribe_url,
            "subscribers": [{"name": name, "code": code} for name, code in owner.subscribers],
        },
    )


def partner_recipient(email: str) -> str:
    """The partner's address from a contracts event: empty when contracts had not learnt the partner yet."""
    if not email:
        raise Unsendable("the partner has no e-mail address: contracts had not learnt the partner")
    return check_recipient(email)


def organisation_context(organisation: Organisation) -> dict[str, Any]:
    """The organisation as a letter shows it; `kpp` None when it has none (an individual entrepreneur)."""
    return {"organisation_name": organisation.name, "tin": organisation.tin, "kpp": organisation.kpp or None}


def display_name(full_name: str | None, fallback: str) -> str:
    """Greet by full name, or by `fallback` (the login, the address) where none was given."""
    return full_name.strip() if full_name and full_name.strip() else fallback


def name_and_address(full_name: str | None, email: str) -> str:
    """`Ivan Petrov (ivan@example.com)`, or the address alone where no name was given."""
    name = display_name(full_name, "")
    return f"{name} ({email})" if name else email


def format_moment(moment: datetime, language: Language, zone: ZoneInfo) -> str:
    """`15 January 2030, 15:00 (UTC+03:00)`, in Russian with the year as `2030 г.`; in the vendor's zone."""  # noqa: RUF002
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    label = f"UTC{offset[:3]}:{offset[3:]}"
    return f"{format_date(local.date(), language)}, {local:%H:%M} ({label})"


def format_date(day: date, language: Language) -> str:
    """`15 January 2030`, in Russian `15 января 2030 г.` (a calendar date: no time zone to apply)."""  # noqa: RUF002
    month = _MONTHS[language][day.month - 1]
    year = f"{day.year} г." if language == "ru" else str(day.year)  # noqa: RUF001 (Cyrillic, on purpose)
    return f"{day.day} {month} {year}"


def format_month(year_month: str, language: Language) -> str:
    """`2026-11` as `November 2026`, in Russian `ноябрь 2026 г.`."""  # noqa: RUF002
    year, month = int(year_month[:4]), int(year_month[5:7])
    name = _MONTHS_ALONE[language][month - 1]
    return f"{name} {year} г." if language == "ru" else f"{name} {year}"  # noqa: RUF001 (Cyrillic, on purpose)


def format_period(period_from: str, period_to: str, language: Language) -> str:
    """Whole months, both ends included (ITS-1): `November 2026 – October 2027`; one month alone."""  # noqa: RUF002
    first, last = format_month(period_from, language), format_month(period_to, language)
    return first if period_from == period_to else f"{first} \N{EN DASH} {last}"


def check_recipient(value: str) -> str:
    """A bare address that can go into an SMTP envelope and a `To` header, or Unsendable."""
    if not value or value != value.strip():
        raise Unsendable(f"not an e-mail address: {value!r}")
    try:
        address = Address(addr_spec=value)
    except (ValueError, IndexError) as exc:  # header defects are ValueErrors
        raise Unsendable(f"not an e-mail address: {value!r} ({exc})") from None
    if not address.username or not address.domain:
        raise Unsendable(f"not an e-mail address: {value!r}")
    return value


def check_link(url: str) -> str:
    """Only web links go into an e-mail: never `javascript:` or the like in an `href`."""
    if not url.lower().startswith(("https://", "http://")) or any(c.isspace() for c in url):
        raise Unsendable(f"not a web link: {url!r}")
    return url


def message_id(event_id: uuid.UUID, sender: str, account_id: uuid.UUID | None = None) -> str:
    """The same for every send of one event (to one account), so a receiver can tell a re-send after a crash;
    each account's e-mail of one event (release news) has its own."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "its-portal.local"
    local = f"{event_id}.{account_id}" if account_id is not None else str(event_id)
    return f"<{local}@{domain}>"


def status_after_failure(attempts: int, max_attempts: int, *, permanent: bool) -> DeliveryStatus:
    """After `attempts` tries in all, the last one failed."""
    return "failed" if permanent or attempts >= max_attempts else "retrying"
