"""identity's subscriber API: the subscriber, its users and their rights.

Rules SUB-1..7. The subscriber is always the one the access token acts for (SUB-7):
no endpoint takes a subscriber from the URL or the body.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from aiohttp import web
from pydantic import BaseModel, Field, StringConstraints

from services.identity import domain, members, subscribers
from services.identity.lists import ListQuery, Search, Sort
from services.identity.subscribers import Acting
from services.identity.subscribers_store import Member, MemberFilter, Membership, Subscriber
from shared.auth import Caller
from shared.http import Api, Link
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
    excluded_at: datetime | None = Field(default=None, description="Set for an excluded user (SUB-6)")


class UserList(BaseModel):
    items: list[UserOut]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null on the last")


class UserQuery(ListQuery):
    LIST: ClassVar[str] = "users"

    q: Search | None = Field(default=None, description="Part of a name, login or e-mail address, in any case")
    state: Literal["active", "excluded"] = "active"
    right: Literal["its_access", "none"] | None = Field(
        default=None, description="Only users holding this right (`none`: holding no right)"
    )
    sort: Sort = Field(default="name", description="`name` (A to Z) or `newest` (joined last first)")


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
    summary="The subscriber's users, a page at a time, searched and filtered (owner)",
    auth=True,
    query=UserQuery,
    response=UserList,
    errors=(403,),
    tags=("users",),
    links={"NextPage": Link("list_users", {"cursor": "$response.body#/next_cursor"})},
)
async def list_users(request: web.Request, caller: Caller, query: UserQuery) -> UserList:
    only = MemberFilter(excluded=query.state == "excluded", right=query.right)
    page = await subscribers.users(request.app[POOL], acting(caller), query.window(), only)
    last = page.items[-1].account_id if page.items else None
    return UserList(items=[_user_out(m) for m in page.items], next_cursor=query.next_cursor(page, last))


@routes.get(
    "/v1/subscriber/users/{account_id:uuid}",
    summary="One of the subscriber's current users (owner)",
    auth=True,
    response=UserOut,
    errors=(403, 404),
    tags=("users",),
)
async def get_user(request: web.Request, caller: Caller) -> UserOut:
    return _user_out(await subscribers.user(request.app[POOL], acting(caller), _account_id(request)))


def _user_out(m: Member) -> UserOut:
    return UserOut(
        account_id=m.account_id,
        login=m.login,
        full_name=m.full_name,
        email=m.email,
        role=m.role,
        is_owner=m.role == "owner",
        rights=domain.member_rights(m.role, m.its_access),
        joined_at=m.joined_at,
        excluded_at=m.excluded_at,
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
