"""identity's subscriber API: the subscriber, its users and their rights, invitations.

Rules SUB-1..7 and INV-1..6. The subscriber is always the one the access token acts for (SUB-7):
no endpoint takes a subscriber from the URL or the body.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, StringConstraints

from services.identity import domain, store, tokens_store
from shared.app import CLOCK, OUTBOX, POOL
from shared.auth import Caller, OwnerOnly
from shared.db import Connection
from shared.events.identity import (
    MemberExcluded,
    MemberRightsChanged,
    SubscriberRenamed,
)
from shared.http import Api
from shared.parsing import StrictModel
from shared.problems import Conflict, NotFound
from shared.revocations import MembershipEnded

routes = Api("ITS Portal identity: subscribers")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


INVITATION_NOT_FOUND = "the invitation link is unknown, expired, replaced by a newer one or already used"


# ---- models -------------------------------------------------------------------------------


class Contact(BaseModel):
    name: str
    email: str


class SubscriberOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    owner: Contact
    role: str
    rights: list[str]


class Rename(StrictModel):
    name: Name


class MembershipOut(BaseModel):
    code: str
    name: str
    role: str
    rights: list[str]
    joined_at: datetime


class MembershipList(BaseModel):
    items: list[MembershipOut]


class UserOut(BaseModel):
    account_id: uuid.UUID
    login: str
    full_name: str | None
    email: str
    role: str
    is_owner: bool
    rights: list[str]
    joined_at: datetime


class UserList(BaseModel):
    items: list[UserOut]


class Rights(StrictModel):
    its_access: bool


class InvitationOut(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str
    its_access: bool
    state: str
    created_at: datetime
    valid_until: datetime
    text: str


# ---- the subscriber (SUB-3, SUB-7) --------------------------------------------------------


@routes.get(
    "/v1/subscriber",
    summary="The subscriber the token acts for",
    auth=True,
    response=SubscriberOut,
    errors=(403,),
    tags=("subscribers",),
)
async def get_subscriber(request: web.Request, caller: Caller) -> SubscriberOut:
    async with request.app[POOL].acquire() as conn:
        membership = await _current_membership(conn, caller)
        return await _subscriber_out(conn, membership)


@routes.patch(
    "/v1/subscriber",
    summary="Rename the subscriber (owner, SUB-3)",
    auth=True,
    body=Rename,
    response=SubscriberOut,
    errors=(403,),
    tags=("subscribers",),
)
async def rename_subscriber(request: web.Request, caller: Caller, body: Rename) -> SubscriberOut:
    async with request.app[POOL].acquire() as conn, conn.transaction():
        membership = await owner_membership(conn, caller)
        await store.rename_subscriber(conn, membership.subscriber_id, body.name)
        await request.app[OUTBOX].add(
            conn, SubscriberRenamed(subscriber_id=membership.subscriber_id, code=membership.code, name=body.name)
        )
        return await _subscriber_out(conn, membership)


@routes.get(
    "/v1/me/subscribers",
    summary="The subscribers this account belongs to (SUB-7)",
    auth=True,
    response=MembershipList,
    tags=("subscribers",),
)
async def my_subscribers(request: web.Request, caller: Caller) -> MembershipList:
    async with request.app[POOL].acquire() as conn:
        rows = await store.memberships(conn, caller.account_id)
    return MembershipList(
        items=[
            MembershipOut(
                code=m.code,
                name=m.name,
                role=m.role,
                rights=domain.member_rights(m.role, m.its_access),
                joined_at=m.joined_at,
            )
            for m in rows
        ]
    )


# ---- users and rights (SUB-4..6) ----------------------------------------------------------


@routes.get(
    "/v1/subscriber/users",
    summary="The subscriber's users (owner)",
    auth=True,
    response=UserList,
    errors=(403,),
    tags=("users",),
)
async def list_users(request: web.Request, caller: Caller) -> UserList:
    async with request.app[POOL].acquire() as conn:
        membership = await owner_membership(conn, caller)
        rows = await store.members(conn, membership.subscriber_id)
    return UserList(
        items=[
            UserOut(
                account_id=m.account_id,
                login=m.login,
                full_name=m.full_name,
                email=m.email,
                role=m.role,
                is_owner=m.role == "owner",
                rights=domain.member_rights(m.role, m.its_access),
                joined_at=m.joined_at,
            )
            for m in rows
        ]
    )


@routes.route(
    "PUT",
    "/v1/subscriber/users/{account_id:uuid}/rights",
    summary="Set a user's rights (owner, SUB-5)",
    auth=True,
    body=Rights,
    status=204,
    errors=(403, 404, 409),
    tags=("users",),
)
async def set_rights(request: web.Request, caller: Caller, body: Rights) -> None:
    account_id = _account_id(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        membership = await owner_membership(conn, caller)
        owner_refusal = "the owner has every right; they cannot be changed"
        await _lock_user(conn, membership.subscriber_id, account_id, owner_refusal)
        # Stamped after the lock: the user's tokens issued before it are refused at once everywhere, their
        # `rights` being stale (rule SUB-5, shared.revocations); a refresh gives the current ones.
        changed_at = request.app[CLOCK].now()
        await store.set_its_access(conn, membership.subscriber_id, account_id, body.its_access)
        await request.app[OUTBOX].add(
            conn,
            MemberRightsChanged(
                subscriber_id=membership.subscriber_id,
                account_id=account_id,
                its_access=body.its_access,
                changed_at=changed_at,
            ),
        )


@routes.delete(
    "/v1/subscriber/users/{account_id:uuid}",
    summary="Exclude a user (owner, SUB-6)",
    auth=True,
    status=204,
    errors=(403, 404, 409),
    tags=("users",),
)
async def exclude_user(request: web.Request, caller: Caller) -> None:
    account_id = _account_id(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        membership = await owner_membership(conn, caller)
        await _lock_user(conn, membership.subscriber_id, account_id, "the owner cannot be excluded")
        now = request.app[CLOCK].now()  # after the lock (shared.revocations)
        await store.exclude_member(conn, membership.subscriber_id, account_id, now)
        # Rule SUB-6, at once: no refresh, no new token for this subscriber; every service (identity too)
        # refuses the tokens issued before `excluded_at` (shared.revocations).
        await tokens_store.revoke_member_refresh_tokens(conn, account_id, membership.subscriber_id, now)
        await request.app[OUTBOX].add(
            conn, MemberExcluded(subscriber_id=membership.subscriber_id, account_id=account_id, excluded_at=now)
        )


# ---- helpers ------------------------------------------------------------------------------


async def _lock_user(conn: Connection, subscriber_id: uuid.UUID, account_id: uuid.UUID, owner_refusal: str) -> None:
    """The subscriber's user whose access the owner changes, locked until the change commits."""
    role = await store.lock_member(conn, subscriber_id, account_id)
    if role is None:
        raise NotFound("no such user in this subscriber")
    if role == "owner":
        raise Conflict(owner_refusal)


async def _current_membership(conn: Connection, caller: Caller) -> store.Membership:
    """The caller's membership of the token's subscriber, as it is now (an exclusion counts at once)."""
    claim = caller.require_subscriber()
    membership = await store.membership(conn, caller.account_id, claim.id)
    if membership is None:
        raise MembershipEnded("you were excluded from this subscriber")
    return membership


async def owner_membership(conn: Connection, caller: Caller) -> store.Membership:
    membership = await _current_membership(conn, caller)
    if membership.role != "owner":
        raise OwnerOnly("only the subscriber's owner can do this")
    return membership


async def _subscriber_out(conn: Connection, membership: store.Membership) -> SubscriberOut:
    subscriber = await store.subscriber(conn, membership.subscriber_id)
    assert subscriber is not None
    return SubscriberOut(
        id=subscriber.id,
        code=subscriber.code,
        name=subscriber.name,
        owner=Contact(name=subscriber.owner_name, email=subscriber.owner_email),
        role=membership.role,
        rights=domain.member_rights(membership.role, membership.its_access),
    )


def _account_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["account_id"])
    except ValueError:
        raise NotFound("no such user in this subscriber") from None
