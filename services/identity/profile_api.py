"""identity's HTTP API of the holder's own profile (ACC-4): the full name, and the e-mail address changed through a
link mailed to the new address."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, EmailStr, Field

from services.identity import profile
from services.identity.api import AccountOut, FullName, Password, Token
from services.identity.keys import ACCOUNTS_KEPT, PASSWORDS, SETTINGS, THROTTLE
from services.identity.links import EmailLinks
from shared.auth import Caller
from shared.forwarded import client_address
from shared.http import Api
from shared.keys import CLOCK, OUTBOX, POOL
from shared.parsing import StrictModel

routes = Api("ITS Portal identity: profile")


class NameChange(StrictModel):
    full_name: FullName | None = Field(description="As at sign-up: 1-200 characters; null for none")


class EmailChangeIn(StrictModel):
    new_email: EmailStr
    password: Password = Field(description="The account's current password")


class EmailChangeSent(BaseModel):
    sent_to: str
    valid_until: datetime


class EmailChangeConfirm(StrictModel):
    token: Token


class EmailChangeDone(BaseModel):
    login: str
    email: str


@routes.patch(
    "/v1/me",
    summary="Change the account's full name",
    auth=True,
    body=NameChange,
    response=AccountOut,
    errors=(403,),
    tags=("accounts",),
)
async def change_my_name(request: web.Request, caller: Caller, body: NameChange) -> AccountOut:
    renamed = await profile.rename(request.app[POOL], request.app[OUTBOX], caller.account_id, body.full_name)
    request.app[ACCOUNTS_KEPT].forget(renamed.id)  # this process at once; the others on the trigger's notification
    return AccountOut.of(renamed)


@routes.post(
    "/v1/me/email-change",
    summary="Ask to change the e-mail address: a link is sent to the new address, which replaces the old one "
    "when it is followed",
    auth=True,
    body=EmailChangeIn,
    response=EmailChangeSent,
    status=202,
    errors=(403, 409, 429),
    tags=("accounts",),
)
async def request_email_change(request: web.Request, caller: Caller, body: EmailChangeIn) -> EmailChangeSent:
    app = request.app
    valid_until = await profile.request_email_change(
        app[POOL],
        app[OUTBOX],
        app[PASSWORDS],
        app[THROTTLE],
        EmailLinks.of(app[SETTINGS]),
        app[CLOCK],
        account_id=caller.account_id,
        address=client_address(request, app[SETTINGS].trusted_proxies),
        new_email=body.new_email,
        password=body.password,
    )
    return EmailChangeSent(sent_to=body.new_email, valid_until=valid_until)


@routes.post(
    "/v1/email-changes",
    summary="Confirm an e-mail address change with the token from the link sent to the new address",
    body=EmailChangeConfirm,
    response=EmailChangeDone,
    errors=(404, 409),
    tags=("accounts",),
)
async def confirm_email_change(request: web.Request, body: EmailChangeConfirm) -> EmailChangeDone:
    changed = await profile.confirm_email_change(
        request.app[POOL], request.app[OUTBOX], request.app[CLOCK].now(), body.token
    )
    request.app[ACCOUNTS_KEPT].forget(changed.id)
    return EmailChangeDone(login=changed.login, email=changed.email)
