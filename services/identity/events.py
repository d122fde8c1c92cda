"""identity's records as the events it announces: every outbox payload of the service is built here."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.identity import invitations_store, partners_store, store, subscribers_store
from shared.events import Event
from shared.events.identity import (
    AccountNameChanged,
    AccountRegistered,
    EmailChanged,
    EmailChangeRequested,
    EmailVerificationRequested,
    EmailVerified,
    InvitationAccepted,
    InvitationSent,
    Language,
    MemberExcluded,
    MemberJoined,
    MemberRightsChanged,
    PartnerClientCreated,
    PartnerClientRevoked,
    PartnerCreated,
    PartnerDeactivated,
    PartnerReactivated,
    PartnerStaffJoined,
    PartnerStaffRemoved,
    PasswordResetRequested,
    Role,
    SubscriberCreated,
    SubscriberRenamed,
)


def language(code: str) -> Language:
    """The language of the mails to a person: Russian if they chose it, else English."""
    return "ru" if code == "ru" else "en"


# ---- accounts (ACC-1, ACC-2) ----------------------------------------------------------------


def account_registered(account: store.Account) -> AccountRegistered:
    return AccountRegistered(
        account_id=account.id,
        login=account.login,
        email=account.email,
        full_name=account.full_name,
        language=language(account.language),
    )


def email_verification_requested(account: store.Account, url: str, expires_at: datetime) -> EmailVerificationRequested:
    return EmailVerificationRequested(
        account_id=account.id,
        login=account.login,
        email=account.email,
        full_name=account.full_name,
        language=language(account.language),
        verification_url=url,
        expires_at=expires_at,
    )


def email_verified(account: store.Account) -> EmailVerified:
    return EmailVerified(account_id=account.id, email=account.email)


def password_reset_requested(account: store.Account, url: str, expires_at: datetime) -> PasswordResetRequested:
    return PasswordResetRequested(
        account_id=account.id,
        login=account.login,
        email=account.email,
        full_name=account.full_name,
        language=language(account.language),
        reset_url=url,
        expires_at=expires_at,
    )


# ---- the holder's own profile: name and e-mail address -------------------------------------


def account_name_changed(account: store.Account) -> AccountNameChanged:
    return AccountNameChanged(
        account_id=account.id, login=account.login, full_name=account.full_name, language=language(account.language)
    )


def email_change_requested(
    account: store.Account, new_email: str, url: str, expires_at: datetime
) -> EmailChangeRequested:
    return EmailChangeRequested(
        account_id=account.id,
        login=account.login,
        full_name=account.full_name,
        language=language(account.language),
        new_email=new_email,
        confirmation_url=url,
        expires_at=expires_at,
    )


def email_changed(account: store.Account, before: store.Account, changed_at: datetime) -> EmailChanged:
    """`account` as it is after the change, `before` as it was."""
    return EmailChanged(
        account_id=account.id,
        login=account.login,
        full_name=account.full_name,
        language=language(account.language),
        old_email=before.email,
        old_email_verified=before.email_verified,
        new_email=account.email,
        changed_at=changed_at,
    )


# ---- subscribers and members (SUB-1..6) -----------------------------------------------------


def subscriber_created(
    subscriber_id: uuid.UUID, code: str, name: str, owner_account_id: uuid.UUID
) -> SubscriberCreated:
    return SubscriberCreated(subscriber_id=subscriber_id, code=code, name=name, owner_account_id=owner_account_id)


def subscriber_renamed(membership: subscribers_store.Membership, name: str) -> SubscriberRenamed:
    return SubscriberRenamed(subscriber_id=membership.subscriber_id, code=membership.code, name=name)


def member_joined(subscriber_id: uuid.UUID, account_id: uuid.UUID, role: Role, its_access: bool) -> MemberJoined:
    return MemberJoined(subscriber_id=subscriber_id, account_id=account_id, role=role, its_access=its_access)


def member_rights_changed(
    subscriber_id: uuid.UUID, account_id: uuid.UUID, its_access: bool, changed_at: datetime
) -> MemberRightsChanged:
    return MemberRightsChanged(
        subscriber_id=subscriber_id, account_id=account_id, its_access=its_access, changed_at=changed_at
    )


def member_excluded(subscriber_id: uuid.UUID, account_id: uuid.UUID, excluded_at: datetime) -> MemberExcluded:
    return MemberExcluded(subscriber_id=subscriber_id, account_id=account_id, excluded_at=excluded_at)


# ---- invitations (INV-2, INV-3, INV-5) ------------------------------------------------------


def invitation_sent(
    invitation: invitations_store.Invitation,
    *,
    organisation_name: str,
    inviter_name: str,
    inviter_email: str,
    inviter_language: str,
    url: str,
) -> InvitationSent:
    """To a subscriber's users or to a partner's staff: `subscriber_name` is then the partner's name."""
    return InvitationSent(
        invitation_id=invitation.id,
        subscriber_id=invitation.subscriber_id,
        partner_id=invitation.partner_id,
        subscriber_name=organisation_name,
        email=invitation.email,
        full_name=invitation.full_name,
        its_access=invitation.its_access,
        text=invitation.text,
        invitation_url=url,
        valid_until=invitation.valid_until,
        owner_name=inviter_name,
        owner_email=inviter_email,
        language=language(inviter_language),
    )


def invitation_accepted(
    invitation: invitations_store.Invitation,
    subscriber: subscribers_store.Subscriber,
    account: store.Account,
    owner_language: str | None,
) -> InvitationAccepted:
    return InvitationAccepted(
        invitation_id=invitation.id,
        subscriber_id=subscriber.id,
        subscriber_name=subscriber.name,
        account_id=account.id,
        full_name=account.full_name,
        email=account.email,
        owner_name=subscriber.owner_name,
        owner_email=subscriber.owner_email,
        owner_language=language(owner_language or "en"),
    )


# ---- partners, their API clients and staff --------------------------------------------------


def partner_created(partner: partners_store.Partner) -> PartnerCreated:
    return PartnerCreated(
        partner_id=partner.id,
        name=partner.name,
        tin=partner.tin,
        city=partner.city,
        contact_email=partner.contact_email,
    )


def partner_activity(partner_id: uuid.UUID, *, active: bool, at: datetime) -> Event:
    if active:
        return PartnerReactivated(partner_id=partner_id, reactivated_at=at)
    return PartnerDeactivated(partner_id=partner_id, deactivated_at=at)


def partner_client_created(client: partners_store.PartnerClient) -> PartnerClientCreated:
    return PartnerClientCreated(partner_id=client.partner_id, client_id=client.id, name=client.name)


def partner_client_revoked(partner_id: uuid.UUID, client_id: uuid.UUID, revoked_at: datetime) -> PartnerClientRevoked:
    return PartnerClientRevoked(partner_id=partner_id, client_id=client_id, revoked_at=revoked_at)


def partner_staff_joined(
    partner_id: uuid.UUID, account_id: uuid.UUID, admin: bool, joined_at: datetime
) -> PartnerStaffJoined:
    return PartnerStaffJoined(partner_id=partner_id, account_id=account_id, admin=admin, joined_at=joined_at)


def partner_staff_removed(partner_id: uuid.UUID, account_id: uuid.UUID, removed_at: datetime) -> PartnerStaffRemoved:
    return PartnerStaffRemoved(partner_id=partner_id, account_id=account_id, removed_at=removed_at)
