"""Events published by identity (`identity.*`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from shared.events import Event

Language = Literal["en", "ru"]


class AccountRegistered(Event):
    TYPE = "identity.account.registered"

    account_id: uuid.UUID
    login: str
    email: str
    full_name: str | None
    language: Language = "en"


class EmailVerificationRequested(Event):
    """Rule ACC-2: a link that verifies the address, sent to that address."""

    TYPE = "identity.email.verification_requested"

    account_id: uuid.UUID
    login: str
    email: str
    full_name: str | None
    language: Language = "en"
    verification_url: str
    expires_at: datetime


class EmailVerified(Event):
    TYPE = "identity.email.verified"

    account_id: uuid.UUID
    email: str


class PasswordResetRequested(Event):
    TYPE = "identity.password.reset_requested"

    account_id: uuid.UUID
    login: str
    email: str
    full_name: str | None
    language: Language = "en"
    reset_url: str
    expires_at: datetime


class AccountNameChanged(Event):
    """The account's holder changed its full name; the login and language ride along, so a read model that has not
    seen the account yet keeps a whole profile."""

    TYPE = "identity.account.name_changed"

    account_id: uuid.UUID
    login: str
    full_name: str | None
    language: Language = "en"


class EmailChangeRequested(Event):
    """The holder asked to use `new_email`: a link that confirms it, sent to that new address. Until the link is
    followed the account keeps its address."""

    TYPE = "identity.email.change_requested"

    account_id: uuid.UUID
    login: str
    full_name: str | None
    language: Language = "en"
    new_email: str
    confirmation_url: str
    expires_at: datetime


class EmailChanged(Event):
    """The link was followed: `new_email` is the account's (verified) address from now on. The old address is told,
    if it was verified: one never verified may be someone else's (a typo at sign-up)."""

    TYPE = "identity.email.changed"

    account_id: uuid.UUID
    login: str
    full_name: str | None
    language: Language = "en"
    old_email: str
    old_email_verified: bool
    new_email: str
    changed_at: datetime


# ---- subscribers, members, invitations (rules SUB-1..7, INV-1..6) ---------------------------

Role = Literal["owner", "user"]


class SubscriberCreated(Event):
    """Rule SUB-1: registering an account creates its subscriber, with the account as owner."""

    TYPE = "identity.subscriber.created"

    subscriber_id: uuid.UUID
    code: str  # CL-1234567 (SUB-2)
    name: str
    owner_account_id: uuid.UUID


class SubscriberRenamed(Event):
    TYPE = "identity.subscriber.renamed"

    subscriber_id: uuid.UUID
    code: str
    name: str


class InvitationSent(Event):
    """Rules INV-2, INV-3: `text` is what the inviter read; the e-mail adds the link and the date.

    An invitation to a subscriber's users (`subscriber_id`) or to a partner's staff (`partner_id`);
    `subscriber_name` is then the partner's name, and `owner_*` the inviting operator or admin.
    """

    TYPE = "identity.invitation.sent"

    invitation_id: uuid.UUID
    subscriber_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    subscriber_name: str
    email: str
    full_name: str
    its_access: bool
    text: str
    invitation_url: str
    valid_until: datetime
    owner_name: str
    owner_email: str
    language: Language = "en"


class InvitationAccepted(Event):
    """Sent to the owner (INV-5)."""

    TYPE = "identity.invitation.accepted"

    invitation_id: uuid.UUID
    subscriber_id: uuid.UUID
    subscriber_name: str
    account_id: uuid.UUID
    full_name: str | None
    email: str
    owner_name: str
    owner_email: str
    owner_language: Language = "en"


class MemberJoined(Event):
    TYPE = "identity.member.joined"

    subscriber_id: uuid.UUID
    account_id: uuid.UUID
    role: Role
    its_access: bool


class MemberRightsChanged(Event):
    """Rule SUB-5: services refuse the member's tokens issued before `changed_at` (their `rights` are stale)."""

    TYPE = "identity.member.rights_changed"

    subscriber_id: uuid.UUID
    account_id: uuid.UUID
    its_access: bool
    # None in events written before it was added: the envelope's `occurred_at` says the same.
    changed_at: datetime | None = None


class MemberExcluded(Event):
    """Rule SUB-6: other services refuse the member's requests for this subscriber from now on."""

    TYPE = "identity.member.excluded"

    subscriber_id: uuid.UUID
    account_id: uuid.UUID
    excluded_at: datetime


# ---- partners -----------------------------------------------------------------------------


class PartnerCreated(Event):
    TYPE = "identity.partner.created"

    partner_id: uuid.UUID
    name: str
    tin: str
    city: str
    contact_email: str


class PartnerClientCreated(Event):
    TYPE = "identity.partner_client.created"

    partner_id: uuid.UUID
    client_id: uuid.UUID
    name: str


class PartnerClientRevoked(Event):
    """Services refuse the client's tokens from now on; it gets no new ones."""

    TYPE = "identity.partner_client.revoked"

    partner_id: uuid.UUID
    client_id: uuid.UUID
    # None in events written before it was added: the envelope's `occurred_at` says the same.
    revoked_at: datetime | None = None


class PartnerStaffJoined(Event):
    """A person joined a partner's staff (an invitation accepted, or made by the demo data), as its admin or not:
    notifications writes to the partner's staff about new questions and to its admins about overdue ones (SUP-1)."""

    TYPE = "identity.partner_staff.joined"

    partner_id: uuid.UUID
    account_id: uuid.UUID
    admin: bool
    joined_at: datetime


class PartnerStaffRemoved(Event):
    """A person left a partner's staff: services refuse their partner tokens issued before `removed_at`."""

    TYPE = "identity.partner_staff.removed"

    partner_id: uuid.UUID
    account_id: uuid.UUID
    removed_at: datetime


class PartnerDeactivated(Event):
    """Services refuse every token of the partner's clients and staff issued before `deactivated_at`; identity
    issues none until it is reactivated."""

    TYPE = "identity.partner.deactivated"

    partner_id: uuid.UUID
    deactivated_at: datetime


class PartnerReactivated(Event):
    TYPE = "identity.partner.reactivated"

    partner_id: uuid.UUID
    reactivated_at: datetime
