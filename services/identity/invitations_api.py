"""identity's invitations: an owner invites colleagues (INV-1..4, INV-6) and the invited accept (INV-5)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from aiohttp import web
from pydantic import BaseModel, EmailStr

from services.identity import domain, invitations_store, partners_store, store
from services.identity.api import (
    PASSWORDS,
    AccountOut,
    Login,
    Password,
    email_link,
    open_account,
    password_problem,
    send_verification,
)
from services.identity.domain import PasswordRejected
from services.identity.subscribers_api import INVITATION_NOT_FOUND, Contact, InvitationOut, Name, owner_membership
from shared.app import CLOCK, OUTBOX, POOL
from shared.auth import Caller
from shared.db import Connection
from shared.events.identity import (
    InvitationAccepted,
    InvitationSent,
    MemberJoined,
)
from shared.http import Api, Link
from shared.parsing import StrictModel
from shared.problems import Conflict, Forbidden, NotFound, TooManyRequests, ValidationFailed, invalid

routes = Api("ITS Portal identity: invitations")


class InvitationForAnotherAddress(Forbidden):
    slug, title = "invitation-for-another-address", "This invitation was sent to another e-mail address"


class NewInvitation(StrictModel):
    full_name: Name
    email: EmailStr
    its_access: bool = False


class InvitationList(BaseModel):
    items: list[InvitationOut]


class InvitationPreview(BaseModel):
    subscriber_name: str | None  # an invitation to a subscriber's users...
    partner_name: str | None = None  # ...or to a partner's staff
    full_name: str
    email: str
    valid_until: datetime


class Accepted(BaseModel):
    """Rule INV-5: what the person sees after accepting (for a partner's staff: `partner`)."""

    subscriber_code: str | None = None
    subscriber_name: str | None = None
    its_access: bool = False
    owner: Contact | None = None
    partner: PartnerJoined | None = None
    account: AccountOut | None = None


class RegisterThroughInvitation(StrictModel):
    login: Login
    password: Password
    full_name: Name
    email: EmailStr
    accept_terms: bool


# ---- invitations (INV-1..4, INV-6) --------------------------------------------------------


class InvitationText(BaseModel):
    text: str


@routes.post(
    "/v1/subscriber/invitations/preview",
    summary="INV-2: the text an invitation with these details would send, without sending anything",
    auth=True,
    body=NewInvitation,
    response=InvitationText,
    errors=(403,),
    tags=("invitations",),
)
async def preview_invitation(request: web.Request, caller: Caller, body: NewInvitation) -> InvitationText:
    async with request.app[POOL].acquire() as conn:
        membership = await owner_membership(conn, caller)
        subscriber, owner = await _subscriber_and_owner(conn, membership, caller)
    return InvitationText(text=_invitation_text(body, subscriber, owner))


def _invitation_text(body: NewInvitation, subscriber: store.Subscriber, owner: store.Account) -> str:
    return domain.invitation_text(
        full_name=body.full_name,
        subscriber_name=subscriber.name,
        owner_name=subscriber.owner_name,
        its_access=body.its_access,
        language=owner.language,
    )


@routes.post(
    "/v1/subscriber/invitations",
    summary="Invite a person (owner with a verified e-mail, INV-1)",
    auth=True,
    body=NewInvitation,
    response=InvitationOut,
    status=201,
    errors=(403, 429),
    tags=("invitations",),
    links={
        "Resend": Link("resend", {"invitation_id": "$response.body#/id"}),
        "Revoke": Link("revoke_invitation", {"invitation_id": "$response.body#/id"}),
    },
)
async def invite(request: web.Request, caller: Caller, body: NewInvitation) -> InvitationOut:
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        membership = await owner_membership(conn, caller)
        subscriber, owner = await _subscriber_and_owner(conn, membership, caller)
        await limit_invitation_sends(conn, invitations_store.Target.subscriber(membership.subscriber_id), now)
        text = _invitation_text(body, subscriber, owner)
        invitation = invitations_store.Invitation.new(
            invitations_store.Target.subscriber(membership.subscriber_id),
            email=body.email,
            full_name=body.full_name,
            its_access=body.its_access,
            text=text,
            now=now,
            valid_for=domain.INVITATION_TTL,
        )
        token = domain.new_token()
        await invitations_store.insert_invitation(conn, invitation, domain.token_hash(token))
        await _announce(request, conn, invitation, subscriber, owner, token)
    return _invitation_out(invitation, now)


@routes.get(
    "/v1/subscriber/invitations",
    summary="Every invitation ever created, with its state (INV-6)",
    auth=True,
    response=InvitationList,
    errors=(403,),
    tags=("invitations",),
)
async def list_invitations(request: web.Request, caller: Caller) -> InvitationList:
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn:
        membership = await owner_membership(conn, caller)
        rows = await invitations_store.invitations(conn, invitations_store.Target.subscriber(membership.subscriber_id))
    return InvitationList(items=[_invitation_out(i, now) for i in rows])


@routes.post(
    "/v1/subscriber/invitations/{invitation_id:uuid}/resend",
    summary="Send an invitation again: a new link, valid 7 more days (INV-3)",
    auth=True,
    response=InvitationOut,
    errors=(403, 404, 409, 429),
    tags=("invitations",),
)
async def resend(request: web.Request, caller: Caller) -> InvitationOut:
    invitation_id = _invitation_id(request)
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        membership = await owner_membership(conn, caller)
        subscriber, owner = await _subscriber_and_owner(conn, membership, caller)
        if (
            await invitations_store.invitation(
                conn, invitations_store.Target.subscriber(membership.subscriber_id), invitation_id
            )
            is None
        ):
            raise NotFound("no such invitation")
        await limit_invitation_sends(conn, invitations_store.Target.subscriber(membership.subscriber_id), now)
        token = domain.new_token()
        invitation = await invitations_store.resend_invitation(
            conn,
            invitations_store.Target.subscriber(membership.subscriber_id),
            invitation_id,
            domain.token_hash(token),
            now,
            now + domain.INVITATION_TTL,
        )
        if invitation is None:
            raise Conflict("only a pending or expired invitation can be sent again; invite the person anew")
        await _announce(request, conn, invitation, subscriber, owner, token)
    return _invitation_out(invitation, now)


@routes.post(
    "/v1/subscriber/invitations/{invitation_id:uuid}/revoke",
    summary="Revoke an invitation",
    auth=True,
    response=InvitationOut,
    errors=(403, 404, 409),
    tags=("invitations",),
)
async def revoke_invitation(request: web.Request, caller: Caller) -> InvitationOut:
    invitation_id = _invitation_id(request)
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        membership = await owner_membership(conn, caller)
        if (
            await invitations_store.invitation(
                conn, invitations_store.Target.subscriber(membership.subscriber_id), invitation_id
            )
            is None
        ):
            raise NotFound("no such invitation")
        invitation = await invitations_store.revoke_invitation(
            conn, invitations_store.Target.subscriber(membership.subscriber_id), invitation_id, now
        )
        if invitation is None:
            raise Conflict("the invitation was already accepted, replaced or revoked")
    return _invitation_out(invitation, now)


# ---- accepting (INV-5) --------------------------------------------------------------------


@routes.get(
    "/v1/invitations/{token:token}",
    summary="What an invitation link offers",
    response=InvitationPreview,
    errors=(404,),
    tags=("invitations",),
)
async def preview(request: web.Request) -> InvitationPreview:
    token = _token(request)
    async with request.app[POOL].acquire() as conn:
        invitation = await invitations_store.open_invitation_by_token(
            conn, domain.token_hash(token), request.app[CLOCK].now()
        )
        name = await _organisation_name(conn, invitation) if invitation else None
    if invitation is None or name is None:
        raise NotFound(INVITATION_NOT_FOUND)
    return InvitationPreview(
        subscriber_name=name if invitation.subscriber_id else None,
        partner_name=name if invitation.partner_id else None,
        full_name=invitation.full_name,
        email=invitation.email,
        valid_until=invitation.valid_until,
    )


async def _organisation_name(conn: Connection, invitation: invitations_store.Invitation) -> str | None:
    if invitation.partner_id is not None:
        partner = await partners_store.partner(conn, invitation.partner_id)
        return partner.name if partner else None
    assert invitation.subscriber_id is not None
    subscriber = await store.subscriber(conn, invitation.subscriber_id)
    return subscriber.name if subscriber else None


@routes.post(
    "/v1/invitations/{token:token}/accept",
    summary="Accept with an existing account (log in first)",
    auth=True,
    response=Accepted,
    errors=(403, 404, 409),
    tags=("invitations",),
)
async def accept(request: web.Request, caller: Caller) -> Accepted:
    token = _token(request)
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        account = await store.account_by_id(conn, caller.account_id)
        if account is None:
            raise NotFound("the account of this token no longer exists")
        return await _accept(request, conn, token, account, now)


@routes.post(
    "/v1/invitations/{token:token}/register",
    summary="Register an account and accept in one step",
    body=RegisterThroughInvitation,
    response=Accepted,
    status=201,
    errors=(404, 409),
    tags=("invitations",),
)
async def register_and_accept(request: web.Request, body: RegisterThroughInvitation) -> Accepted:
    if not body.accept_terms:
        raise ValidationFailed([invalid("accept_terms", "accept the user agreement to register", "terms")])
    token = _token(request)
    try:
        domain.check_password(body.password, login=body.login, email=body.email)
    except PasswordRejected as exc:
        raise password_problem("password", exc) from None
    password_hash = await request.app[PASSWORDS].hash(body.password)
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        invitation = await invitations_store.open_invitation_by_token(conn, domain.token_hash(token), now)
        if invitation is None:
            raise NotFound(INVITATION_NOT_FOUND)
        try:
            account = await store.insert_account(
                conn,
                login=body.login,
                email=body.email,
                full_name=body.full_name,
                language="en",
                password_hash=password_hash,
                now=now,
            )
        except store.LoginTaken:
            raise Conflict("this login is taken", field="login") from None
        except store.EmailTaken:
            raise Conflict("an account with this e-mail already exists: log in and accept", field="email") from None
        await open_account(conn, request.app[OUTBOX], account, now)  # SUB-1 holds for everyone
        if domain.same_email(account.email, invitation.email):
            # The link reached this address: it is verified (ACC-2).
            await invitations_store.mark_email_verified(conn, account.id, now)
        else:
            await send_verification(request, conn, account, now)  # INV-5: a changed address is verified anew
        accepted = await _accept(request, conn, token, account, now, check_email=False)
        fresh = await store.account_by_id(conn, account.id)
    assert fresh is not None
    return accepted.model_copy(update={"account": AccountOut.of(fresh)})


async def _accept(
    request: web.Request,
    conn: Connection,
    token: str,
    account: store.Account,
    now: datetime,
    *,
    check_email: bool = True,
) -> Accepted:
    invitation = await invitations_store.open_invitation_by_token(conn, domain.token_hash(token), now)
    if invitation is None:
        raise NotFound(INVITATION_NOT_FOUND)
    if check_email and not domain.same_email(account.email, invitation.email):
        raise InvitationForAnotherAddress(
            f"the invitation is for {invitation.email}; log in with the account that uses that address"
        )
    if await invitations_store.accept_invitation(conn, domain.token_hash(token), account.id, now) is None:
        raise NotFound(INVITATION_NOT_FOUND)  # accepted a moment ago by a concurrent request
    if invitation.partner_id is not None:
        return await _join_partner(conn, invitation, invitation.partner_id, account, now)
    assert invitation.subscriber_id is not None
    if not await store.join_subscriber(conn, invitation.subscriber_id, account.id, invitation.its_access, now):
        raise Conflict("you are a user of this subscriber already")
    subscriber = await store.subscriber(conn, invitation.subscriber_id)
    assert subscriber is not None
    outbox = request.app[OUTBOX]
    await outbox.add(
        conn,
        MemberJoined(subscriber_id=subscriber.id, account_id=account.id, role="user", its_access=invitation.its_access),
    )
    owner = await store.account_by_id(conn, subscriber.owner_account_id)
    await outbox.add(
        conn,
        InvitationAccepted(
            invitation_id=invitation.id,
            subscriber_id=subscriber.id,
            subscriber_name=subscriber.name,
            account_id=account.id,
            full_name=account.full_name,
            email=account.email,
            owner_name=subscriber.owner_name,
            owner_email=subscriber.owner_email,
            owner_language="ru" if owner and owner.language == "ru" else "en",
        ),
    )
    return Accepted(
        subscriber_code=subscriber.code,
        subscriber_name=subscriber.name,
        its_access=invitation.its_access,
        owner=Contact(name=subscriber.owner_name, email=subscriber.owner_email),
    )


async def _join_partner(
    conn: Connection,
    invitation: invitations_store.Invitation,
    partner_id: uuid.UUID,
    account: store.Account,
    now: datetime,
) -> Accepted:
    if not await partners_store.join_partner(conn, partner_id, account.id, invitation.partner_admin, now):
        raise Conflict("you are on this partner's staff already")
    partner = await partners_store.partner(conn, partner_id)
    assert partner is not None
    return Accepted(partner=PartnerJoined(id=partner.id, name=partner.name, admin=invitation.partner_admin))


class PartnerJoined(BaseModel):
    id: uuid.UUID
    name: str
    admin: bool


async def _subscriber_and_owner(
    conn: Connection, membership: store.Membership, caller: Caller
) -> tuple[store.Subscriber, store.Account]:
    subscriber = await store.subscriber(conn, membership.subscriber_id)
    owner = await store.account_by_id(conn, caller.account_id)
    assert subscriber is not None and owner is not None
    if not owner.email_verified:  # rule INV-1
        raise EmailNotVerified("verify your e-mail address before inviting users")
    return subscriber, owner


async def limit_invitation_sends(conn: Connection, target: invitations_store.Target, now: datetime) -> None:
    """At most INVITATIONS_PER_DAY invitations sent (or re-sent) a day by one subscriber or partner."""
    sent = await invitations_store.sends_since(conn, target, now - timedelta(days=1))
    if sent >= domain.INVITATIONS_PER_DAY:
        whom = "partner" if target.column == "partner_id" else "subscriber"
        raise TooManyRequests(f"at most {domain.INVITATIONS_PER_DAY} invitations a day per {whom}", retry_after=3600)


async def _announce(
    request: web.Request,
    conn: Connection,
    invitation: invitations_store.Invitation,
    subscriber: store.Subscriber,
    owner: store.Account,
    token: str,
) -> None:
    await request.app[OUTBOX].add(
        conn,
        InvitationSent(
            invitation_id=invitation.id,
            subscriber_id=subscriber.id,
            subscriber_name=subscriber.name,
            email=invitation.email,
            full_name=invitation.full_name,
            its_access=invitation.its_access,
            text=invitation.text,
            invitation_url=email_link(request, "invitation", "/v1/invitations", token),
            valid_until=invitation.valid_until,
            owner_name=subscriber.owner_name,
            owner_email=owner.email,
            language="ru" if owner.language == "ru" else "en",
        ),
    )


def _invitation_out(invitation: invitations_store.Invitation, now: datetime) -> InvitationOut:
    times = domain.InvitationTimes(
        invitation.valid_until, invitation.accepted_at, invitation.revoked_at, invitation.superseded_at
    )
    return InvitationOut(
        id=invitation.id,
        email=invitation.email,
        full_name=invitation.full_name,
        its_access=invitation.its_access,
        state=domain.invitation_state(times, now),
        created_at=invitation.created_at,
        valid_until=invitation.valid_until,
        text=invitation.text,
    )


def _invitation_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["invitation_id"])
    except ValueError:
        raise NotFound("no such invitation") from None


def _token(request: web.Request) -> str:
    token = request.match_info["token"]
    if not (16 <= len(token) <= 128) or not token.replace("-", "").replace("_", "").isalnum():
        raise NotFound(INVITATION_NOT_FOUND)
    return token


class EmailNotVerified(Forbidden):
    slug, title = "email-not-verified", "Verify your e-mail address first"
