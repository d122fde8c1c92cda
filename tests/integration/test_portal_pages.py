"""The portal's pages against a real identity and PostgreSQL: sessions, CSRF, languages, errors."""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from services.portal.app import MIGRATIONS, SCHEMA, PortalSettings, create_app
from services.portal.sessions import PLAIN_COOKIE, Tokens, _id_hash, _seal, _unb64, _unseal
from shared.keys import POOL
from shared.migrate import migrate
from tests.infra import RunningApp, ServiceProcess, TestStack, free_port
from tests.integration.identity_fixtures import address, identity, link_token, new_account, outbox_events
from tests.integration.test_identity_subscribers import invite, person

__all__ = ["identity"]

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@pytest.fixture(scope="module")
async def portal_schema(migrated: TestStack) -> TestStack:
    await asyncio.to_thread(migrate, MIGRATIONS, migrated.database_url, SCHEMA)
    return migrated


@pytest.fixture(scope="module")
async def portal(portal_schema: TestStack, identity: RunningApp) -> AsyncIterator[RunningApp]:
    settings = PortalSettings(identity_url=identity.url, trusted_proxies=["127.0.0.1"])
    async with RunningApp(create_app(settings)) as running:
        yield running


class Page:
    def __init__(self, status: int, text: str, headers: Any) -> None:
        self.status, self.text, self.headers = status, text, headers

    @property
    def location(self) -> str:
        return str(self.headers.get("Location", ""))

    def error_of(self, field: str) -> str | None:
        """The message shown next to a form field (`<p class="error" id="e-<field>">`)."""
        found = re.search(rf'<p class="error" id="e-{field}">([^<]*)</p>', self.text)
        return html.unescape(found.group(1)) if found else None

    @property
    def form_error(self) -> str | None:
        found = re.search(r'<p class="error form-error" role="alert">([^<]*)</p>', self.text)
        return html.unescape(found.group(1)) if found else None

    @property
    def lang(self) -> str:
        found = re.search(r'<html lang="([a-z]+)">', self.text)
        return found.group(1) if found else ""


class Browser:
    """A browser without JavaScript: keeps cookies, sends forms with the CSRF token of the last page."""

    def __init__(self, url: str) -> None:
        self.url, self.addr = url, address()
        self.http = aiohttp.ClientSession(
            base_url=url, cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"X-Forwarded-For": self.addr}
        )
        self.csrf = ""

    async def close(self) -> None:
        await self.http.close()

    async def get(self, path: str) -> Page:
        async with self.http.get(path, allow_redirects=False) as response:
            page = Page(response.status, await response.text(), response.headers)
        if found := re.search(r'name="csrf_token" value="([^"]*)"', page.text):
            self.csrf = found.group(1)
        return page

    async def post(self, path: str, form: dict[str, str], *, csrf: str | None = None) -> Page:
        data = {"csrf_token": self.csrf if csrf is None else csrf, **form}
        if csrf == "":
            data.pop("csrf_token")
        async with self.http.post(path, data=data, allow_redirects=False) as response:
            return Page(response.status, await response.text(), response.headers)

    @property
    def session_id(self) -> str | None:
        for cookie in self.http.cookie_jar:
            if cookie.key == PLAIN_COOKIE:
                return cookie.value
        return None

    def use_session_id(self, value: str) -> None:
        self.http.cookie_jar.update_cookies({PLAIN_COOKIE: value})

    async def log_in(self, login: str, password: str) -> Page:
        await self.get("/login")
        return await self.post("/login", {"login": login, "password": password})


@pytest.fixture
async def browser(portal: RunningApp) -> AsyncIterator[Browser]:
    browser = Browser(portal.url)
    yield browser
    await browser.close()


async def registered(identity: RunningApp, **overrides: Any) -> dict[str, Any]:
    account = new_account(**overrides)
    async with identity.http.post("/v1/accounts", json=account, headers={"X-Forwarded-For": address()}) as response:
        assert response.status == 201
        account.update(await response.json())
    return account


async def session_rows(portal: RunningApp, session_id: str) -> int:
    raw = _unb64(session_id)
    assert raw is not None
    async with portal.app[POOL].acquire() as conn:
        n: int = await conn.fetchval("SELECT count(*) FROM sessions WHERE id_hash = $1", _id_hash(raw))
        return n


async def session_tokens(portal: RunningApp, session_id: str | None) -> Tokens:
    raw = _unb64(session_id or "")
    assert raw is not None
    async with portal.app[POOL].acquire() as conn:
        sealed = await conn.fetchval("SELECT tokens FROM sessions WHERE id_hash = $1", _id_hash(raw))
    return _unseal(raw, _id_hash(raw), sealed)


async def refresh_grant(identity: RunningApp, refresh_token: str) -> int:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    async with identity.http.post("/oauth/token", data=form) as response:
        return response.status


def labelled(page: Page) -> bool:
    """Every visible form control has a <label for=…> (the accessibility rule for forms)."""
    controls = re.findall(r"<(?:input|select|textarea)\b[^>]*>", page.text)
    for control in controls:
        if 'type="hidden"' in control:
            continue
        found = re.search(r'id="([^"]+)"', control)
        if not found or f'<label for="{found.group(1)}">' not in page.text:
            return False
    return bool(controls)


# ---- security headers ------------------------------------------------------------------------


async def test_every_response_carries_the_security_headers(browser: Browser) -> None:
    for path in ("/", "/login", "/signup", "/no-such-page", "/static/portal.css", "/healthz"):
        async with browser.http.get(path, allow_redirects=False) as response:
            for name, value in SECURITY_HEADERS.items():
                assert response.headers.get(name) == value, (path, name)
    page = await browser.get("/no-such-page")
    assert page.status == 404 and "Page not found" in page.text
    page = await browser.get("/logout")
    assert page.status == 405 and "Log out" not in page.text
    assert "<script" not in (await browser.get("/login")).text  # no inline scripts anywhere


async def test_the_stylesheet_has_a_hashed_name_kept_for_a_year(browser: Browser) -> None:
    page = await browser.get("/login")
    href = re.search(r'<link rel="stylesheet" href="(/static/portal\.[0-9a-f]{12}\.css)">', page.text)
    assert href, "the stylesheet is linked by its content's hash"
    async with browser.http.get(href.group(1)) as response:
        assert response.status == 200 and "immutable" in response.headers["Cache-Control"]
        hashed = await response.read()
    assert hashlib.sha256(hashed).hexdigest()[:12] in href.group(1)
    async with browser.http.get("/static/portal.css") as response:  # the plain name: asked again each time
        assert response.headers["Cache-Control"] == "no-cache" and await response.read() == hashed
    async with browser.http.get("/static/portal.000000000000.css") as response:
        assert response.status == 404


async def test_pages_are_gzipped_and_each_carries_its_csrf_token_masked_anew(browser: Browser) -> None:
    async with browser.http.get("/signup", headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers.get("Content-Encoding") == "gzip" and "Accept-Encoding" in response.headers["Vary"]
        first = re.findall(r'name="csrf_token" value="([^"]+)"', await response.text())
    async with browser.http.get("/signup", headers={"Accept-Encoding": "identity"}) as response:
        assert "Content-Encoding" not in response.headers
        second = re.findall(r'name="csrf_token" value="([^"]+)"', await response.text())
    assert first and second and first[0] != second[0]  # BREACH: no secret repeats from answer to answer
    for token in (first[0], second[0]):  # each of them is accepted (the empty form is refused for its fields)
        assert (await browser.post("/signup", {}, csrf=token)).status != 403
    tampered = first[0][:-4] + ("AAAA" if not first[0].endswith("AAAA") else "BBBB")
    for token in (tampered, first[0][:20], "not base64 !", "A" * 600):
        assert (await browser.post("/signup", {}, csrf=token)).status == 403, token


async def test_help_is_open_to_everyone_in_either_language(browser: Browser) -> None:
    page = await browser.get("/help")
    assert page.status == 200
    assert "Connect your program to internet support" in page.text and "Whom to contact" in page.text
    assert '<a href="/help">Help</a>' in (await browser.get("/")).text  # reachable from home
    await browser.get("/language?lang=ru&next=/help")
    page = await browser.get("/help")
    assert page.status == 200 and "Подключите программу к интернет-поддержке" in page.text
    assert "internet support" not in page.text
    assert not re.search(r"\b[A-Z]{2,3}-\d\b", html.unescape(page.text))  # no rule ids for people


async def test_every_page_links_the_support_desk_and_the_legal_pages_which_exist(browser: Browser) -> None:
    home = await browser.get("/")
    assert 'href="mailto:support@its-portal.dev"' in home.text and 'href="tel:+78000000000"' in home.text
    for path, heading in (("/legal/terms", "User agreement"), ("/legal/privacy", "Personal data policy")):
        assert f'<a href="{path}">{heading}</a>' in home.text
        page = await browser.get(path)
        assert page.status == 200 and f"<h1>{heading}</h1>" in page.text
        assert "support@its-portal.dev" in page.text  # where to write about them
    await browser.get("/language?lang=ru&next=/")
    page = await browser.get("/legal/privacy")
    assert "<h1>Политика обработки персональных данных</h1>" in page.text and "password" not in page.text


# ---- sign up, verification, forms -------------------------------------------------------------


async def test_signup_shows_each_error_next_to_its_field(browser: Browser, identity: RunningApp) -> None:
    """Rule ACC-1 through the portal: the service's errors, by field, in the user's language."""
    page = await browser.get("/signup")
    assert page.status == 200 and labelled(page)
    page = await browser.post("/signup", {"login": "-bad login", "password": "password", "email": "not-an-address"})
    assert page.status == 422
    assert (
        page.error_of("login")
        == "Use letters, digits and . _ @ - only, 2 to 64 characters, starting with a letter or digit."
    )
    assert page.error_of("email") == "This is not a valid e-mail address."
    assert 'value="-bad login"' in page.text and 'value="password"' not in page.text  # the password is not echoed

    taken = await registered(identity)
    fresh = new_account()
    page = await browser.post("/signup", {**fresh, "email": taken["email"].upper()})
    assert page.status == 422 and page.error_of("email") == "An account with this e-mail address already exists."
    page = await browser.post("/signup", {**fresh, "password": "password"})
    assert page.error_of("password") == "This password is among the most common ones; choose another."

    await browser.get("/language?lang=ru&next=/signup")
    page = await browser.post("/signup", {**fresh, "login": taken["login"]})
    assert page.lang == "ru" and page.error_of("login") == "Этот логин уже занят."

    page = await browser.post("/signup", fresh)
    assert page.status == 200 and fresh["email"] in page.text
    async with identity.http.post(
        "/oauth/token",
        data={"grant_type": "password", "username": fresh["login"], "password": fresh["password"]},
        headers={"X-Forwarded-For": address()},
    ) as response:
        assert response.status == 200


async def test_the_verification_link_lands_on_the_portal(browser: Browser, identity: RunningApp) -> None:
    """Rule ACC-2: the portal's /verify-email page verifies the address once."""
    account = await registered(identity)
    [event] = await outbox_events(identity, "identity.email.verification_requested", account["id"])
    token = link_token(event["data"]["verification_url"], "/verify-email")  # the portal's page, at the public URL
    page = await browser.get(f"/verify-email?token={token}")
    assert page.status == 200 and f"The address {account['email']} is verified" in page.text
    page = await browser.get(f"/verify-email?token={token}")
    assert page.status == 404 and "already used or expired" in page.text


async def test_a_forgotten_password_is_reset_through_the_portal(browser: Browser, identity: RunningApp) -> None:
    account = await registered(identity)
    await browser.get("/forgot-password")
    page = await browser.post("/forgot-password", {"email": "nobody"})
    assert page.status == 422 and page.error_of("email")
    page = await browser.post("/forgot-password", {"email": account["email"]})
    assert page.status == 200 and "a link to reset its password has been sent" in page.text
    [event] = await outbox_events(identity, "identity.password.reset_requested", account["id"])
    token = link_token(event["data"]["reset_url"], "/reset-password")

    page = await browser.get(f"/reset-password?token={token}")
    assert page.status == 200 and labelled(page)
    page = await browser.post("/reset-password", {"token": token, "password": "short"})
    assert page.status == 422 and page.error_of("password") == "Use at least 8 characters."
    page = await browser.post("/reset-password", {"token": token, "password": "a new long passphrase"})
    assert page.status == 200 and "Your password has been changed" in page.text
    page = await browser.post("/reset-password", {"token": token, "password": "another long passphrase"})
    assert page.status == 404
    page = await browser.log_in(account["login"], "a new long passphrase")
    assert page.status == 303


# ---- sessions ---------------------------------------------------------------------------------


async def test_log_in_and_out(browser: Browser, identity: RunningApp, portal: RunningApp) -> None:
    account = await registered(identity)
    page = await browser.get("/login?next=/profile")
    assert page.status == 200 and labelled(page)
    before_login = browser.session_id
    assert before_login is not None

    page = await browser.post("/login", {"login": account["login"], "password": "wrong password", "next": "/profile"})
    assert page.status == 401 and page.form_error == "The login or password is wrong."
    page = await browser.post(
        "/login", {"login": account["login"], "password": account["password"], "next": "/profile"}
    )
    assert page.status == 303 and page.location == "/profile"
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert account["password"] not in cookie

    page = await browser.get("/profile")
    assert page.status == 200 and account["login"] in page.text and account["email"] in page.text
    assert "not verified" in page.text

    logged_in_id = browser.session_id
    assert logged_in_id is not None
    refresh_token = (await session_tokens(portal, logged_in_id)).refresh
    page = await browser.post("/logout", {})
    assert page.status == 303 and page.location == "/"
    assert await session_rows(portal, logged_in_id) == 0
    assert await refresh_grant(identity, refresh_token) == 400  # identity has revoked it (RFC 7009)
    assert (await browser.get("/profile")).status == 303
    browser.use_session_id(logged_in_id)  # a copy of the cookie kept from before is worth nothing
    page = await browser.get("/profile")
    assert page.status == 303 and page.location == "/login?next=%2Fprofile"


async def test_logging_in_gives_a_new_session_id(browser: Browser, identity: RunningApp, portal: RunningApp) -> None:
    """Session fixation: an id known before login (perhaps planted by someone) is deleted at login."""
    account = await registered(identity)
    await browser.get("/login")
    planted = browser.session_id
    assert planted is not None
    assert (await browser.post("/login", {"login": account["login"], "password": account["password"]})).status == 303
    assert browser.session_id not in (None, planted)
    assert await session_rows(portal, planted) == 0

    attacker = Browser(portal.url)
    try:
        attacker.use_session_id(planted)
        page = await attacker.get("/profile")
        assert page.status == 303 and page.location.startswith("/login")
    finally:
        await attacker.close()

    # Logging in again over a live session (perhaps as someone else) revokes that session's tokens too.
    first = await session_tokens(portal, browser.session_id)
    await browser.get("/login")
    assert (await browser.post("/login", {"login": account["login"], "password": account["password"]})).status == 303
    assert await refresh_grant(identity, first.refresh) == 400
    assert (await browser.get("/profile")).status == 200


async def test_a_throttled_login_says_so_and_not_that_the_password_is_wrong(
    browser: Browser, identity: RunningApp
) -> None:
    account = await registered(identity)
    await browser.get("/login")
    for _ in range(5):  # identity's limit per login and address
        page = await browser.post("/login", {"login": account["login"], "password": "not the password"})
        assert page.status == 401 and page.form_error == "The login or password is wrong."
    page = await browser.post("/login", {"login": account["login"], "password": account["password"]})
    assert page.status == 429 and page.form_error == "Too many attempts. Please wait a while and try again."


async def test_next_after_login_stays_on_this_site(browser: Browser, identity: RunningApp) -> None:
    account = await registered(identity)
    await browser.get("/login")
    form = {"login": account["login"], "password": account["password"], "next": "//evil.example/"}
    page = await browser.post("/login", form)
    assert page.status == 303 and page.location == "/"


async def test_an_expired_access_token_is_refreshed(browser: Browser, identity: RunningApp, portal: RunningApp) -> None:
    """The access token lives 15 minutes; the portal uses the refresh token (rotated by identity) and goes on."""
    account = await registered(identity)
    await browser.log_in(account["login"], account["password"])
    session_id = browser.session_id
    raw = _unb64(session_id or "")
    assert raw is not None
    id_hash = _id_hash(raw)
    async with portal.app[POOL].acquire() as conn:
        before = await conn.fetchval("SELECT tokens FROM sessions WHERE id_hash = $1", id_hash)
        assert account["password"].encode() not in before
        # Keep the refresh token, spoil the access token (as if it had expired).
        tokens = _unseal(raw, id_hash, before)
        spoiled = _seal(raw, id_hash, Tokens(access=tokens.access[:-4] + "AAAA", refresh=tokens.refresh))
        await conn.execute("UPDATE sessions SET tokens = $2 WHERE id_hash = $1", id_hash, spoiled)

    page = await browser.get("/profile")
    assert page.status == 200 and account["email"] in page.text
    async with portal.app[POOL].acquire() as conn:
        after = _unseal(raw, id_hash, await conn.fetchval("SELECT tokens FROM sessions WHERE id_hash = $1", id_hash))
    assert after.refresh != tokens.refresh and after.access != tokens.access

    # A refresh token that no longer works ends the session: back to the login page.
    async with portal.app[POOL].acquire() as conn:
        dead = _seal(raw, id_hash, Tokens(access="x.y.z", refresh=tokens.refresh))  # the rotated one
        await conn.execute("UPDATE sessions SET tokens = $2 WHERE id_hash = $1", id_hash, dead)
    page = await browser.get("/profile")
    assert page.status == 303 and page.location.startswith("/login")
    assert await session_rows(portal, session_id or "") == 0


# ---- CSRF -------------------------------------------------------------------------------------


async def test_a_post_without_the_right_csrf_token_is_refused_and_changes_nothing(
    browser: Browser, identity: RunningApp
) -> None:
    owner = await person(identity, verified=False)
    await browser.log_in(owner.account["login"], owner.account["password"])
    page = await browser.get("/subscriber")
    assert page.status == 200 and labelled(page)
    for token in ("", "wrong-token", browser.csrf[:-1] + ("A" if browser.csrf[-1] != "A" else "B")):
        page = await browser.post("/subscriber/name", {"name": "Hijacked"}, csrf=token)
        assert page.status == 403 and "did not come from this site" in page.text
    _, subscriber = await owner.call("GET", "/v1/subscriber")
    assert subscriber["name"] == "Ivan Petrov"
    page = await browser.post("/logout", {}, csrf="")
    assert page.status == 403
    assert (await browser.get("/profile")).status == 200  # still logged in

    stranger = Browser(browser.url)
    try:
        page = await stranger.post("/login", {"login": owner.account["login"], "password": owner.account["password"]})
        assert page.status == 403  # no session, no token: a login form from another site
        assert stranger.session_id is None
    finally:
        await stranger.close()


# ---- languages --------------------------------------------------------------------------------


async def test_the_language_is_switchable_and_remembered(browser: Browser, identity: RunningApp) -> None:
    page = await browser.get("/login")
    assert page.lang == "en" and '<label for="f-login">Login</label>' in page.text
    page = await browser.get("/language?lang=ru&next=/login")
    assert page.status == 303 and page.location == "/login"
    page = await browser.get("/login")
    assert page.lang == "ru" and '<label for="f-login">Логин</label>' in page.text

    account = await registered(identity)
    await browser.post("/login", {"login": account["login"], "password": account["password"]})
    page = await browser.get("/")
    assert page.lang == "ru" and "Здравствуйте" in page.text
    await browser.get("/language?lang=en&next=/")
    browser.http.cookie_jar.update_cookies({"its_lang": "ru"})  # the session's choice wins over the cookie
    assert (await browser.get("/")).lang == "en"

    visitor = Browser(browser.url)
    try:
        async with visitor.http.get("/login", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"}) as response:
            assert '<html lang="ru">' in await response.text()
        page = await visitor.get("/language?lang=xx&next=https://evil.example/")
        assert page.status == 303 and page.location == "/"
    finally:
        await visitor.close()


# ---- subscribers (SUB-3, SUB-7) ---------------------------------------------------------------


async def test_the_owner_renames_the_subscriber_a_user_cannot(browser: Browser, identity: RunningApp) -> None:
    owner = await person(identity)
    bob = await person(identity, verified=False, full_name="Bob Smith")
    invitation = await invite(owner, bob.account["email"])
    status, _ = await bob.call("POST", f"{invitation['link']}/accept")
    assert status == 200
    _, subscriber = await owner.call("GET", "/v1/subscriber")

    await browser.log_in(owner.account["login"], owner.account["password"])
    await browser.get("/subscriber")
    page = await browser.post("/subscriber/name", {"name": ""})
    assert page.status == 422 and page.error_of("name") == "Fill this in."
    page = await browser.post("/subscriber/name", {"name": "Horns & Hooves"})
    assert page.status == 303
    page = await browser.get(page.location)
    assert "The subscriber is renamed." in page.text and "Horns &amp; Hooves" in page.text
    await browser.post("/logout", {})

    # Bob acts for his own subscriber, then switches to the owner's (SUB-7) and may not rename it.
    await browser.log_in(bob.account["login"], bob.account["password"])
    page = await browser.get("/subscriber")
    assert subscriber["code"] in page.text and labelled(page)
    assert 'type="password"' not in page.text  # switching asks for no password: the session is proof enough
    for stranger in ("CL-0000000", "not a code"):
        page = await browser.post("/subscriber/switch", {"code": stranger})
        assert page.status == 422 and page.error_of("code") == "Your account is not a member of this subscriber."
    assert "(current)" in (await browser.get("/subscriber")).text  # the session goes on, as it was
    page = await browser.post("/subscriber/switch", {"code": subscriber["code"]})
    assert page.status == 303
    page = await browser.get(page.location)
    assert f"You are now acting for subscriber {subscriber['code']}" in page.text
    assert 'action="/subscriber/name"' not in page.text  # no rename form for a user
    page = await browser.post("/subscriber/name", {"name": "Mine now"})
    assert page.status == 403 and page.error_of("name") == "Only the subscriber's owner can do this."
    _, after = await owner.call("GET", "/v1/subscriber")
    assert after["name"] == "Horns & Hooves"


# ---- a service that is down -------------------------------------------------------------------


async def test_identity_down_gives_a_friendly_503(portal_schema: TestStack) -> None:
    settings = PortalSettings(identity_url=f"http://127.0.0.1:{free_port()}", service_timeout=2)
    async with RunningApp(create_app(settings)) as down:
        browser = Browser(down.url)
        try:
            page = await browser.get("/login")
            assert page.status == 200  # pages that need no service still work
            page = await browser.post("/login", {"login": "someone", "password": "a long passphrase"})
            assert page.status == 503 and page.headers["Retry-After"] == "30"
            assert "not answering just now" in page.text and "Traceback" not in page.text
            assert page.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
        finally:
            await browser.close()


async def test_health_endpoints(portal: RunningApp) -> None:
    async with portal.http.get("/healthz") as response:
        assert response.status == 200
    async with portal.http.get("/readyz") as response:
        assert response.status == 200 and (await response.json())["status"] == "ready"


# ---- invitation links (INV-5) -----------------------------------------------------------------


def invitation_token(invitation: dict[str, Any]) -> str:
    return str(invitation["link"]).rsplit("/", 1)[-1]


async def test_an_invitation_link_registers_a_new_person(browser: Browser, identity: RunningApp) -> None:
    owner = await person(identity)
    _, subscriber = await owner.call("GET", "/v1/subscriber")
    email = f"{new_account()['login']}@example.com"
    token = invitation_token(await invite(owner, email, full_name="Nina New"))

    page = await browser.get(f"/invitation?token={token}")
    assert page.status == 200 and labelled(page)
    assert 'value="Nina New"' in page.text and f'value="{email}"' in page.text  # prefilled, editable
    fresh = new_account()
    form = {"token": token, "full_name": "Nina New", "email": email, "login": fresh["login"]}
    page = await browser.post("/invitation/register", {**form, "password": fresh["password"]})
    assert page.status == 422 and page.error_of("accept_terms") == "Accept the user agreement to register."
    page = await browser.post("/invitation/register", {**form, "password": fresh["password"], "accept_terms": "yes"})
    assert page.status == 201
    assert subscriber["code"] in page.text and owner.account["email"] in page.text  # what INV-5 shows

    page = await browser.get("/subscriber")  # logged in, acting for the subscriber that invited her
    assert page.status == 200 and f'<dd class="code">{subscriber["code"]}</dd>' in page.text
    assert (await browser.get(f"/invitation?token={token}")).status == 404  # used


async def test_a_logged_in_account_accepts_an_invitation(browser: Browser, identity: RunningApp) -> None:
    owner = await person(identity)
    _, subscriber = await owner.call("GET", "/v1/subscriber")
    bob = await person(identity, verified=False)
    someone_else = await invite(owner, f"x{bob.account['email']}")
    token = invitation_token(await invite(owner, bob.account["email"]))

    page = await browser.get(f"/invitation?token={token}")
    assert 'href="/login?next=' in page.text
    await browser.log_in(bob.account["login"], bob.account["password"])
    page = await browser.get(f"/invitation?token={invitation_token(someone_else)}")
    page = await browser.post("/invitation/accept", {"token": invitation_token(someone_else)})
    assert page.status == 403 and "sent to another e-mail address" in (page.form_error or "")
    page = await browser.get(f"/invitation?token={token}")
    assert f"Accept as {bob.account['login']}" in page.text
    page = await browser.post("/invitation/accept", {"token": token})
    assert page.status == 200 and subscriber["code"] in page.text
    _, mine = await bob.call("GET", "/v1/me/subscribers")
    assert subscriber["code"] in [m["code"] for m in mine["items"]]


async def test_the_portal_runs_as_its_own_process(portal_schema: TestStack, identity: RunningApp) -> None:
    """`python -m services.portal` as the stack starts it."""
    process = ServiceProcess(
        "portal",
        portal_schema.env(ITS_IDENTITY_URL=identity.url),
        free_port(),
        portal_schema.var_dir / "log" / "portal-test.log",
    )
    await process.start()
    try:
        browser = Browser(process.url)
        try:
            page = await browser.get("/login")
            assert page.status == 200 and browser.session_id is not None
        finally:
            await browser.close()
    finally:
        await process.stop()


async def test_changing_the_password_keeps_this_session_going(browser: Browser, identity: RunningApp) -> None:
    account = await registered(identity)
    await browser.log_in(account["login"], account["password"])
    page = await browser.get("/profile")
    assert labelled(page)
    form = {"current_password": "not the password", "new_password": "a brand new passphrase"}
    page = await browser.post("/profile/password", form)
    assert page.status == 422 and page.error_of("current_password") == "The current password is wrong."
    page = await browser.post("/profile/password", {"current_password": account["password"], "new_password": "short"})
    assert page.status == 422 and page.error_of("new_password") == "Use at least 8 characters."
    before = browser.session_id
    form = {"current_password": account["password"], "new_password": "a brand new passphrase"}
    page = await browser.post("/profile/password", form)
    assert page.status == 303 and browser.session_id != before
    page = await browser.get(page.location)
    assert page.status == 200 and "Your password has been changed" in page.text

    other = Browser(browser.url)
    try:
        assert (await other.log_in(account["login"], account["password"])).status == 401
        assert (await other.log_in(account["login"], "a brand new passphrase")).status == 303
    finally:
        await other.close()
