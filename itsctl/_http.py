"""Reaching the services' HTTP APIs as an operator: service URLs, the operator's token, readable errors.

URLs come from ITS_IDENTITY_URL (default http://127.0.0.1:8101), ITS_REGISTRATION_URL (default
http://127.0.0.1:8102), ITS_CONTRACTS_URL (default http://127.0.0.1:8103) and ITS_UPDATES_URL (default
http://127.0.0.1:8104). The token is ITS_TOKEN if set; otherwise the command logs in at identity with
`--login` (or ITS_OPERATOR_LOGIN) and the password from ITS_OPERATOR_PASSWORD or a hidden prompt.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import aiohttp
import typer

from itsctl._common import fail

DEFAULT_URLS = {
    "identity": "http://127.0.0.1:8101",
    "registration": "http://127.0.0.1:8102",
    "contracts": "http://127.0.0.1:8103",
    "updates": "http://127.0.0.1:8104",
    "support": "http://127.0.0.1:8106",
}
# Issuing 10,000 numbers with PINs hashes 10,000 PINs: allow minutes, not seconds.
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=600, sock_connect=10)

LoginOption = Annotated[
    str | None,
    typer.Option(
        "--login",
        envvar="ITS_OPERATOR_LOGIN",
        help="Operator login to log in with at identity (not needed when ITS_TOKEN is set). "
        "The password is read from ITS_OPERATOR_PASSWORD or asked for.",
        show_default=False,
    ),
]


def service_url(service: str) -> str:
    """The base URL of `service` ("identity", "registration", "contracts", "updates", "support"), from
    ITS_<SERVICE>_URL."""
    return (os.environ.get(f"ITS_{service.upper()}_URL") or DEFAULT_URLS[service]).rstrip("/")


class ServiceError(Exception):
    """A service answered with an error (problem+json, an OAuth error, or anything else)."""

    def __init__(self, service: str, method: str, url: str, status: int, body: Any) -> None:
        self.service, self.method, self.url, self.status, self.body = service, method, url, status, body
        super().__init__(describe_error(status, body))

    def __str__(self) -> str:
        what = describe_error(self.status, self.body)
        return f"{self.service} answered {self.status} to {self.method} {self.url}: {what}"


def describe_error(status: int, body: Any) -> str:
    """One readable line (plus one per invalid field) from an error answer's body."""
    if isinstance(body, dict):
        if "error" in body and "title" not in body:  # RFC 6749 §5.2, from identity's token endpoint
            return f"{body.get('error_description') or body['error']} ({body['error']})"
        title, detail = body.get("title"), body.get("detail")
        text = ": ".join(dict.fromkeys(str(p) for p in (title, detail) if p)) or f"HTTP {status}"
        for error in body.get("errors") or []:
            if isinstance(error, dict):
                where = error.get("field") or error.get("loc") or "(body)"
                text += f"\n  - {where}: {error.get('message') or error.get('msg') or error}"
            else:
                text += f"\n  - {error}"
        if "retry_after" in body:
            text += f" (retry after {body['retry_after']} s)"
        return text
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return f"HTTP {status}"


@dataclass(frozen=True)
class Credentials:
    """How to get an operator's token: a ready token, or a login and password for identity."""

    token: str | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)


def operator_credentials(login: str | None) -> Credentials:
    """ITS_TOKEN if set; else `login` with ITS_OPERATOR_PASSWORD or a hidden prompt. Fails with a hint."""
    if token := os.environ.get("ITS_TOKEN"):
        return Credentials(token=token)
    if not login:
        fail("who is the operator? Set ITS_TOKEN, or give --login (or ITS_OPERATOR_LOGIN)", code=2)
    password = os.environ.get("ITS_OPERATOR_PASSWORD") or typer.prompt(f"Password of {login}", hide_input=True)
    return Credentials(login=login, password=password)


async def log_in(http: aiohttp.ClientSession, identity_url: str, login: str, password: str) -> str:
    """An access token from identity's password grant."""
    url = f"{identity_url}/oauth/token"
    form = {"grant_type": "password", "username": login, "password": password}
    async with http.post(url, data=form) as response:
        body = await _body(response)
        if response.status != 200 or not isinstance(body, dict) or "access_token" not in body:
            raise ServiceError("identity", "POST", url, response.status, body)
        return str(body["access_token"])


class Api:
    """JSON calls to one service with the operator's bearer token; errors raise ServiceError."""

    def __init__(self, http: aiohttp.ClientSession, service: str, base_url: str, token: str) -> None:
        self.http, self.service, self.base_url = http, service, base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, decoded body) of a 2xx answer; `body` is sent as JSON."""
        url = self.base_url + path
        async with self.http.request(method, url, json=body, headers=self.headers) as response:
            answer = await _body(response)
            if response.status >= 400:
                raise ServiceError(self.service, method, url, response.status, answer)
            return response.status, answer


@dataclass
class Operator:
    """An operator's session with the services."""

    http: aiohttp.ClientSession
    token: str

    def api(self, service: str, base_url: str | None = None) -> Api:
        return Api(self.http, service, base_url or service_url(service), self.token)


@contextlib.asynccontextmanager
async def operator_session(credentials: Credentials, *, identity_url: str | None = None) -> AsyncIterator[Operator]:
    """An HTTP session and the operator's token (logging in at identity unless a token was given)."""
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as http:
        token = credentials.token
        if token is None:
            assert credentials.login is not None and credentials.password is not None
            token = await log_in(http, identity_url or service_url("identity"), credentials.login, credentials.password)
        yield Operator(http, token)


# What a call to a service raises when it cannot get an answer, or gets an error answer.
CALL_ERRORS = (ServiceError, aiohttp.ClientError, OSError, TimeoutError)


def error_message(exc: BaseException) -> str:
    """A readable line for one of CALL_ERRORS."""
    if isinstance(exc, ServiceError):
        return str(exc)
    return connection_problem(exc)


def connection_problem(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "a service did not answer in time"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return (
            f"cannot reach {exc.host}:{exc.port} ({exc.os_error.strerror or exc.os_error}); is the service running? "
            "(ITS_IDENTITY_URL / ITS_REGISTRATION_URL / ITS_CONTRACTS_URL / ITS_UPDATES_URL say where the services are)"
        )
    return f"{type(exc).__name__}: {exc}"


async def _body(response: aiohttp.ClientResponse) -> Any:
    text = await response.text(errors="replace")
    if "json" in (response.content_type or ""):
        with contextlib.suppress(ValueError):
            return json.loads(text)
    return text
