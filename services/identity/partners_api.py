"""identity's partner API: partners (franchisees) and their systems' API clients.

Operators create partners and clients; a partner system authenticates with OAuth 2.0
client_credentials (see api.token) and sees only its own partner.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, EmailStr, StringConstraints

from services.identity import domain, invitations_store, partners_store, store
from services.identity.api import email_link
from services.identity.invitations_api import limit_invitation_sends
from shared.app import CLOCK, OUTBOX, POOL
from shared.auth import Caller
from shared.db import Connection
from shared.events import Event
from shared.events.identity import (
    InvitationSent,
    PartnerClientCreated,
    PartnerClientRevoked,
    PartnerCreated,
    PartnerDeactivated,
    PartnerReactivated,
    PartnerStaffRemoved,
)
from shared.http import Api, Link
from shared.parsing import StrictModel
from shared.problems import Conflict, Forbidden, NotFound

routes = Api("ITS Portal identity: partners")

OPERATOR = "operator"
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# The check digits of a TIN are verified where contracts need them; here: its shape.
Tin = Annotated[str, StringConstraints(pattern=r"^(\d{10}|\d{12})$")]


class NewPartner(StrictModel):
    name: Text
    tin: Tin
    city: Text
    contact_email: EmailStr


class PartnerOut(BaseModel):
    id: uuid.UUID
    name: str
    tin: str
    city: str
    contact_email: str
    created_at: datetime
    deactivated_at: datetime | None = None  # set while deactivated: its clients and staff get no tokens


class NewClient(StrictModel):
    name: Text


class ClientOut(BaseModel):
    client_id: uuid.UUID
    name: str
    created_at: datetime
    revoked_at: datetime | None


class ClientCreated(ClientOut):
    client_secret: str  # shown once; only its hash is kept


class ClientList(BaseModel):
    items: list[ClientOut]


def secret_hash(secret: str) -> bytes:
    """Client secrets are 256 random bits: a plain SHA-256 is enough (no dictionary to guess from)."""
    return hashlib.sha256(secret.encode()).digest()


@routes.post(
    "/v1/partners",
    summary="Create a partner (operators)",
    scope=OPERATOR,
    body=NewPartner,
    response=PartnerOut,
    status=201,
    errors=(409,),
    tags=("partners",),
    links={
        "GetPartner": Link("get_partner", {"partner_id": "$response.body#/id"}),
        "CreateClient": Link("create_client", {"partner_id": "$response.body#/id"}),
        "ListClients": Link("list_clients", {"partner_id": "$response.body#/id"}),
        "InviteStaff": Link("invite_staff", {"partner_id": "$response.body#/id"}),
        "ListStaff": Link("list_staff", {"partner_id": "$response.body#/id"}),
    },
)
async def create_partner(request: web.Request, caller: Caller, body: NewPartner) -> PartnerOut:
    partner = partners_store.Partner(
        id=uuid.uuid4(),
        name=body.name,
        tin=body.tin,
        city=body.city,
        contact_email=body.contact_email,
        created_at=request.app[CLOCK].now(),
    )
    async with request.app[POOL].acquire() as conn, conn.transaction():
        try:
            await partners_store.insert_partner(conn, partner)
        except partners_store.TinTaken:
            raise Conflict("a partner with this TIN exists", field="tin") from None
        await request.app[OUTBOX].add(conn, partner_created(partner))
    return PartnerOut(**partner.__dict__)


def partner_created(partner: partners_store.Partner) -> PartnerCreated:
    return PartnerCreated(
        partner_id=partner.id,
        name=partner.name,
        tin=partner.tin,
        city=partner.city,
        contact_email=partner.contact_email,
    )


class PartnerList(BaseModel):
    items: list[PartnerOut]


@routes.get(
    "/v1/partners",
    summary="Every partner, by name (operators)",
    scope=OPERATOR,
    response=PartnerList,
    tags=("partners",),
)
async def list_partners(request: web.Request, caller: Caller) -> PartnerList:
    async with request.app[POOL].acquire() as conn:
        partners = await partners_store.all_partners(conn)
    return PartnerList(items=sorted((PartnerOut(**p.__dict__) for p in partners), key=lambda p: p.name.lower()))


class MyPartner(PartnerOut):
    admin: bool


class MyPartnerList(BaseModel):
    items: list[MyPartner]


@routes.get(
    "/v1/me/partners",
    summary="The partners whose staff the calling account is on; log in for one with `partner=<id>`",
    auth=True,
    response=MyPartnerList,
    tags=("partners",),
)
async def my_partners(request: web.Request, caller: Caller) -> MyPartnerList:
    async with request.app[POOL].acquire() as conn:
        found = await partners_store.partners_of_account(conn, caller.account_id)
    return MyPartnerList(items=[MyPartner(**partner.__dict__, admin=admin) for partner, admin in found])


@routes.get(
    "/v1/partners/{partner_id:uuid}",
    summary="A partner (operators, and the partner itself)",
    auth=True,
    response=PartnerOut,
    errors=(404,),
    tags=("partners",),
    callers=("operator", "partner"),
)
async def get_partner(request: web.Request, caller: Caller) -> PartnerOut:
    partner_id = _visible_partner(request, caller)
    async with request.app[POOL].acquire() as conn:
        partner = await partners_store.partner(conn, partner_id)
    if partner is None:
        raise NotFound("no such partner")
    return PartnerOut(**partner.__dict__)


@routes.post(
    "/v1/partners/{partner_id:uuid}/clients",
    summary="Create an API client; its secret is shown once (operators and partner admins)",
    auth=True,
    body=NewClient,
    response=ClientCreated,
    status=201,
    errors=(403, 404),
    tags=("partners",),
    callers=("operator", "partner"),
    links={
        "RevokeClient": Link(
            "revoke_client", {"partner_id": "$request.path.partner_id", "client_id": "$response.body#/client_id"}
        )
    },
)
async def create_client(request: web.Request, caller: Caller, body: NewClient) -> ClientCreated:
    secret = secrets.token_urlsafe(32)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        partner_id = (await _administered_partner(conn, request, caller)).id
        client = partners_store.PartnerClient(
            id=uuid.uuid4(), partner_id=partner_id, name=body.name, created_at=request.app[CLOCK].now(), revoked_at=None
        )
        await partners_store.insert_partner_client(conn, client, secret_hash(secret))
        await request.app[OUTBOX].add(
            conn, PartnerClientCreated(partner_id=partner_id, client_id=client.id, name=client.name)
        )
    return ClientCreated(
        client_id=client.id, name=client.name, created_at=client.created_at, revoked_at=None, client_secret=secret
    )


@routes.get(
    "/v1/partners/{partner_id:uuid}/clients",
    summary="A partner's API clients, no secrets (operators and partner admins)",
    auth=True,
    response=ClientList,
    tags=("partners",),
    errors=(403, 404),
    callers=("operator", "partner"),
)
async def list_clients(request: web.Request, caller: Caller) -> ClientList:
    async with request.app[POOL].acquire() as conn:
        partner = await _administered_partner(conn, request, caller)
        clients = await partners_store.partner_clients(conn, partner.id)
    return ClientList(items=[_client_out(c) for c in clients])


@routes.post(
    "/v1/partners/{partner_id:uuid}/clients/{client_id:uuid}/revoke",
    summary="Revoke an API client (operators and partner admins)",
    auth=True,
    response=ClientOut,
    errors=(403, 404),
    tags=("partners",),
    callers=("operator", "partner"),
)
async def revoke_client(request: web.Request, caller: Caller) -> ClientOut:
    """Its secret gives no new tokens, and every service refuses its tokens at once (shared.revocations)."""
    client_id = _uuid(request, "client_id")
    async with request.app[POOL].acquire() as conn, conn.transaction():
        partner_id = (await _administered_partner(conn, request, caller)).id
        locked = await partners_store.lock_partner_client(conn, partner_id, client_id)
        if locked is None:
            raise NotFound("no such client")
        if locked.revoked_at is not None:
            return _client_out(locked)  # revoked already: nothing changes
        now = request.app[CLOCK].now()  # after the lock (shared.revocations)
        client = await partners_store.revoke_partner_client(conn, client_id, now)
        await request.app[OUTBOX].add(
            conn, PartnerClientRevoked(partner_id=partner_id, client_id=client_id, revoked_at=now)
        )
    return _client_out(client)


def _client_out(client: partners_store.PartnerClient) -> ClientOut:
    return ClientOut(client_id=client.id, name=client.name, created_at=client.created_at, revoked_at=client.revoked_at)


def _visible_partner(request: web.Request, caller: Caller) -> uuid.UUID:
    """Operators see every partner; a partner only itself (others: the same 404 as a missing one)."""
    partner_id = _uuid(request, "partner_id")
    if OPERATOR in caller.scopes or caller.partner_id == partner_id:
        return partner_id
    raise NotFound("no such partner")


def _uuid(request: web.Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise NotFound(f"no such {name.split('_')[0]}") from None


# ---- the partner's staff: invited like a subscriber's users ---------------------------------


class NewPartnerInvitation(StrictModel):
    full_name: Text
    email: EmailStr
    admin: bool = False  # a partner admin invites staff and manages the API clients


class PartnerInvitationOut(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str
    admin: bool
    state: str
    created_at: datetime
    valid_until: datetime
    text: str


class PartnerUserOut(BaseModel):
    account_id: uuid.UUID
    login: str
    full_name: str | None
    email: str
    admin: bool
    joined_at: datetime


class PartnerUserList(BaseModel):
    items: list[PartnerUserOut]


@routes.post(
    "/v1/partners/{partner_id:uuid}/invitations",
    summary="Invite a person to the partner's staff (operators and partner admins)",
    auth=True,
    body=NewPartnerInvitation,
    response=PartnerInvitationOut,
    status=201,
    errors=(403, 404, 429),
    tags=("partners",),
    callers=("operator", "partner"),
)
async def invite_staff(request: web.Request, caller: Caller, body: NewPartnerInvitation) -> PartnerInvitationOut:
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        partner = await _administered_partner(conn, request, caller)
        inviter = await store.account_by_id(conn, caller.account_id)
        if inviter is None:
            raise NotFound("the account of this token no longer exists")
        await limit_invitation_sends(conn, invitations_store.Target.partner(partner.id), now)
        inviter_name = inviter.full_name or inviter.login
        text = domain.partner_invitation_text(
            full_name=body.full_name, partner_name=partner.name, inviter_name=inviter_name, language=inviter.language
        )
        invitation = invitations_store.Invitation.new(
            invitations_store.Target.partner(partner.id),
            email=body.email,
            full_name=body.full_name,
            partner_admin=body.admin,
            text=text,
            now=now,
            valid_for=domain.INVITATION_TTL,
        )
        token = domain.new_token()
        await invitations_store.insert_invitation(conn, invitation, domain.token_hash(token))
        await request.app[OUTBOX].add(
            conn,
            InvitationSent(
                invitation_id=invitation.id,
                partner_id=partner.id,
                subscriber_name=partner.name,
                email=invitation.email,
                full_name=invitation.full_name,
                its_access=False,
                text=text,
                invitation_url=email_link(request, "invitation", "/v1/invitations", token),
                valid_until=invitation.valid_until,
                owner_name=inviter_name,
                owner_email=inviter.email,
                language="ru" if inviter.language == "ru" else "en",
            ),
        )
    times = domain.InvitationTimes(invitation.valid_until, None, None, None)
    return PartnerInvitationOut(
        id=invitation.id,
        email=invitation.email,
        full_name=invitation.full_name,
        admin=body.admin,
        state=domain.invitation_state(times, now),
        created_at=now,
        valid_until=invitation.valid_until,
        text=text,
    )


@routes.get(
    "/v1/partners/{partner_id:uuid}/users",
    summary="The partner's staff (operators and the partner's users)",
    auth=True,
    response=PartnerUserList,
    errors=(404,),
    tags=("partners",),
    callers=("operator", "partner"),
)
async def list_staff(request: web.Request, caller: Caller) -> PartnerUserList:
    partner_id = _visible_partner(request, caller)
    async with request.app[POOL].acquire() as conn:
        users = await partners_store.partner_users(conn, partner_id)
    return PartnerUserList(
        items=[
            PartnerUserOut(
                account_id=u.account_id,
                login=u.login,
                full_name=u.full_name,
                email=u.email,
                admin=u.is_admin,
                joined_at=u.joined_at,
            )
            for u in users
        ]
    )


@routes.delete(
    "/v1/partners/{partner_id:uuid}/users/{account_id:uuid}",
    summary="Remove a person from the partner's staff; their partner tokens are refused at once "
    "(operators and partner admins)",
    auth=True,
    callers=("operator", "partner"),
    status=204,
    errors=(403, 404, 409),
    tags=("partners",),
)
async def remove_staff(request: web.Request, caller: Caller) -> None:
    account_id = _uuid(request, "account_id")
    async with request.app[POOL].acquire() as conn, conn.transaction():
        partner = await _administered_partner(conn, request, caller)
        if account_id == caller.account_id:
            raise Conflict("you cannot remove yourself; another admin or an operator can")
        if not await partners_store.remove_partner_member(conn, partner.id, account_id):
            raise NotFound("no such person on this partner's staff")
        removed_at = request.app[CLOCK].now()  # after the row lock the removal holds (shared.revocations)
        await request.app[OUTBOX].add(
            conn, PartnerStaffRemoved(partner_id=partner.id, account_id=account_id, removed_at=removed_at)
        )


@routes.post(
    "/v1/partners/{partner_id:uuid}/deactivate",
    summary="Deactivate a partner: none of its clients or staff get or use tokens until it is reactivated (operators)",
    scope=OPERATOR,
    response=PartnerOut,
    errors=(404,),
    tags=("partners",),
)
async def deactivate_partner(request: web.Request, caller: Caller) -> PartnerOut:
    return await _set_active(request, active=False)


@routes.post(
    "/v1/partners/{partner_id:uuid}/reactivate",
    summary="Reactivate a deactivated partner: its clients and staff get tokens again (operators)",
    scope=OPERATOR,
    response=PartnerOut,
    errors=(404,),
    tags=("partners",),
)
async def reactivate_partner(request: web.Request, caller: Caller) -> PartnerOut:
    return await _set_active(request, active=True)


async def _set_active(request: web.Request, *, active: bool) -> PartnerOut:
    """Idempotent: a partner in the state asked for stays as it is, and nothing is announced."""
    partner_id = _uuid(request, "partner_id")
    async with request.app[POOL].acquire() as conn, conn.transaction():
        partner = await partners_store.partner(conn, partner_id, lock=True)
        if partner is None:
            raise NotFound("no such partner")
        if (partner.deactivated_at is None) != active:
            now = request.app[CLOCK].now()  # after the lock: tokens issued before it are refused (shared.revocations)
            partner = await partners_store.set_partner_deactivated(conn, partner_id, None if active else now)
            event: Event = (
                PartnerReactivated(partner_id=partner_id, reactivated_at=now)
                if active
                else PartnerDeactivated(partner_id=partner_id, deactivated_at=now)
            )
            await request.app[OUTBOX].add(conn, event)
    return PartnerOut(**partner.__dict__)


async def _administered_partner(conn: Connection, request: web.Request, caller: Caller) -> partners_store.Partner:
    """The partner of the URL, if the caller is an operator or one of its admins (others: 404)."""
    partner_id = _visible_partner(request, caller)
    if OPERATOR not in caller.scopes and not await partners_store.partner_admin(conn, partner_id, caller.account_id):
        raise Forbidden("only operators and the partner's admins can do this")
    partner = await partners_store.partner(conn, partner_id)
    if partner is None:
        raise NotFound("no such partner")
    return partner
