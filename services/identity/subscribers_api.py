"""identity's subscriber API: the subscriber, its users and their rights.

Rules SUB-1..7. The subscriber is always the one the access token acts for (SUB-7):
no endpoint takes a subscriber from the URL or the body.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, StringConstraints

from services.identity import domain, members, subscribers
from services.identity.subscribers import Acting
from services.identity.subscribers_store import Membership, Subscriber
from shared.auth import Caller
from shared.http import Api
from shared.keys import CLOCK, OUTBOX, POOL
from shared.parsing import StrictModel
from shared.problems import NotFound

routes = Api("ITS Portal identity: subscribers")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


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
    return _subscriber_out(*await subscribers.subscriber_of(request.app[POOL], acting(caller)))


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
    renamed = await subscribers.rename_subscriber(request.app[POOL], request.app[OUTBOX], acting(caller), body.name)
    return _subscriber_out(*renamed)


@routes.get(
    "/v1/me/subscribers",
    summary="The subscribers this account belongs to (SUB-7)",
    auth=True,
    response=MembershipList,
    tags=("subscribers",),
)
async def my_subscribers(request: web.Request, caller: Caller) -> MembershipList:
    rows = await subscribers.memberships(request.app[POOL], caller.account_id)
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
    rows = await subscribers.users(request.app[POOL], acting(caller))
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
    app = request.app
    await members.set_rights(app[POOL], app[OUTBOX], app[CLOCK], acting(caller), account_id, its_access=body.its_access)


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
    app = request.app
    await members.exclude_member(app[POOL], app[OUTBOX], app[CLOCK], acting(caller), account_id)


# ---- helpers ------------------------------------------------------------------------------


def _subscriber_out(subscriber: Subscriber, membership: Membership) -> SubscriberOut:
    return SubscriberOut(
        id=subscriber.id,
        code=subscriber.code,
        name=subscriber.name,
        owner=Contact(name=subscriber.owner_name, email=subscriber.owner_email),
        role=membership.role,
        rights=domain.member_rights(membership.role, membership.its_access),
    )


def acting(caller: Caller) -> Acting:
    """The caller, acting for the subscriber its token names (SUB-7)."""
    return Acting(caller.account_id, caller.require_subscriber().id)


def _account_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["account_id"])
    except ValueError:
        raise NotFound("no such user in this subscriber") from None
