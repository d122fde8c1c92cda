"""identity's OAuth 2.0 endpoints (ACC-3: client programs log in with login and password, no browser): the token
endpoint's grants, revocation (RFC 7009) and the JWKS."""

from __future__ import annotations

import base64
import uuid
from typing import Any, Literal
from urllib.parse import unquote_plus

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, Field

from rules.refusal import Refused
from services.identity import grants
from services.identity.grants import GrantRefused, Issued, Issuer
from services.identity.keys import GRANTS, KEYS, KNOWN_LOGINS, PASSWORDS, SETTINGS, THROTTLE
from shared.forwarded import client_address
from shared.http import Api
from shared.keys import CLOCK, POOL
from shared.problems import Problem

routes = Api("ITS Portal identity: tokens")

GRANT_TYPES = ("password", "refresh_token", "client_credentials")  # any other is counted as "other"


def grant_figures(registry: CollectorRegistry) -> Counter:
    """Grants answered by the token endpoint: issued, refused (a wrong password, a revoked token...) or throttled
    (too many failed logins: a guessing attack, or a program retrying a stale password)."""
    return Counter(
        "identity_token_grants",
        "Token endpoint grants by type and outcome",
        ["grant_type", "outcome"],
        registry=registry,
    )


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
    grant_type = body.grant_type if body.grant_type in GRANT_TYPES else "other"
    counted = request.app[GRANTS]
    try:
        issued = await _grant(request, body)
    except GrantRefused as refused:
        counted.labels(grant_type, "refused").inc()
        raise _oauth_error(refused) from None
    except OAuthError:  # a malformed request
        counted.labels(grant_type, "refused").inc()
        raise
    except Refused as refused:  # the throttled login, said as the token endpoint says errors (problem+json elsewhere)
        too_often = refused.first
        if too_often.kind != "too-often":
            raise
        counted.labels(grant_type, "throttled").inc()
        retry_after = str(too_often.details["retry_after"])
        raise OAuthError("invalid_grant", too_often.message, status=429, headers={"Retry-After": retry_after}) from None
    counted.labels(grant_type, "issued").inc()
    out = TokenOut(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
        scope=issued.scope,
    )
    return web.Response(
        body=out.model_dump_json(exclude_none=True),
        content_type="application/json",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


async def _grant(request: web.Request, body: TokenRequest) -> Issued:
    app = request.app
    pool, issuer = app[POOL], Issuer(app[KEYS], app[SETTINGS], app[CLOCK])
    if body.grant_type == "password":
        if not body.username or not body.password:
            raise OAuthError("invalid_request", "username and password are required")
        login = grants.PasswordLogin(
            body.username, body.password, client_address(request, app[SETTINGS].trusted_proxies)
        )
        if body.partner:
            partner_id = _partner_id(body.partner)
            return await grants.partner_staff_grant(pool, app[PASSWORDS], app[THROTTLE], issuer, login, partner_id)
        subscriber = body.subscriber or None
        return await grants.password_grant(
            pool, app[PASSWORDS], app[KNOWN_LOGINS], app[THROTTLE], issuer, login, subscriber
        )
    if body.grant_type == "refresh_token":
        if not body.refresh_token:
            raise OAuthError("invalid_request", "refresh_token is required")
        return await grants.refresh_grant(pool, issuer, body.refresh_token, body.subscriber or None)
    if body.grant_type == "client_credentials":
        return await grants.client_credentials_grant(pool, issuer, *_client_credentials(request, body))
    if not body.grant_type:
        raise OAuthError("invalid_request", "grant_type is required")
    raise OAuthError("unsupported_grant_type", "use grant_type=password, refresh_token or client_credentials")


def _oauth_error(refused: GrantRefused) -> OAuthError:
    if refused.error == "invalid_client":
        return OAuthError(refused.error, refused.description, status=401, headers=BASIC_CHALLENGE)
    return OAuthError(refused.error, refused.description)


BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="its-identity"'}


def _partner_id(partner: str) -> uuid.UUID:
    try:
        return uuid.UUID(partner)
    except ValueError:
        raise OAuthError("invalid_request", "partner must be a partner id") from None


def _client_credentials(request: web.Request, body: TokenRequest) -> tuple[str, str]:
    """A partner system's client, authenticated by HTTP Basic or form fields."""
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
            headers=BASIC_CHALLENGE,
        )
    return body.client_id, body.client_secret


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
    await grants.revoke_refresh_token(request.app[POOL], request.app[CLOCK], body.token)
    return web.Response(status=200, headers={"Cache-Control": "no-store"})


@routes.get("/.well-known/jwks.json", summary="Public keys that verify access tokens", tags=("tokens",))
async def jwks(request: web.Request) -> web.Response:
    return web.json_response(request.app[KEYS].jwks(), headers={"Cache-Control": "public, max-age=300"})
