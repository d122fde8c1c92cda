"""Which e-mail an event asks for (identity's, registration's, contracts'): to whom, in which language, with
what in it. Pure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from services.notifications.addresses import Unsendable, check_link, check_recipient, partner_recipient
from services.notifications.languages import PARTNER_LANGUAGE
from services.notifications.wording import (
    display_name,
    format_moment,
    masked_address,
    name_and_address,
    organisation_context,
)
from shared.events.contracts import ContractActivated, MaintenanceActivated, OrganisationErrorReported
from shared.events.identity import (
    EmailChanged,
    EmailChangeRequested,
    EmailVerificationRequested,
    InvitationAccepted,
    InvitationSent,
    Language,
    PasswordResetRequested,
)
from shared.events.registration import PartnerAuthorisedProducts
from shared.formats import format_date, format_period


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


def email_change_email(event: EmailChangeRequested, zone: ZoneInfo) -> EmailRequest:
    """ACC-4: the link that makes the new address the account's is sent to that new address."""
    return EmailRequest(
        template="email_change",
        language=event.language,
        recipient=check_recipient(event.new_email),
        context={
            "name": display_name(event.full_name, event.login),
            "login": event.login,
            "new_email": event.new_email,
            "confirmation_url": check_link(event.confirmation_url),
            "valid_until": format_moment(event.expires_at, event.language, zone),
        },
    )


def email_changed_email(event: EmailChanged, zone: ZoneInfo) -> EmailRequest | None:
    """ACC-4: the old address learns that the account moved, to which address (masked) and when; None when it was
    never verified (it may be a stranger's, mistyped at sign-up)."""
    if not event.old_email_verified:
        return None
    return EmailRequest(
        template="email_changed",
        language=event.language,
        recipient=check_recipient(event.old_email),
        context={
            "name": display_name(event.full_name, event.login),
            "login": event.login,
            "new_email": masked_address(event.new_email),
            "changed_at": format_moment(event.changed_at, event.language, zone),
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
    return _contract_letter(
        "contract_activated",
        event,
        language,
        main_registration_number=event.main_registration_number,
        additional_registration_numbers=event.additional_registration_numbers,
        period=format_period(event.period_from, event.period_to, language),
        kind=event.kind,
        activated_at=format_moment(event.activated_at, language, zone),
    )


def organisation_error_email(
    event: OrganisationErrorReported, zone: ZoneInfo, language: Language = PARTNER_LANGUAGE
) -> EmailRequest:
    """rule ITS-6: a subscriber tells the accompanying partner that the organisation data of a contract is
    wrong; the partner corrects it (name, TIN, KPP)."""
    return _contract_letter(
        "organisation_error",
        event,
        language,
        subscriber_name=event.subscriber_name,
        subscriber_code=event.subscriber_code,
        # Plain text, shown as it is (escaped in HTML); line breaks at its end only would pad the layout.
        message=event.message.rstrip("\r\n"),
        reported_at=format_moment(event.reported_at, language, zone),
    )


def _contract_letter(
    template: str, event: ContractActivated | OrganisationErrorReported, language: Language, **context: Any
) -> EmailRequest:
    """A letter to the partner about one of its contracts: greeted by name, the contract and its organisation."""
    return EmailRequest(
        template=template,
        language=language,
        recipient=partner_recipient(event.partner_email),
        context={
            "name": display_name(event.partner_name, event.partner_email),
            "number": event.number,
            **organisation_context(event.organisation),
            **context,
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
