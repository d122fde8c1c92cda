"""identity's HTTP API of accounts: registering (ACC-1), verifying the e-mail address (ACC-2), the account itself."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, EmailStr, Field, StringConstraints

from rules.refusal import Refused
from services.identity import accounts, domain, store
from services.identity.keys import ACCOUNTS_KEPT, PASSWORDS, SETTINGS
from services.identity.links import EmailLinks
from services.identity.pages import page
from shared.auth import Caller
from shared.http import Api, Link
from shared.keys import CLOCK, OUTBOX, POOL
from shared.parsing import StrictModel

routes = Api("ITS Portal identity", description="Accounts, e-mail verification and tokens (rules ACC-1..3).")

Login = Annotated[str, StringConstraints(pattern=domain.LOGIN_PATTERN.pattern)]
# Bounded so nobody makes us hash megabytes; the policy's own limit gives the friendly message.
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Token = Annotated[str, StringConstraints(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


# ---- models -------------------------------------------------------------------------------


class NewAccount(StrictModel):
    login: Login = Field(description="Letters, digits and . _ @ -; 2-64 characters; unique (any case)")
    password: Password
    email: EmailStr
    full_name: FullName | None = None
    language: Literal["en", "ru"] = "en"


class AccountOut(BaseModel):
    id: uuid.UUID
    login: str
    email: str
    email_verified: bool
    full_name: str | None
    language: str

    @classmethod
    def of(cls, account: store.Account) -> AccountOut:
        return cls(
            id=account.id,
            login=account.login,
            email=account.email,
            email_verified=account.email_verified,
            full_name=account.full_name,
            language=account.language,
        )


class VerificationIn(StrictModel):
    token: Token


class VerificationOut(BaseModel):
    email_verified: bool
    login: str
    email: str

    @classmethod
    def of(cls, account: store.Account) -> VerificationOut:
        return cls(email_verified=True, login=account.login, email=account.email)


class VerificationSent(BaseModel):
    sent_to: str
    valid_until: datetime


# ---- accounts (ACC-1) and e-mail verification (ACC-2) -------------------------------------


@routes.post(
    "/v1/accounts",
    summary="Register an account",
    body=NewAccount,
    response=AccountOut,
    status=201,
    errors=(409,),
    tags=("accounts",),
)
async def register_account(request: web.Request, body: NewAccount) -> AccountOut:
    app = request.app
    account = await accounts.register_account(
        app[POOL],
        app[OUTBOX],
        app[PASSWORDS],
        EmailLinks.of(app[SETTINGS]),
        app[CLOCK],
        accounts.AccountDetails(body.login, body.email, body.full_name, body.language),
        body.password,
    )
    return AccountOut.of(account)


@routes.post(
    "/v1/me/email-verification",
    summary="Send the verification e-mail again",
    auth=True,
    response=VerificationSent,
    status=202,
    errors=(409, 429),
    tags=("accounts",),
)
async def resend_verification(request: web.Request, caller: Caller) -> VerificationSent:
    app = request.app
    account, expires_at = await accounts.resend_verification(
        app[POOL], app[OUTBOX], EmailLinks.of(app[SETTINGS]), app[CLOCK].now(), caller.account_id
    )
    return VerificationSent(sent_to=account.email, valid_until=expires_at)


@routes.get(
    "/v1/email-verifications/{token:token}",
    summary="Follow the link from the verification e-mail (a page for a browser asking for text/html)",
    response=VerificationOut,
    errors=(404,),
    html=(200, 404),
    links={"Me": Link("me", {})},
    tags=("accounts",),
)
async def follow_verificationemail_link(request: web.Request) -> web.StreamResponse:
    wants_html = "text/html" in request.headers.get("Accept", "")
    try:
        token = VerificationIn(token=request.match_info["token"]).token
        account = await accounts.verify_email(request.app[POOL], request.app[OUTBOX], request.app[CLOCK].now(), token)
    except (Refused, ValueError):
        if wants_html:
            return page(
                "Link not valid",
                "This verification link is unknown, already used or expired. Log in and ask for a new one.",
                status=404,
            )
        raise Refused(accounts.VERIFICATION_LINK_INVALID) from None
    request.app[ACCOUNTS_KEPT].forget(account.id)
    if wants_html:
        return page("E-mail verified", f"Thank you. The address {account.email} is verified.")
    return web.json_response(VerificationOut.of(account).model_dump(mode="json"))


@routes.post(
    "/v1/email-verifications",
    summary="Verify an e-mail address with the token from the link",
    body=VerificationIn,
    response=VerificationOut,
    errors=(404,),
    tags=("accounts",),
)
async def verify_email(request: web.Request, body: VerificationIn) -> VerificationOut:
    account = await accounts.verify_email(request.app[POOL], request.app[OUTBOX], request.app[CLOCK].now(), body.token)
    request.app[ACCOUNTS_KEPT].forget(account.id)  # this process at once; the others on the trigger's notification
    return VerificationOut.of(account)


@routes.get("/v1/me", summary="The calling account", auth=True, response=AccountOut, tags=("accounts",))
async def me(request: web.Request, caller: Caller) -> AccountOut:
    return AccountOut.of(await request.app[ACCOUNTS_KEPT].account(request.app[POOL], caller.account_id))
