"""Invitations (INV-1..4, INV-6): a subscriber's owner invites its users, an operator or a partner's admin invites
the partner's staff; one way of issuing, sending again and revoking serves both."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from rules.refusal import Refusal, Refused
from services.identity import domain, events, invitations_store, subscribers_store
from services.identity.accounts import account_of
from services.identity.invitations_store import Invitation, Target
from services.identity.links import EmailLinks
from services.identity.lists import Page, Window
from services.identity.partners import PartnerCaller, administered_partner
from services.identity.subscribers import Acting, owner_membership
from shared.db import Connection, Pool
from shared.outbox import Outbox

NO_SUCH_INVITATION = Refusal("no-such-invitation", "no such invitation", "not-found")


@dataclass(frozen=True)
class Inviter:
    """Who invites, to what: the organisation's name, and the inviter as the invitation names them."""

    target: Target
    organisation_name: str
    name: str
    email: str
    language: str

    def text(self, full_name: str, its_access: bool) -> str:
        """Rule INV-2: the message the inviter reads before it is sent."""
        if self.target.column == "partner_id":
            return domain.partner_invitation_text(
                full_name=full_name, partner_name=self.organisation_name, inviter_name=self.name, language=self.language
            )
        return domain.invitation_text(
            full_name=full_name,
            subscriber_name=self.organisation_name,
            owner_name=self.name,
            its_access=its_access,
            language=self.language,
        )


@dataclass(frozen=True)
class ForPartner:
    """An operator or a partner's admin, inviting to the partner's staff."""

    caller: PartnerCaller
    partner_id: uuid.UUID


async def inviter(conn: Connection, inviting: Acting | ForPartner) -> Inviter:
    """Who invites: a subscriber's owner (acting for it) or one who administers a partner."""
    if isinstance(inviting, ForPartner):
        return await partner_inviter(conn, inviting.caller, inviting.partner_id)
    return await subscriber_inviter(conn, inviting)


async def subscriber_inviter(conn: Connection, owner: Acting) -> Inviter:
    """The subscriber's owner (SUB-4), with a verified address (INV-1)."""
    membership = await owner_membership(conn, owner)
    subscriber = await subscribers_store.subscriber(conn, membership.subscriber_id)
    account = await account_of(conn, owner.account_id)
    assert subscriber is not None
    if not account.email_verified:  # rule INV-1
        raise Refused(Refusal("email-not-verified", "verify your e-mail address before inviting users", "forbidden"))
    return Inviter(
        Target.subscriber(subscriber.id), subscriber.name, subscriber.owner_name, account.email, account.language
    )


async def partner_inviter(conn: Connection, caller: PartnerCaller, partner_id: uuid.UUID) -> Inviter:
    """An operator or one of the partner's admins."""
    partner = await administered_partner(conn, caller, partner_id)
    account = await account_of(conn, caller.account_id)
    name = account.full_name or account.login
    return Inviter(Target.partner(partner.id), partner.name, name, account.email, account.language)


async def issue_invitation(
    pool: Pool,
    outbox: Outbox,
    links: EmailLinks,
    now: datetime,
    inviting: Acting | ForPartner,
    *,
    email: str,
    full_name: str,
    its_access: bool = False,
    partner_admin: bool = False,
) -> Invitation:
    """A pending invitation, mailed with its link (INV-1, INV-2); it voids the open ones to the same address (INV-4).
    To a subscriber's users with the ITS right or without; to a partner's staff as an admin or not."""
    async with pool.acquire() as conn, conn.transaction():
        sender = await inviter(conn, inviting)
        await limit_invitation_sends(conn, sender.target, now)
        invitation = Invitation.new(
            sender.target,
            email=email,
            full_name=full_name,
            its_access=its_access,
            partner_admin=partner_admin,
            text=sender.text(full_name, its_access),
            now=now,
            valid_for=domain.INVITATION_TTL,
        )
        token = domain.new_token()
        await invitations_store.insert_invitation(conn, invitation, domain.token_hash(token))
        await _announce(conn, outbox, links, invitation, sender, token)
    return invitation


async def invitation_text(pool: Pool, owner: Acting, *, full_name: str, its_access: bool) -> str:
    """INV-2: the text an invitation would send, sending nothing."""
    async with pool.acquire() as conn:
        sender = await subscriber_inviter(conn, owner)
    return sender.text(full_name, its_access)


async def invitations(
    pool: Pool, owner: Acting, window: Window, *, state: str | None, now: datetime
) -> Page[Invitation]:
    """INV-6: a page of the invitations the subscriber made, with their states judged `now`."""
    async with pool.acquire() as conn:
        membership = await owner_membership(conn, owner)
        target = Target.subscriber(membership.subscriber_id)
        return await invitations_store.invitations_page(conn, target, window, state=state, now=now)


async def resend_invitation(
    pool: Pool,
    outbox: Outbox,
    links: EmailLinks,
    now: datetime,
    owner: Acting,
    invitation_id: uuid.UUID,
) -> Invitation:
    """INV-3: a new link, valid INVITATION_TTL more, for a pending or expired invitation."""
    async with pool.acquire() as conn, conn.transaction():
        sender = await subscriber_inviter(conn, owner)
        if await invitations_store.invitation(conn, sender.target, invitation_id) is None:
            raise Refused(NO_SUCH_INVITATION)
        await limit_invitation_sends(conn, sender.target, now)
        token = domain.new_token()
        valid_until = now + domain.INVITATION_TTL
        invitation = await invitations_store.resend_invitation(
            conn, sender.target, invitation_id, domain.token_hash(token), now, valid_until
        )
        if invitation is None:
            raise Refused(
                Refusal(
                    "invitation-closed",
                    "only a pending or expired invitation can be sent again; invite the person anew",
                    "conflict",
                )
            )
        await _announce(conn, outbox, links, invitation, sender, token)
    return invitation


async def revoke_invitation(pool: Pool, now: datetime, owner: Acting, invitation_id: uuid.UUID) -> Invitation:
    async with pool.acquire() as conn, conn.transaction():
        membership = await owner_membership(conn, owner)
        target = Target.subscriber(membership.subscriber_id)
        if await invitations_store.invitation(conn, target, invitation_id) is None:
            raise Refused(NO_SUCH_INVITATION)
        invitation = await invitations_store.revoke_invitation(conn, target, invitation_id, now)
        if invitation is None:
            raise Refused(
                Refusal("invitation-closed", "the invitation was already accepted, replaced or revoked", "conflict")
            )
    return invitation


async def limit_invitation_sends(conn: Connection, target: Target, now: datetime) -> None:
    """At most INVITATIONS_PER_DAY invitations sent (or re-sent) a day by one subscriber or partner."""
    sent = await invitations_store.sends_since(conn, target, now - timedelta(days=1))
    if sent >= domain.INVITATIONS_PER_DAY:
        whom = "partner" if target.column == "partner_id" else "subscriber"
        raise domain.too_often(f"at most {domain.INVITATIONS_PER_DAY} invitations a day per {whom}", retry_after=3600)


async def _announce(
    conn: Connection, outbox: Outbox, links: EmailLinks, invitation: Invitation, sender: Inviter, token: str
) -> None:
    event = events.invitation_sent(
        invitation,
        organisation_name=sender.organisation_name,
        inviter_name=sender.name,
        inviter_email=sender.email,
        inviter_language=sender.language,
        url=links.invitation(token),
    )
    await outbox.add(conn, event)
