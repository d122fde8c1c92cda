"""Accepting an invitation (INV-5): with the account one has, or registering one on the way; the invited become a
subscriber's users or a partner's staff."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from rules.refusal import Refusal, Refused
from services.identity import domain, events, invitations_store, partners_store, store, subscribers_store
from services.identity.accounts import AccountDetails, account_of, create_account, password_hash, send_verification
from services.identity.invitations_store import Invitation
from services.identity.links import EmailLinks
from services.identity.passwords import Passwords
from shared.clock import Clock
from shared.db import Connection, Pool
from shared.outbox import Outbox

INVITATION_NOT_FOUND = Refusal(
    "invitation-not-found",
    "the invitation link is unknown, expired, replaced by a newer one or already used",
    "not-found",
)
TERMS_NOT_ACCEPTED = Refusal("terms", "accept the user agreement to register", "invalid", "accept_terms")


@dataclass(frozen=True)
class Acceptance:
    """What the accepted invitation made the person: a subscriber's user or a partner's staff member."""

    invitation: Invitation
    subscriber: subscribers_store.Subscriber | None = None
    partner: partners_store.Partner | None = None
    account: store.Account | None = None  # the account registered on the way, as it is now


async def open_invitation(pool: Pool, now: datetime, token: str) -> tuple[Invitation, str]:
    """The invitation behind a link that can still be accepted, and the name of the organisation it is to."""
    async with pool.acquire() as conn:
        invitation = await invitations_store.open_invitation_by_token(conn, domain.token_hash(token), now)
        name = await _organisation_name(conn, invitation) if invitation else None
    if invitation is None or name is None:
        raise Refused(INVITATION_NOT_FOUND)
    return invitation, name


async def accept_invitation(pool: Pool, outbox: Outbox, now: datetime, token: str, account_id: uuid.UUID) -> Acceptance:
    """With an existing account, the one the invitation's address belongs to."""
    async with pool.acquire() as conn, conn.transaction():
        account = await account_of(conn, account_id)
        return await _accept(conn, outbox, token, account, now)


async def register_and_accept(
    pool: Pool,
    outbox: Outbox,
    passwords: Passwords,
    links: EmailLinks,
    clock: Clock,
    token: str,
    details: AccountDetails,
    password: str,
) -> Acceptance:
    """A new account (SUB-1 holds for everyone), its address verified by the invitation's link when it is the
    address invited, else by a link of its own (INV-5)."""
    new_hash = await password_hash(passwords, password, field="password", login=details.login, email=details.email)
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        invitation = await invitations_store.open_invitation_by_token(conn, domain.token_hash(token), now)
        if invitation is None:
            raise Refused(INVITATION_NOT_FOUND)
        email_taken = "an account with this e-mail already exists: log in and accept"
        account = await create_account(conn, outbox, now, details, new_hash, email_taken=email_taken)
        if domain.same_email(account.email, invitation.email):
            await store.mark_email_verified(conn, account.id, now)  # the link reached this address (ACC-2)
        else:
            await send_verification(conn, outbox, links, account, now)  # INV-5: a changed address is verified anew
        accepted = await _accept(conn, outbox, token, account, now, check_email=False)
        fresh = await store.account_by_id(conn, account.id)
    return Acceptance(accepted.invitation, accepted.subscriber, accepted.partner, fresh)


async def _accept(
    conn: Connection, outbox: Outbox, token: str, account: store.Account, now: datetime, *, check_email: bool = True
) -> Acceptance:
    invitation = await invitations_store.open_invitation_by_token(conn, domain.token_hash(token), now)
    if invitation is None:
        raise Refused(INVITATION_NOT_FOUND)
    if check_email and not domain.same_email(account.email, invitation.email):
        raise Refused(
            Refusal(
                "invitation-for-another-address",
                f"the invitation is for {invitation.email}; log in with the account that uses that address",
                "forbidden",
            )
        )
    if await invitations_store.accept_invitation(conn, domain.token_hash(token), account.id, now) is None:
        raise Refused(INVITATION_NOT_FOUND)  # accepted a moment ago by a concurrent request
    if invitation.partner_id is not None:
        if not await partners_store.join_partner(
            conn, invitation.partner_id, account.id, invitation.partner_admin, now
        ):
            raise Refused(Refusal("staff-already", "you are on this partner's staff already", "conflict"))
        await outbox.add(
            conn, events.partner_staff_joined(invitation.partner_id, account.id, invitation.partner_admin, now)
        )
        partner = await partners_store.partner(conn, invitation.partner_id)
        assert partner is not None
        return Acceptance(invitation, partner=partner)
    assert invitation.subscriber_id is not None
    if not await subscribers_store.join_subscriber(
        conn, invitation.subscriber_id, account.id, invitation.its_access, now
    ):
        raise Refused(Refusal("user-already", "you are a user of this subscriber already", "conflict"))
    subscriber = await subscribers_store.subscriber(conn, invitation.subscriber_id)
    assert subscriber is not None
    await outbox.add(conn, events.member_joined(subscriber.id, account.id, "user", invitation.its_access))
    owner = await store.account_by_id(conn, subscriber.owner_account_id)
    await outbox.add(
        conn, events.invitation_accepted(invitation, subscriber, account, owner.language if owner else None)
    )
    return Acceptance(invitation, subscriber=subscriber)


async def _organisation_name(conn: Connection, invitation: Invitation) -> str | None:
    if invitation.partner_id is not None:
        partner = await partners_store.partner(conn, invitation.partner_id)
        return partner.name if partner else None
    assert invitation.subscriber_id is not None
    subscriber = await subscribers_store.subscriber(conn, invitation.subscriber_id)
    return subscriber.name if subscriber else None
