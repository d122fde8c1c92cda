"""The services' HTTP APIs, called with the user's own access token. No rules here, no copies of data.

A service that cannot be reached (or answers 5xx) raises `ServiceDown`, shown as a friendly 503 page;
any other error answer raises `ServiceError` with the problem document, which pages show next to the
field it concerns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
from structlog.contextvars import get_contextvars

from services.portal.sessions import Tokens
from shared.logging import get_logger

log = get_logger(__name__)


class ServiceDown(Exception):
    def __init__(self, service: str) -> None:
        super().__init__(f"{service} is unavailable")
        self.service = service


@dataclass
class ServiceError(Exception):
    """A 4xx answer: a problem+json document (or an OAuth error) from the service."""

    service: str
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: int | None = None  # seconds, from a 429's or 503's Retry-After header

    def __str__(self) -> str:
        return f"{self.service} answered {self.status}: {self.detail}"

    @property
    def slug(self) -> str:
        """The problem type's last segment (`owner-only`), or the OAuth error code (`invalid_grant`)."""
        if "error" in self.body:
            return str(self.body["error"])
        return str(self.body.get("type", "")).rsplit("/", 1)[-1]

    @property
    def detail(self) -> str:
        return str(self.body.get("detail") or self.body.get("error_description") or self.body.get("title") or "")

    @property
    def field_errors(self) -> list[dict[str, str]]:
        """[{field, type, message, input}]: a 422's `errors`, or a 409 naming its `field`."""
        errors = self.body.get("errors")
        if isinstance(errors, list):
            keys = ("field", "type", "message", "input")
            return [{k: str(e.get(k, "")) for k in keys} for e in errors if isinstance(e, dict)]
        if "field" in self.body:
            return [{"field": str(self.body["field"]), "type": self.slug, "message": self.detail}]
        return []


class Unauthenticated(ServiceError):
    """401: the access token expired or is no longer accepted."""


class Service:
    def __init__(self, name: str, base_url: str, http: aiohttp.ClientSession) -> None:
        self.name, self.base_url, self.http = name, base_url.rstrip("/"), http

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Mapping[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
        client_address: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        headers = {**_context_headers(), **(headers or {})}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if client_address is not None:
            headers["X-Forwarded-For"] = client_address
        try:
            async with self.http.request(
                method, self.base_url + path, json=json_body, data=form, headers=headers
            ) as response:
                raw = await response.read()
                status = response.status
                retry_after = _seconds(response.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("service.unreachable", service=self.name, path=path, error=repr(exc))
            raise ServiceDown(self.name) from None
        if status >= 500:
            log.warning("service.failed", service=self.name, path=path, status=status)
            raise ServiceDown(self.name)
        body = _json(raw)
        if status == 401:
            raise Unauthenticated(self.name, status, body if isinstance(body, dict) else {})
        if status >= 400:
            raise ServiceError(self.name, status, body if isinstance(body, dict) else {}, retry_after)
        return body


class Identity:
    """identity's API (accounts, tokens, subscribers), as the portal uses it."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def register(self, account: Mapping[str, Any], client_address: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.service.call(
            "POST", "/v1/accounts", json_body=account, client_address=client_address
        )
        return result

    async def verify_email(self, token: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.service.call("POST", "/v1/email-verifications", json_body={"token": token})
        return result

    async def password_login(
        self, login: str, password: str, client_address: str, subscriber: str | None = None
    ) -> Tokens:
        form = {"grant_type": "password", "username": login, "password": password}
        if subscriber:
            form["subscriber"] = subscriber
        body = await self.service.call("POST", "/oauth/token", form=form, client_address=client_address)
        return Tokens(access=body["access_token"], refresh=body["refresh_token"])

    async def partner_login(self, login: str, password: str, partner_id: str, client_address: str) -> str:
        """A partner cabinet's access token for a staff member (scope `partner`; no refresh token)."""
        form = {"grant_type": "password", "username": login, "password": password, "partner": partner_id}
        body = await self.service.call("POST", "/oauth/token", form=form, client_address=client_address)
        return str(body["access_token"])

    async def my_partners(self, token: str) -> list[dict[str, Any]]:
        """The partners whose staff this account is on, with `admin`."""
        body = await self.service.call("GET", "/v1/me/partners", token=token)
        items: list[dict[str, Any]] = body["items"]
        return items

    async def refresh(self, refresh_token: str, subscriber: str | None = None) -> Tokens | None:
        """New tokens (identity rotates the refresh token), or None when the refresh token is no longer valid.

        With `subscriber` the new tokens act for that subscriber of the account (SUB-7); one the account does
        not belong to raises ServiceError `invalid_scope`, and the refresh token stays valid.
        """
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if subscriber:
            form["subscriber"] = subscriber
        try:
            body = await self.service.call("POST", "/oauth/token", form=form)
        except ServiceError as exc:
            if exc.status == 401 or exc.slug == "invalid_grant":
                return None
            raise
        return Tokens(access=body["access_token"], refresh=body["refresh_token"])

    async def revoke(self, refresh_token: str) -> None:
        """Revoke the refresh token and every token rotated from it (RFC 7009), as a logout does."""
        await self.service.call(
            "POST", "/oauth/revoke", form={"token": refresh_token, "token_type_hint": "refresh_token"}
        )

    async def request_password_reset(self, email: str, client_address: str) -> None:
        await self.service.call(
            "POST", "/v1/password-resets", json_body={"email": email}, client_address=client_address
        )

    async def confirm_password_reset(self, token: str, new_password: str) -> None:
        await self.service.call(
            "POST", "/v1/password-resets/confirm", json_body={"token": token, "new_password": new_password}
        )

    async def me(self, token: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.service.call("GET", "/v1/me", token=token)
        return result

    async def resend_verification(self, token: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.service.call("POST", "/v1/me/email-verification", token=token)
        return result

    async def change_password(self, token: str, current_password: str, new_password: str) -> None:
        body = {"current_password": current_password, "new_password": new_password}
        await self.service.call("POST", "/v1/me/password", token=token, json_body=body)

    async def subscriber(self, token: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.service.call("GET", "/v1/subscriber", token=token)
        return result

    async def my_subscribers(self, token: str) -> list[dict[str, Any]]:
        body = await self.service.call("GET", "/v1/me/subscribers", token=token)
        items: list[dict[str, Any]] = body["items"]
        return items

    async def rename_subscriber(self, token: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.service.call(
            "PATCH", "/v1/subscriber", token=token, json_body={"name": name}
        )
        return result


def _seconds(value: str | None) -> int | None:
    """Retry-After in delta-seconds (what our services send); an HTTP date or anything else: None."""
    return int(value) if value is not None and value.isdigit() and len(value) < 10 else None


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def _context_headers() -> dict[str, str]:
    """The request and correlation ids of the page being served travel on to the services."""
    context = get_contextvars()
    headers = {}
    if correlation_id := context.get("correlation_id"):
        headers["X-Correlation-ID"] = str(correlation_id)
    return headers


class Invitations:
    """identity's invitation links (INV-5): what a link offers, accepting it, registering through it."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def preview(self, token: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.service.call("GET", f"/v1/invitations/{_path_token(token)}")
        return result

    async def accept(self, token: str, access_token: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.service.call(
            "POST", f"/v1/invitations/{_path_token(token)}/accept", token=access_token
        )
        return result

    async def register(self, token: str, account: Mapping[str, Any], client_address: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.service.call(
            "POST", f"/v1/invitations/{_path_token(token)}/register", json_body=account, client_address=client_address
        )
        return result


def _path_token(token: str) -> str:
    """A token as one path segment; identity's own check (letters, digits, - and _) refuses anything else."""
    return quote(token, safe="")
