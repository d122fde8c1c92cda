"""How the portal calls a service's HTTP API. No rules here, no copies of data.

A service that cannot be reached (or answers 5xx) raises `ServiceDown`, shown as a friendly 503 page;
any other error answer raises `ServiceError` with the problem document, which pages show next to the
field it concerns.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
from structlog.contextvars import get_contextvars

from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class FieldError:
    """One refused value of a problem document (shared.problems: `errors[]` of a 422, or a 409's `field`)."""

    field: str  # the service's path of it, e.g. `body.organisation.tin`
    type: str  # the stable error type, e.g. `tin_check_digit`
    message: str
    input: str = ""


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
    def field_errors(self) -> list[FieldError]:
        """A 422's `errors`, or a 409 naming its `field`."""
        errors = self.body.get("errors")
        if isinstance(errors, list):
            return [
                FieldError(*(str(e.get(k, "")) for k in ("field", "type", "message", "input")))
                for e in errors
                if isinstance(e, dict)
            ]
        if "field" in self.body:
            return [FieldError(str(self.body["field"]), self.slug, self.detail)]
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
        content: AsyncIterable[bytes] | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> Any:
        """`content`: a body streamed as it is (with its Content-Type and Content-Length in `headers`);
        `timeout`: other than the session's (a large upload)."""
        headers = {**_context_headers(), **(headers or {})}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if client_address is not None:
            headers["X-Forwarded-For"] = client_address
        try:
            options: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
            async with self.http.request(
                method,
                self.base_url + path,
                json=json_body,
                data=content if content is not None else form,
                headers=headers,
                **options,
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


def segment(value: str) -> str:
    """A code, article, version or id as exactly one path segment."""
    return quote(value, safe="")


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
