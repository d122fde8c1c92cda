"""identity's password API: changing one's password, and resetting a forgotten one through a mailed link (with the
pages behind the link for a browser without the portal)."""

from __future__ import annotations

import html

from aiohttp import web
from pydantic import BaseModel, EmailStr

from rules.refusal import Refused
from services.identity import password_changes
from services.identity.api import Password, Token, VerificationIn
from services.identity.keys import PASSWORDS, SETTINGS, THROTTLE
from services.identity.links import EmailLinks
from services.identity.pages import page
from shared.auth import Caller
from shared.forwarded import client_address
from shared.http import Api
from shared.keys import CLOCK, OUTBOX, POOL
from shared.parsing import StrictModel, read_form_fields

routes = Api("ITS Portal identity: passwords")


class PasswordChange(StrictModel):
    current_password: Password
    new_password: Password


class ResetRequest(StrictModel):
    email: EmailStr


class ResetForm(StrictModel):
    """The reset page's form (read by its handler, which answers with pages; it sends this one field)."""

    new_password: Password


class ResetAccepted(BaseModel):
    detail: str = "If an account uses this address, a link to reset its password has been sent to it."


class ResetConfirm(StrictModel):
    token: Token
    new_password: Password


@routes.post(
    "/v1/me/password",
    summary="Change the password (signs out every other session)",
    auth=True,
    body=PasswordChange,
    status=204,
    errors=(403, 429),
    tags=("passwords",),
)
async def change_password(request: web.Request, caller: Caller, body: PasswordChange) -> None:
    app = request.app
    await password_changes.change_password(
        app[POOL],
        app[PASSWORDS],
        app[THROTTLE],
        app[CLOCK],
        account_id=caller.account_id,
        address=client_address(request, app[SETTINGS].trusted_proxies),
        current_password=body.current_password,
        new_password=body.new_password,
    )


@routes.post(
    "/v1/password-resets",
    summary="Ask for a password reset link by e-mail",
    body=ResetRequest,
    response=ResetAccepted,
    status=202,
    tags=("passwords",),
)
async def request_password_reset(request: web.Request, body: ResetRequest) -> ResetAccepted:
    # The same answer whether or not the address belongs to an account: no enumeration.
    app = request.app
    await password_changes.request_password_reset(
        app[POOL], app[OUTBOX], EmailLinks.of(app[SETTINGS]), app[CLOCK].now(), body.email
    )
    return ResetAccepted()


@routes.post(
    "/v1/password-resets/confirm",
    summary="Set a new password with the token from the reset link",
    body=ResetConfirm,
    status=204,
    errors=(404,),
    tags=("passwords",),
)
async def confirm_password_reset(request: web.Request, body: ResetConfirm) -> None:
    app = request.app
    await password_changes.reset_password(app[POOL], app[PASSWORDS], app[CLOCK].now(), body.token, body.new_password)


@routes.get(
    # A token's format: `/v1/password-resets/confirm` is never a token (it is the POST of a new password).
    "/v1/password-resets/{token:token}",
    summary="The page behind the reset link (a form)",
    html=(200,),
    tags=("passwords",),
)
async def password_reset_page(request: web.Request) -> web.StreamResponse:
    token = html.escape(request.match_info["token"])
    return page(
        "Choose a new password",
        f'<form method="post" action="/v1/password-resets/{token}">'
        '<label>New password <input type="password" name="new_password" minlength="8" required></label> '
        '<button type="submit">Set password</button></form>',
        raw=True,
    )


@routes.post(
    "/v1/password-resets/{token:token}",
    summary="The reset page's form submission (`new_password`); the answer is a page",
    raw_body={"application/x-www-form-urlencoded": ResetForm, "multipart/form-data": ResetForm},
    html=(200, 404, 422),
    tags=("passwords",),
    errors=(400, 413, 415),
)
async def password_reset_form(request: web.Request) -> web.StreamResponse:
    form = await read_form_fields(request)
    new_password = form.get("new_password")
    app = request.app
    try:
        token = VerificationIn(token=request.match_info["token"]).token
        if not isinstance(new_password, str) or len(new_password) > 1024:
            raise ValueError("no password given")
        await password_changes.reset_password(app[POOL], app[PASSWORDS], app[CLOCK].now(), token, new_password)
    except ValueError:
        return _link_not_valid()
    except Refused as refused:
        if refused.first.kind != "invalid":
            return _link_not_valid()
        message = refused.first.message
        return page("Choose another password", f"The password was not accepted: {message}.", status=422)
    return page("Password changed", "Your password has been changed. You can log in with it now.")


def _link_not_valid() -> web.Response:
    return page("Link not valid", "This reset link is unknown, already used or expired.", status=404)
