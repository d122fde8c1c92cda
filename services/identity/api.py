"""identity's HTTP API: parse, call, answer. Rules ACC-1..3."""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, EmailStr, Field, StringConstraints

from services.identity import domain, store, tokens_store
from services.identity.domain import PasswordRejected, ThrottlePolicy
from services.identity.passwords import Passwords
from services.identity.settings import IdentitySettings
from services.identity.tokens import SigningKeys
from shared.app import CLOCK, OUTBOX, POOL
from shared.auth import Caller
from shared.db import Connection
from shared.events.identity import (
    AccountRegistered,
    EmailVerificationRequested,
    EmailVerified,
    MemberJoined,
    PasswordResetRequested,
    SubscriberCreated,
)
from shared.forwarded import client_address
from shared.http import Api, Link
from shared.outbox import Outbox
from shared.parsing import StrictModel, read_form_fields
from shared.problems import Conflict, NotFound, TooManyRequests, ValidationFailed, invalid

SETTINGS = web.AppKey("identity_settings", IdentitySettings)
PASSWORDS = web.AppKey("passwords", Passwords)
KEYS = web.AppKey("signing_keys", SigningKeys)
THROTTLE = web.AppKey("throttle", ThrottlePolicy)

routes = Api("ITS Portal identity", description="Accounts, e-mail verification and tokens (rules ACC-1..3).")

Login = Annotated[str, StringConstraints(pattern=domain.LOGIN_PATTERN.pattern)]
# Bounded so nobody makes us hash megabytes; the policy's own limit gives the friendly message.
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Token = Annotated[str, StringConstraints(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
RESENDS_PER_HOUR = 5
RESETS_PER_HOUR = 3


# ---- models -------------------------------------------------------------------------------


class NewAccount(StrictModel):
    login: Login = Field(description="Letters, digits and . _ @ -; 2-64 characters; unique (any case)")
    password: Password
    email: EmailStr
    full_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
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


class VerificationSent(BaseModel):
    sent_to: str
    valid_until: datetime


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
    try:
        domain.check_password(body.password, login=body.login, email=body.email)
    except PasswordRejected as exc:
        raise password_problem("password", exc) from None
    password_hash = await request.app[PASSWORDS].hash(body.password)
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        try:
            account = await store.insert_account(
                conn,
                login=body.login,
                email=body.email,
                full_name=body.full_name,
                language=body.language,
                password_hash=password_hash,
                now=now,
            )
        except store.LoginTaken:
            raise Conflict("this login is taken", field="login") from None
        except store.EmailTaken:
            raise Conflict("an account with this e-mail already exists", field="email") from None
        await open_account(conn, request.app[OUTBOX], account, now)
        await send_verification(request, conn, account, now)
    return AccountOut.of(account)


def account_registered(account: store.Account) -> AccountRegistered:
    return AccountRegistered(
        account_id=account.id,
        login=account.login,
        email=account.email,
        full_name=account.full_name,
        language=account_language(account),
    )


async def open_account(conn: Connection, outbox: Outbox, account: store.Account, now: datetime) -> None:
    """A new account, however it was made (ACC-1): announced, with its own subscriber as owner (SUB-1, SUB-2)."""
    await outbox.add(conn, account_registered(account))
    name = domain.subscriber_name(account.full_name, account.login)
    own = await store.insert_subscriber(conn, owner=account, name=name, now=now, new_code=domain.new_subscriber_code)
    await outbox.add(
        conn,
        SubscriberCreated(subscriber_id=own.subscriber_id, code=own.code, name=own.name, owner_account_id=account.id),
    )
    await outbox.add(
        conn, MemberJoined(subscriber_id=own.subscriber_id, account_id=account.id, role="owner", its_access=True)
    )


async def send_verification(request: web.Request, conn: Connection, account: store.Account, now: datetime) -> datetime:
    token = domain.new_token()
    expires_at = now + domain.EMAIL_VERIFICATION_TTL
    await store.insert_email_verification(conn, account.id, account.email, domain.token_hash(token), now, expires_at)
    await request.app[OUTBOX].add(
        conn,
        EmailVerificationRequested(
            account_id=account.id,
            login=account.login,
            email=account.email,
            full_name=account.full_name,
            language=account_language(account),
            verification_url=email_link(request, "verify-email", "/v1/email-verifications", token),
            expires_at=expires_at,
        ),
    )
    return expires_at


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
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        account = await _caller_account(conn, caller)
        if account.email_verified:
            raise Conflict("the e-mail address is already verified")
        recent = await store.count_email_verifications_since(conn, account.id, now - timedelta(hours=1))
        if recent >= RESENDS_PER_HOUR:
            raise TooManyRequests("too many verification e-mails in the last hour", retry_after=3600)
        expires_at = await send_verification(request, conn, account, now)
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
        result = await _verify_email(request, VerificationIn(token=request.match_info["token"]).token)
    except (NotFound, ValueError):
        if wants_html:
            return _page(
                "Link not valid",
                "This verification link is unknown, already used or expired. Log in and ask for a new one.",
                status=404,
            )
        raise NotFound("the verification link is unknown, already used or expired") from None
    if wants_html:
        return _page("E-mail verified", f"Thank you. The address {result.email} is verified.")
    return web.json_response(result.model_dump(mode="json"))


@routes.post(
    "/v1/email-verifications",
    summary="Verify an e-mail address with the token from the link",
    body=VerificationIn,
    response=VerificationOut,
    errors=(404,),
    tags=("accounts",),
)
async def verify_email(request: web.Request, body: VerificationIn) -> VerificationOut:
    return await _verify_email(request, body.token)


async def _verify_email(request: web.Request, token: str) -> VerificationOut:
    """Rule ACC-2: the address is verified once, by the link sent to it."""
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        account = await store.use_email_verification(conn, domain.token_hash(token), now)
        if account is None:
            raise NotFound("the verification link is unknown, already used or expired")
        await request.app[OUTBOX].add(conn, EmailVerified(account_id=account.id, email=account.email))
    return VerificationOut(email_verified=True, login=account.login, email=account.email)


@routes.get("/v1/me", summary="The calling account", auth=True, response=AccountOut, tags=("accounts",))
async def me(request: web.Request, caller: Caller) -> AccountOut:
    async with request.app[POOL].acquire() as conn:
        return AccountOut.of(await _caller_account(conn, caller))


# ---- passwords ----------------------------------------------------------------------------


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
    async with request.app[POOL].acquire() as conn:
        account = await _caller_account(conn, caller)
    if not await _check_login_password(request, account, body.current_password):
        raise ValidationFailed([invalid("current_password", "the current password is wrong", "wrong_password")])
    try:
        domain.check_password(body.new_password, login=account.login, email=account.email)
    except PasswordRejected as exc:
        raise password_problem("new_password", exc) from None
    password_hash = await request.app[PASSWORDS].hash(body.new_password)
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await store.set_password(conn, account.id, password_hash, now)
        await tokens_store.revoke_account_refresh_tokens(conn, account.id, now)


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
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        account = await store.account_by_email(conn, body.email)
        if account is not None and (
            await store.count_password_resets_since(conn, account.id, now - timedelta(hours=1)) < RESETS_PER_HOUR
        ):
            token = domain.new_token()
            expires_at = now + domain.PASSWORD_RESET_TTL
            await store.insert_password_reset(conn, account.id, domain.token_hash(token), now, expires_at)
            await request.app[OUTBOX].add(
                conn,
                PasswordResetRequested(
                    account_id=account.id,
                    login=account.login,
                    email=account.email,
                    full_name=account.full_name,
                    language=account_language(account),
                    reset_url=email_link(request, "reset-password", "/v1/password-resets", token),
                    expires_at=expires_at,
                ),
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
    await _reset_password(request, body.token, body.new_password)


@routes.get(
    # A token's format: `/v1/password-resets/confirm` is never a token (it is the POST of a new password).
    "/v1/password-resets/{token:token}",
    summary="The page behind the reset link (a form)",
    html=(200,),
    tags=("passwords",),
)
async def password_reset_page(request: web.Request) -> web.StreamResponse:
    token = html.escape(request.match_info["token"])
    return _page(
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
    try:
        token = VerificationIn(token=request.match_info["token"]).token
        if not isinstance(new_password, str) or len(new_password) > 1024:
            raise ValueError("no password given")
        await _reset_password(request, token, new_password)
    except (NotFound, ValueError):
        return _page("Link not valid", "This reset link is unknown, already used or expired.", status=404)
    except ValidationFailed as exc:
        message = exc.extra["errors"][0]["message"]
        return _page("Choose another password", f"The password was not accepted: {message}.", status=422)
    return _page("Password changed", "Your password has been changed. You can log in with it now.")


async def _reset_password(request: web.Request, token: str, new_password: str) -> None:
    now = request.app[CLOCK].now()
    digest = domain.token_hash(token)
    async with request.app[POOL].acquire() as conn:
        account_id = await store.valid_password_reset(conn, digest, now)
        account = await store.account_by_id(conn, account_id) if account_id else None
    if account is None:
        raise NotFound("the reset link is unknown, already used or expired")
    try:
        domain.check_password(new_password, login=account.login, email=account.email)
    except PasswordRejected as exc:
        raise password_problem("new_password", exc) from None
    password_hash = await request.app[PASSWORDS].hash(new_password)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        if await store.use_password_reset(conn, digest, now) is None:  # used meanwhile by a concurrent request
            raise NotFound("the reset link is unknown, already used or expired")
        await store.set_password(conn, account.id, password_hash, now)
        await tokens_store.revoke_account_refresh_tokens(conn, account.id, now)


# ---- login attempts: admitted while not throttled (ASVS 2.2.1), then recorded ---------------------


async def admit_login(request: web.Request, login: str) -> LoginAttempt:
    async with request.app[POOL].acquire() as conn:
        return await _admit_login_attempt(request, conn, login)


@dataclass(frozen=True)
class LoginAttempt:
    login_key: str  # the login as typed, lower-cased: existing or not, so throttling reveals nothing
    address: str


async def _admit_login_attempt(request: web.Request, conn: Connection, login: str) -> LoginAttempt:
    """Refuse (429 problem+json with Retry-After; the token endpoint answers it as OAuth JSON) while the login or
    the client address is throttled."""
    clock, policy = request.app[CLOCK], request.app[THROTTLE]
    attempt = LoginAttempt(login.strip().lower(), client_address(request, request.app[SETTINGS].trusted_proxies))
    counts = await tokens_store.failure_counts(conn, attempt.login_key, attempt.address, clock.now(), policy)
    blocked_until = domain.throttled_until(counts, policy)
    if blocked_until is not None:
        retry_after = max(int((blocked_until - clock.now()).total_seconds()) + 1, 1)
        raise TooManyRequests(f"too many failed attempts; try again in {retry_after} seconds", retry_after=retry_after)
    return attempt


async def _check_login_password(request: web.Request, account: store.Account, password: str) -> bool:
    """Throttled check of an account's password, counted like a login attempt."""
    attempt = await admit_login(request, account.login)
    ok = await request.app[PASSWORDS].verify(account.password_hash, password)
    async with request.app[POOL].acquire() as conn:
        await tokens_store.record_login_attempt(conn, attempt.login_key, attempt.address, request.app[CLOCK].now(), ok)
    return ok


# ---- helpers ------------------------------------------------------------------------------


async def _caller_account(conn: Connection, caller: Caller) -> store.Account:
    account = await store.account_by_id(conn, caller.account_id)
    if account is None:
        raise NotFound("the account of this token no longer exists")
    return account


def password_problem(field: str, exc: PasswordRejected) -> ValidationFailed:
    return ValidationFailed([invalid(field, str(exc), "password_policy")])


def account_language(account: store.Account) -> Literal["en", "ru"]:
    return "ru" if account.language == "ru" else "en"


def email_link(request: web.Request, portal_page: str, own_path: str, token: str) -> str:
    settings = request.app[SETTINGS]
    if settings.portal_url:
        return f"{settings.portal_url.rstrip('/')}/{portal_page}?token={token}"
    return f"{settings.public_url.rstrip('/')}{own_path}/{token}"


def _page(title: str, text: str, *, status: int = 200, raw: bool = False) -> web.Response:
    body = text if raw else html.escape(text)
    return web.Response(
        status=status,
        content_type="text/html",
        text=f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{body}</p></body></html>",
        headers={"Content-Security-Policy": "default-src 'none'; form-action 'self'", "Cache-Control": "no-store"},
    )
