"""The logged-in connection to a system (ACC-3): the password grant, the refresh token kept in the token store and
rotated on every use, the access token in memory only, and calls that carry it.

A call is made with the access token this process got last; without one (a new run of the program), or when it has
expired, the stored refresh token gets a new one (and is replaced by the new refresh token identity issues with it).
A call answered 401 — the access token expired on the way, or was refused — is refreshed and made again, once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from its_client.errors import ConnectionFailed, ItsError, NotAuthenticated, connection_problem, decode_body
from its_client.errors import error_from_answer as _error
from its_client.routes import Routes
from its_client.tokens import StoredLogin, TokenStore

EXPIRY_MARGIN_SECONDS = 30  # an access token this close to its end is renewed before the call, not after a 401
Body = Callable[[], Any]  # a request body made anew for each attempt (a file is opened again for the retry)


class Answer:
    """A service's 2xx answer: the status, the decoded body (JSON or text) and the headers."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str]) -> None:
        self.status, self.body, self.headers = status, body, headers

    def json(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise ItsError("the service answered something other than a JSON object", status=self.status)
        return self.body


class Session:
    """The HTTP session, the system's routes and the login kept for it."""

    def __init__(self, http: aiohttp.ClientSession, routes: Routes, store: TokenStore) -> None:
        self.http, self.routes, self.store = http, routes, store
        self._access_token: str | None = None
        self._access_until = 0.0  # time.monotonic() after which the access token is renewed first
        self._refreshing = asyncio.Lock()  # one refresh at a time in this process (the file lock: across processes)

    # ---- the login ------------------------------------------------------------------------------

    @property
    def stored(self) -> StoredLogin | None:
        return self.store.load(self.routes.system)

    async def log_in(self, username: str, password: str, subscriber: str | None = None) -> None:
        """The password grant (ACC-3); the refresh token replaces any stored for this system."""
        form = {"grant_type": "password", "username": username, "password": password}
        if subscriber:
            form["subscriber"] = subscriber  # SUB-7: the token acts for this subscriber of the account
        lock = self.store.lock(self.routes.system)
        await asyncio.to_thread(lock.acquire)
        try:
            tokens = await self._token_grant(form)
            self._keep(tokens, username)
        finally:
            lock.release()

    async def refresh(self) -> None:
        """A new access token for the stored refresh token, which identity rotates: the new one is stored in its
        place. A refused refresh token (expired, revoked, logged out elsewhere) is forgotten: NotAuthenticated."""
        async with self._refreshing:
            lock = self.store.lock(self.routes.system)
            await asyncio.to_thread(lock.acquire)
            try:
                stored = self.stored  # read under the lock: another program may have just rotated it
                if stored is None:
                    raise NotAuthenticated(f"not logged in to {self.routes.system}: log in first")
                form = {"grant_type": "refresh_token", "refresh_token": stored.refresh_token}
                try:
                    tokens = await self._token_grant(form)
                except NotAuthenticated as refused:
                    self.store.remove(self.routes.system)
                    self._access_token = None
                    raise NotAuthenticated(
                        f"the login to {self.routes.system} has ended (expired, revoked or logged out): log in again",
                        type=refused.type,
                        title=refused.title,
                        status=refused.status,
                        body=refused.body,
                    ) from None
                self._keep(tokens, stored.login)
            finally:
                lock.release()

    async def log_out(self) -> bool:
        """Revoke the stored refresh token (RFC 7009: it and every token rotated from it stop working), then forget
        it; False when there was no login. If the revocation fails the token is kept, so that it can be tried again."""
        stored = self.stored
        self._access_token = None
        if stored is None:
            return False
        form = {"token": stored.refresh_token, "token_type_hint": "refresh_token"}
        await self._send("POST", self.routes.revoke, headers={}, data=lambda: form)
        self.store.remove(self.routes.system)
        return True

    # ---- calls ----------------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        data: Body | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """An authenticated call: refreshed first when there is no valid access token, and once more after a 401."""
        if self._access_token is None or time.monotonic() >= self._access_until:
            await self.refresh()
        for attempt in (1, 2):
            assert self._access_token is not None
            sent = {**(headers or {}), "Authorization": f"Bearer {self._access_token}"}
            try:
                return await self._send(method, url, headers=sent, json=json, params=params, data=data)
            except NotAuthenticated:
                if attempt == 2:
                    raise
                await self.refresh()  # the access token expired on the way (or was refused): once more, renewed
        raise AssertionError("unreachable")

    async def _token_grant(self, form: dict[str, str]) -> dict[str, Any]:
        answer = (await self._send("POST", self.routes.token, headers={}, data=lambda: form)).json()
        if not isinstance(answer.get("access_token"), str) or not isinstance(answer.get("refresh_token"), str):
            raise ItsError("the token endpoint answered without an access and a refresh token", status=200)
        return answer

    def _keep(self, tokens: dict[str, Any], login: str) -> None:
        """The new refresh token replaces the stored one (written first: a crash after it loses nothing)."""
        self.store.save(StoredLogin(self.routes.system, str(tokens["refresh_token"]), login))
        self._access_token = str(tokens["access_token"])
        lifetime = int(tokens.get("expires_in") or 0)
        self._access_until = time.monotonic() + max(0, lifetime - EXPIRY_MARGIN_SECONDS)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        json: Any = None,
        params: Mapping[str, str] | None = None,
        data: Body | None = None,
    ) -> Answer:
        """One request; a 2xx answer, else the ItsError of the answer (ConnectionFailed when none came)."""
        try:
            async with self.http.request(
                method,
                url,
                headers={"Accept": "application/json", **headers},
                json=json,
                params=params,
                data=data() if data is not None else None,
            ) as response:
                text = await response.text(errors="replace")
                body = decode_body(text, response.content_type) if text else None
                if response.status >= 400:
                    raise _error(response.status, body if body is not None else "", response.headers)
                return Answer(response.status, body, response.headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ConnectionFailed(f"no answer from {_origin(url)}: {connection_problem(exc)}") from exc


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
