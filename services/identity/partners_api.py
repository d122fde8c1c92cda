"""identity's partner API: partners (franchisees) and their staff.

Operators create partners; a partner sees only its own (its systems' API clients: partner_clients_api).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from aiohttp import web
from pydantic import BaseModel, EmailStr, Field, StringConstraints

from services.identity import domain, invitations, partners
from services.identity.invitations_store import Invitation
from services.identity.keys import SETTINGS
from services.identity.links import EmailLinks
from services.identity.lists import ListQuery, Search, Sort
from services.identity.partners import PartnerCaller
from services.identity.partners_store import Partner, PartnerUser
from shared.auth import Caller
from shared.http import Api, Link
from shared.keys import CLOCK, OUTBOX, POOL
from shared.parsing import StrictModel
from shared.problems import NotFound

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


class PartnerOut(Partner):
    pass  # deactivated_at is set while deactivated: its clients and staff get no tokens


class PartnerList(BaseModel):
    items: list[PartnerOut]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null on the last")


class PartnerQuery(ListQuery):
    LIST: ClassVar[str] = "partners"

    q: Search | None = Field(default=None, description="Part of the name, TIN, city or contact e-mail, in any case")
    state: Literal["active", "deactivated"] | None = Field(default=None, description="Only partners in this state")
    sort: Sort = Field(default="name", description="`name` (A to Z) or `newest` (created last first)")


class StaffQuery(ListQuery):
    LIST: ClassVar[str] = "staff"

    q: Search | None = Field(default=None, description="Part of a name, login or e-mail address, in any case")
    sort: Sort = Field(default="name", description="`name` (A to Z) or `newest` (joined last first)")


class MyPartner(PartnerOut):
    admin: bool


class MyPartnerList(BaseModel):
    items: list[MyPartner]


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
    partner = await partners.create_partner(
        request.app[POOL],
        request.app[OUTBOX],
        request.app[CLOCK].now(),
        name=body.name,
        tin=body.tin,
        city=body.city,
        contact_email=body.contact_email,
    )
    return partner_out(partner)


@routes.get(
    "/v1/partners",
    summary="The partners, a page at a time, searched and filtered (operators)",
    scope=OPERATOR,
    query=PartnerQuery,
    response=PartnerList,
    tags=("partners",),
    links={"NextPage": Link("list_partners", {"cursor": "$response.body#/next_cursor"})},
)
async def list_partners(request: web.Request, caller: Caller, query: PartnerQuery) -> PartnerList:
    deactivated = None if query.state is None else query.state == "deactivated"
    page = await partners.partners_page(request.app[POOL], query.window(), deactivated=deactivated)
    last = page.items[-1].id if page.items else None
    return PartnerList(items=[partner_out(p) for p in page.items], next_cursor=query.next_cursor(page, last))


@routes.get(
    "/v1/me/partners",
    summary="The partners whose staff the calling account is on; log in for one with `partner=<id>`",
    auth=True,
    response=MyPartnerList,
    tags=("partners",),
)
async def my_partners(request: web.Request, caller: Caller) -> MyPartnerList:
    found = await partners.partners_of_account(request.app[POOL], caller.account_id)
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
    partner_id = path_uuid(request, "partner_id")
    return partner_out(await partners.partner(request.app[POOL], partner_caller(caller), partner_id))


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
    partner_id = path_uuid(request, "partner_id")
    app = request.app
    return partner_out(await partners.set_partner_active(app[POOL], app[OUTBOX], app[CLOCK], partner_id, active=active))


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
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null on the last")


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
    partner_id = path_uuid(request, "partner_id")
    now = request.app[CLOCK].now()
    invitation = await invitations.issue_invitation(
        request.app[POOL],
        request.app[OUTBOX],
        EmailLinks.of(request.app[SETTINGS]),
        now,
        invitations.ForPartner(partner_caller(caller), partner_id),
        email=body.email,
        full_name=body.full_name,
        partner_admin=body.admin,
    )
    return _partner_invitation_out(invitation, now)


def _partner_invitation_out(invitation: Invitation, now: datetime) -> PartnerInvitationOut:
    return PartnerInvitationOut(
        id=invitation.id,
        email=invitation.email,
        full_name=invitation.full_name,
        admin=invitation.partner_admin,
        state=domain.invitation_state(invitation.times, now),
        created_at=invitation.created_at,
        valid_until=invitation.valid_until,
        text=invitation.text,
    )


@routes.get(
    "/v1/partners/{partner_id:uuid}/users",
    summary="The partner's staff, a page at a time (operators and the partner's users)",
    auth=True,
    query=StaffQuery,
    response=PartnerUserList,
    errors=(404,),
    tags=("partners",),
    callers=("operator", "partner"),
    links={
        "NextPage": Link(
            "list_staff", {"partner_id": "$request.path.partner_id", "cursor": "$response.body#/next_cursor"}
        )
    },
)
async def list_staff(request: web.Request, caller: Caller, query: StaffQuery) -> PartnerUserList:
    partner_id = path_uuid(request, "partner_id")
    page = await partners.staff(request.app[POOL], partner_caller(caller), partner_id, query.window())
    last = page.items[-1].account_id if page.items else None
    return PartnerUserList(items=[_staff_out(u) for u in page.items], next_cursor=query.next_cursor(page, last))


@routes.get(
    "/v1/partners/{partner_id:uuid}/users/{account_id:uuid}",
    summary="A person on the partner's staff (operators and the partner's users)",
    auth=True,
    response=PartnerUserOut,
    errors=(404,),
    tags=("partners",),
    callers=("operator", "partner"),
)
async def get_staff_member(request: web.Request, caller: Caller) -> PartnerUserOut:
    partner_id, account_id = path_uuid(request, "partner_id"), path_uuid(request, "account_id")
    return _staff_out(await partners.staff_member(request.app[POOL], partner_caller(caller), partner_id, account_id))


def _staff_out(u: PartnerUser) -> PartnerUserOut:
    return PartnerUserOut(
        account_id=u.account_id,
        login=u.login,
        full_name=u.full_name,
        email=u.email,
        admin=u.is_admin,
        joined_at=u.joined_at,
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
    partner_id, account_id = path_uuid(request, "partner_id"), path_uuid(request, "account_id")
    app = request.app
    await partners.remove_staff(app[POOL], app[OUTBOX], app[CLOCK], partner_caller(caller), partner_id, account_id)


# ---- parsing ------------------------------------------------------------------------------


def partner_out(partner: Partner) -> PartnerOut:
    return PartnerOut(**partner.__dict__)


def partner_caller(caller: Caller) -> PartnerCaller:
    return PartnerCaller(caller.account_id, operator=OPERATOR in caller.scopes, partner_id=caller.partner_id)


def path_uuid(request: web.Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise NotFound(f"no such {name.split('_')[0]}") from None
