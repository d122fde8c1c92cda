"""identity's invitations API: an owner invites colleagues (INV-1..4, INV-6) and the invited accept (INV-5)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from aiohttp import web
from pydantic import BaseModel, EmailStr, Field

from rules.refusal import Refused
from services.identity import domain, invitation_acceptance, invitations
from services.identity.accounts import AccountDetails
from services.identity.api import AccountOut, Login, Password
from services.identity.invitation_acceptance import INVITATION_NOT_FOUND, TERMS_NOT_ACCEPTED, Acceptance
from services.identity.invitations_store import Invitation
from services.identity.keys import PASSWORDS, SETTINGS
from services.identity.links import EmailLinks
from services.identity.lists import ListQuery, Search, Sort
from services.identity.subscribers_api import Contact, Name, acting
from shared.auth import Caller
from shared.http import Api, Link
from shared.keys import CLOCK, OUTBOX, POOL
from shared.parsing import StrictModel
from shared.problems import NotFound

routes = Api("ITS Portal identity: invitations")


class NewInvitation(StrictModel):
    full_name: Name
    email: EmailStr
    its_access: bool = False


class InvitationOut(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str
    its_access: bool
    state: str
    created_at: datetime
    valid_until: datetime
    text: str


class InvitationList(BaseModel):
    items: list[InvitationOut]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null on the last")


class InvitationQuery(ListQuery):
    LIST: ClassVar[str] = "invitations"

    q: Search | None = Field(default=None, description="Part of the invited person's name or e-mail, in any case")
    state: Literal["pending", "accepted", "expired", "revoked", "superseded"] | None = Field(
        default=None, description="Only invitations in this state (INV-6)"
    )
    sort: Sort = Field(default="newest", description="`newest` (sent last first) or `name` (A to Z)")


class InvitationText(BaseModel):
    text: str


class InvitationPreview(BaseModel):
    subscriber_name: str | None  # an invitation to a subscriber's users...
    partner_name: str | None = None  # ...or to a partner's staff
    full_name: str
    email: str
    valid_until: datetime


class PartnerJoined(BaseModel):
    id: uuid.UUID
    name: str
    admin: bool


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
    text = await invitations.invitation_text(
        request.app[POOL], acting(caller), full_name=body.full_name, its_access=body.its_access
    )
    return InvitationText(text=text)


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
    owner, now = acting(caller), request.app[CLOCK].now()
    invitation = await invitations.issue_invitation(
        request.app[POOL],
        request.app[OUTBOX],
        EmailLinks.of(request.app[SETTINGS]),
        now,
        owner,
        email=body.email,
        full_name=body.full_name,
        its_access=body.its_access,
    )
    return _invitation_out(invitation, now)


@routes.get(
    "/v1/subscriber/invitations",
    summary="Every invitation ever created, with its state (INV-6), a page at a time, searched and filtered",
    auth=True,
    query=InvitationQuery,
    response=InvitationList,
    errors=(403,),
    tags=("invitations",),
    links={"NextPage": Link("list_invitations", {"cursor": "$response.body#/next_cursor"})},
)
async def list_invitations(request: web.Request, caller: Caller, query: InvitationQuery) -> InvitationList:
    owner, now = acting(caller), request.app[CLOCK].now()
    page = await invitations.invitations(request.app[POOL], owner, query.window(), state=query.state, now=now)
    last = page.items[-1].id if page.items else None
    items = [_invitation_out(i, now) for i in page.items]
    return InvitationList(items=items, next_cursor=query.next_cursor(page, last))


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
    owner, now, app = acting(caller), request.app[CLOCK].now(), request.app
    invitation = await invitations.resend_invitation(
        app[POOL], app[OUTBOX], EmailLinks.of(app[SETTINGS]), now, owner, invitation_id
    )
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
    owner, now = acting(caller), request.app[CLOCK].now()
    invitation = await invitations.revoke_invitation(request.app[POOL], now, owner, invitation_id)
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
    invitation, name = await invitation_acceptance.open_invitation(request.app[POOL], request.app[CLOCK].now(), token)
    return InvitationPreview(
        subscriber_name=name if invitation.subscriber_id else None,
        partner_name=name if invitation.partner_id else None,
        full_name=invitation.full_name,
        email=invitation.email,
        valid_until=invitation.valid_until,
    )


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
    acceptance = await invitation_acceptance.accept_invitation(
        request.app[POOL], request.app[OUTBOX], request.app[CLOCK].now(), token, caller.account_id
    )
    return _accepted(acceptance)


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
        raise Refused(TERMS_NOT_ACCEPTED)
    token = _token(request)
    acceptance = await invitation_acceptance.register_and_accept(
        request.app[POOL],
        request.app[OUTBOX],
        request.app[PASSWORDS],
        EmailLinks.of(request.app[SETTINGS]),
        request.app[CLOCK],
        token,
        AccountDetails(body.login, body.email, body.full_name),
        body.password,
    )
    return _accepted(acceptance)


# ---- answers and parsing ------------------------------------------------------------------


def _accepted(acceptance: Acceptance) -> Accepted:
    invitation, subscriber, partner = acceptance.invitation, acceptance.subscriber, acceptance.partner
    account = AccountOut.of(acceptance.account) if acceptance.account else None
    if partner is not None:
        return Accepted(
            partner=PartnerJoined(id=partner.id, name=partner.name, admin=invitation.partner_admin), account=account
        )
    assert subscriber is not None
    return Accepted(
        subscriber_code=subscriber.code,
        subscriber_name=subscriber.name,
        its_access=invitation.its_access,
        owner=Contact(name=subscriber.owner_name, email=subscriber.owner_email),
        account=account,
    )


def _invitation_out(invitation: Invitation, now: datetime) -> InvitationOut:
    return InvitationOut(
        id=invitation.id,
        email=invitation.email,
        full_name=invitation.full_name,
        its_access=invitation.its_access,
        state=domain.invitation_state(invitation.times, now),
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
        raise Refused(INVITATION_NOT_FOUND)
    return token
