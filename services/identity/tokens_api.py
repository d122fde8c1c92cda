"""identity's OAuth 2.0 endpoints (ACC-3: client programs log in with login and password, no browser): the token
endpoint's grants, revocation (RFC 7009) and the JWKS."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import uuid
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import unquote_plus

from aiohttp import web
from pydantic import BaseModel, Field

from services.identity import domain, logins, partners_store, store, subscribers_store, tokens_store
from services.identity.api import KEYS, PASSWORDS, SETTINGS, THROTTLE
from services.identity.domain import TooOften
from services.identity.logins import LoginAttempt
from services.identity.tokens import ACCESS_TOKEN_TTL, access_token_claims
from shared.app import CLOCK, POOL
from shared.forwarded import client_address
from shared.http import Api
from shared.problems import Problem

routes = Api("ITS Portal identity: tokens")


class TokenRequest(BaseModel):
    """RFC 6749 token request (form-encoded); unknown parameters are ignored, as the RFC says."""

    grant_type: str = ""
    username: str = Field("", max_length=200)
    password: str = Field("", max_length=1024)
    refresh_token: str = Field("", max_length=200)
    scope: str = ""
    partner: str = Field("", max_length=64, description="Partner id a partner's staff member logs in for")
    client_id: str = Field("", max_length=100)
    client_secret: str = Field("", max_length=200)
    subscriber: str = Field(
        "",
        max_length=20,
        description="Subscriber code (CL-…) the token acts for (password and refresh_token grants); default: the "
        "account's own at a password login, the refresh token's at a refresh",
    )


class RevocationRequest(BaseModel):
    """RFC 7009 revocation request (form-encoded); unknown parameters are ignored."""

    token: str = Field("", max_length=8192)
    token_type_hint: str = Field("", max_length=50)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    refresh_token: str | None = None  # none for client_credentials (RFC 6749 §4.4.3)
    scope: str


class OAuthErrorOut(BaseModel):
    """RFC 6749 §5.2 error answer (application/json), as OAuth clients expect from the token endpoints."""

    error: str
    error_description: str


class OAuthError(Problem):
    """RFC 6749 §5.2 error answer from the token endpoint (not problem+json: OAuth clients expect this)."""

    content_type = "application/json"

    def __init__(
        self, error: str, description: str, *, status: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(description, headers={"Cache-Control": "no-store", **(headers or {})})
        self.status, self.error = status, error

    def body(self, instance: str | None = None) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.detail}


# ---- tokens (ACC-3: client programs log in with login and password, no browser) -----------


@routes.post(
    "/oauth/token",
    summary="OAuth 2.0 token endpoint (password and refresh_token grants)",
    body=TokenRequest,
    form=True,
    response=TokenOut,
    errors=(400, 401, 429),
    error_model=OAuthErrorOut,
    tags=("tokens",),
)
async def token(request: web.Request, body: TokenRequest) -> web.Response:
    if body.grant_type == "password":
        if not body.username or not body.password:
            raise OAuthError("invalid_request", "username and password are required")
        if body.partner:
            out = await _partner_staff_grant(request, body.username, body.password, body.partner)
        else:
            out = await _password_grant(request, body.username, body.password, body.subscriber or None)
    elif body.grant_type == "refresh_token":
        if not body.refresh_token:
            raise OAuthError("invalid_request", "refresh_token is required")
        out = await _refresh_grant(request, body.refresh_token, body.subscriber or None)
    elif body.grant_type == "client_credentials":
        out = await _client_credentials_grant(request, body)
    elif not body.grant_type:
        raise OAuthError("invalid_request", "grant_type is required")
    else:
        raise OAuthError("unsupported_grant_type", "use grant_type=password, refresh_token or client_credentials")
    return web.Response(
        body=out.model_dump_json(exclude_none=True),
        content_type="application/json",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


async def _client_credentials_grant(request: web.Request, body: TokenRequest) -> TokenOut:
    """A partner system's token (RFC 6749 §4.4): client authenticated by HTTP Basic or form fields."""
    client_id, secret = _client_credentials(request, body)
    try:
        parsed_id = uuid.UUID(client_id)
    except ValueError:
        parsed_id = None
    given = hashlib.sha256(secret.encode()).digest()
    settings = request.app[SETTINGS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        # Under a share lock of the client and its partner, the token stamped after it (shared.revocations).
        found = await partners_store.client_for_token(conn, parsed_id) if parsed_id else None
        # Compared in constant time; an unknown client compares against a dummy so both take the same time.
        expected = found[1] if found else hashlib.sha256(b"no such client").digest()
        if not hmac.compare_digest(given, expected) or found is None:
            raise OAuthError(
                "invalid_client",
                "the client is unknown, revoked, its partner deactivated or its secret is wrong",
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="its-identity"'},
            )
        client = found[0]
        access = request.app[KEYS].sign(
            access_token_claims(
                account_id=client.id,
                scopes=["partner"],
                partner_id=client.partner_id,
                now=request.app[CLOCK].now(),
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
            )
        )
    return TokenOut(access_token=access, expires_in=int(ACCESS_TOKEN_TTL.total_seconds()), scope="partner")


def _client_credentials(request: web.Request, body: TokenRequest) -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
            client_id, _, secret = decoded.partition(":")
            return unquote_plus(client_id), unquote_plus(secret)
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_client", "malformed Basic credentials", status=401) from None
    if not body.client_id or not body.client_secret:
        raise OAuthError(
            "invalid_client",
            "send client_id and client_secret (HTTP Basic or form)",
            status=401,
            headers={"WWW-Authenticate": 'Basic realm="its-identity"'},
        )
    return body.client_id, body.client_secret


async def _password_grant(request: web.Request, username: str, password: str, subscriber: str | None) -> TokenOut:
    """Rule ACC-3, and SUB-7: the token acts for one subscriber, the account's own unless named."""
    # Round trips are few on purpose: the hash should be nearly all of a login's time.
    pool, clock = request.app[POOL], request.app[CLOCK]
    (account, membership), attempt = await asyncio.gather(
        _account_and_membership(request, username, subscriber), _admit_for_token(request, username)
    )
    ok = await request.app[PASSWORDS].verify(account.password_hash if account else None, password)
    tokens, refresh = (None, None)
    async with pool.acquire() as conn, conn.transaction():
        if ok and account is not None and membership is not None:
            # Read again under a share lock, the token stamped after it: a change of the member made meanwhile
            # either shows in it or refuses it (shared.revocations).
            granted = await subscribers_store.membership(conn, account.id, membership.subscriber_id, for_token=True)
            if granted is not None:
                tokens, refresh = _issue_tokens(request, account, granted, family_id=uuid.uuid4())
        await tokens_store.record_login_attempt(conn, attempt.login_key, attempt.address, clock.now(), ok, refresh)
    if not ok or account is None:
        raise OAuthError("invalid_grant", "the login or password is wrong")
    if tokens is None:
        raise OAuthError("invalid_grant", f"this account is not a member of subscriber {subscriber}")
    if request.app[PASSWORDS].needs_rehash(account.password_hash):
        new_hash = await request.app[PASSWORDS].hash(password)
        async with pool.acquire() as conn:
            await store.set_password(conn, account.id, new_hash, clock.now())
    return tokens


async def _partner_staff_grant(request: web.Request, username: str, password: str, partner: str) -> TokenOut:
    """A partner's staff member logs in for the partner (`partner=<id>`): scope `partner`, no subscriber.

    Only an access token: a partner session starts from the password again after 15 minutes.
    """
    try:
        partner_id = uuid.UUID(partner)
    except ValueError:
        raise OAuthError("invalid_request", "partner must be a partner id") from None
    pool, clock, settings = request.app[POOL], request.app[CLOCK], request.app[SETTINGS]
    (account, _), attempt = await asyncio.gather(
        _account_and_membership(request, username, None), _admit_for_token(request, username)
    )
    ok = await request.app[PASSWORDS].verify(account.password_hash if account else None, password)
    access = None
    async with pool.acquire() as conn, conn.transaction():
        await tokens_store.record_login_attempt(conn, attempt.login_key, attempt.address, clock.now(), ok)
        # Under a share lock of the staff membership and the partner, the token stamped after it
        # (shared.revocations).
        staff = await partners_store.staff_for_token(conn, partner_id, account.id) if ok and account else None
        if account is not None and staff is not None and staff.partner_active:
            access = request.app[KEYS].sign(
                access_token_claims(
                    account_id=account.id,
                    login=account.login,
                    scopes=["partner"],
                    partner_id=partner_id,
                    partner_admin=staff.is_admin,
                    now=clock.now(),
                    issuer=settings.jwt_issuer,
                    audience=settings.jwt_audience,
                )
            )
    if not ok or account is None:
        raise OAuthError("invalid_grant", "the login or password is wrong")
    if staff is None:
        raise OAuthError("invalid_grant", "this account is not on the staff of that partner")
    if access is None:
        raise OAuthError("invalid_grant", "that partner is deactivated")
    return TokenOut(access_token=access, expires_in=int(ACCESS_TOKEN_TTL.total_seconds()), scope="partner")


async def _account_and_membership(
    request: web.Request, login: str, subscriber: str | None
) -> tuple[store.Account | None, subscribers_store.Membership | None]:
    async with request.app[POOL].acquire() as conn:
        return await subscribers_store.account_and_membership_by_login(conn, login, subscriber)


async def _admit_for_token(request: web.Request, login: str) -> LoginAttempt:
    """admit_login, its 429 said as the token endpoint says errors (RFC 6749 JSON; problem+json everywhere else)."""
    attempt = LoginAttempt.of(login, client_address(request, request.app[SETTINGS].trusted_proxies))
    try:
        await logins.admit_login(request.app[POOL], request.app[THROTTLE], request.app[CLOCK], attempt)
    except TooOften as exc:
        headers = {"Retry-After": str(exc.retry_after)}
        raise OAuthError("invalid_grant", exc.message, status=429, headers=headers) from None
    return attempt


async def _refresh_grant(request: web.Request, refresh_token: str, subscriber: str | None) -> TokenOut:
    """Rotation; the new tokens carry the member's current role and rights, and none after exclusion (SUB-6).

    With `subscriber`, the new tokens act for that subscriber of the same account (SUB-7): switching between
    one's subscribers needs no password again, as a login already proved who holds the refresh token.
    """
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        use = await tokens_store.use_refresh_token(conn, domain.token_hash(refresh_token), now)
        if use.reused_family is not None:
            # A rotated token came back: someone holds a copy. Revoke the whole family.
            await tokens_store.revoke_family(conn, use.reused_family, now)
        tokens = None
        if use.account_id and use.family_id and use.subscriber_id:
            account = await store.account_by_id(conn, use.account_id)
            # Under a share lock, the token stamped after it (shared.revocations).
            membership = await subscribers_store.membership(
                conn, use.account_id, subscriber or use.subscriber_id, for_token=True
            )
            if subscriber is not None and account is not None and membership is None:
                # The grant is good, the subscriber asked for is not the account's (`invalid_scope`, RFC 6749
                # §5.2). Raised inside the transaction: the refresh token stays unused and the session goes on.
                raise OAuthError("invalid_scope", f"this account is not a member of subscriber {subscriber}")
            if account is not None and membership is not None:
                # The new refresh token commits with the old one's use: a crash in between loses neither.
                tokens, refresh = _issue_tokens(request, account, membership, family_id=use.family_id)
                await tokens_store.insert_refresh_token(conn, refresh)
    if tokens is None:
        raise OAuthError("invalid_grant", "the refresh token is invalid, expired or revoked")
    return tokens


@routes.post(
    "/oauth/revoke",
    summary="OAuth 2.0 token revocation (RFC 7009): a refresh token and every token rotated from it",
    body=RevocationRequest,
    form=True,
    errors=(400,),
    error_model=OAuthErrorOut,
    tags=("tokens",),
)
async def revoke(request: web.Request, body: RevocationRequest) -> web.Response:
    """Logging out: the refresh token's family is revoked. An unknown or already revoked token is answered 200
    as well (RFC 7009 §2.2), so the answer tells nothing about a token. Access tokens are signed, not stored,
    and live 15 minutes: they cannot be revoked (`unsupported_token_type`); exclusions act at once (SUB-6)."""
    if not body.token:
        raise OAuthError("invalid_request", "token is required")
    if body.token.count(".") == 2:  # a JWT: an access token
        raise OAuthError("unsupported_token_type", "access tokens expire on their own; revoke the refresh token")
    async with request.app[POOL].acquire() as conn:
        await tokens_store.revoke_token_family(conn, domain.token_hash(body.token), request.app[CLOCK].now())
    return web.Response(status=200, headers={"Cache-Control": "no-store"})


def _issue_tokens(
    request: web.Request, account: store.Account, membership: subscribers_store.Membership, *, family_id: uuid.UUID
) -> tuple[TokenOut, tokens_store.NewRefreshToken]:
    """An access token and a refresh token for `account` acting for `membership`'s subscriber.

    The caller stores the refresh token's row.
    """
    settings = request.app[SETTINGS]
    now = request.app[CLOCK].now()
    scopes = ["operator"] if account.is_operator else []
    access = request.app[KEYS].sign(
        access_token_claims(
            account_id=account.id,
            login=account.login,
            scopes=scopes,
            subscriber={
                "id": str(membership.subscriber_id),
                "code": membership.code,
                "role": membership.role,
                "rights": domain.member_rights(membership.role, membership.its_access),
            },
            now=now,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    )
    refresh = domain.new_token()
    row = tokens_store.NewRefreshToken(
        token_hash=domain.token_hash(refresh),
        family_id=family_id,
        account_id=account.id,
        subscriber_id=membership.subscriber_id,
        created_at=now,
        expires_at=now + timedelta(days=settings.refresh_token_days),
    )
    out = TokenOut(
        access_token=access,
        expires_in=int(ACCESS_TOKEN_TTL.total_seconds()),
        refresh_token=refresh,
        scope=" ".join(scopes),
    )
    return out, row


@routes.get("/.well-known/jwks.json", summary="Public keys that verify access tokens", tags=("tokens",))
async def jwks(request: web.Request) -> web.Response:
    return web.json_response(request.app[KEYS].jwks(), headers={"Cache-Control": "public, max-age=300"})
