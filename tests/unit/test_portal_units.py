"""The portal's pure parts: messages in two languages, safe redirects, session ids and sealed tokens."""

from __future__ import annotations

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from cryptography.exceptions import InvalidTag

from services.portal import i18n
from services.portal.clients.transport import ServiceError
from services.portal.keys import SETTINGS
from services.portal.middlewares import CONTENT_SECURITY_POLICY, security_headers
from services.portal.pages.base import safe_next
from services.portal.sessions import (
    PLAIN_COOKIE,
    SECURE_COOKIE,
    Session,
    Sessions,
    Tokens,
    _b64,
    _id_hash,
    _seal,
    _unb64,
    _unseal,
    token_claims,
)
from services.portal.settings import PortalSettings
from services.portal.store import SessionRow
from tests.tokens import TestKeys

PROBLEM = "https://its-portal.dev/problems/"


def test_every_message_is_in_both_languages() -> None:
    assert set(i18n.EN) == set(i18n.RU)
    assert all(i18n.RU[key] for key in i18n.RU)


def test_validation_errors_go_next_to_their_fields_in_the_users_language() -> None:
    error = ServiceError(
        "identity",
        422,
        {
            "type": PROBLEM + "validation",
            "errors": [
                {"field": "login", "type": "string_pattern_mismatch", "message": "String should match pattern"},
                {"field": "email", "type": "value_error", "message": "value is not a valid email address"},
                {"field": "password", "type": "password_policy", "message": "use at least 8 characters"},
                {"field": "full_name", "type": "something_new", "message": "the service's own words"},
            ],
        },
    )
    fields = {"login": "login", "email": "email", "password": "password", "full_name": "full_name"}
    assert i18n.form_errors("ru", error, fields) == {
        "login": i18n.RU["error.string_pattern_mismatch"],
        "email": "Это не адрес электронной почты.",
        "password": "Не менее 8 символов.",
        "full_name": "Недопустимое значение.",  # unknown: said by its kind, never the service's English words
    }


def test_a_conflict_names_its_field_and_other_problems_concern_the_form() -> None:
    conflict = ServiceError(
        "identity", 409, {"type": PROBLEM + "conflict", "detail": "this login is taken", "field": "login"}
    )
    assert i18n.form_errors("en", conflict, {"login": "login"}) == {"login": "This login is taken."}
    owner_only = ServiceError("identity", 403, {"type": PROBLEM + "owner-only", "detail": "only the owner"})
    assert i18n.form_errors("ru", owner_only, {"name": "name"}) == {"_form": "Это может только владелец абонента."}
    unknown = ServiceError("identity", 403, {"type": PROBLEM + "brand-new", "detail": "a reason we do not know"})
    assert i18n.form_errors("ru", unknown, {}) == {"_form": "У вас нет прав на это действие."}  # noqa: RUF001
    oauth = ServiceError("identity", 429, {"error": "invalid_grant", "error_description": "wait 60 seconds"})
    assert oauth.slug == "invalid_grant" and oauth.detail == "wait 60 seconds"


@pytest.mark.parametrize(
    ("header", "language"),
    [("ru-RU,ru;q=0.9,en;q=0.8", "ru"), ("de-DE,en;q=0.5", "en"), ("", "en"), ("fr", "en"), ("RU", "ru")],
)
def test_the_browsers_language_is_the_default(header: str, language: str) -> None:
    assert i18n.best_language(header) == language


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/profile", "/profile"),
        ("/subscriber?switched=CL-1", "/subscriber?switched=CL-1"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        (None, "/"),
    ],
)
def test_redirects_stay_on_this_site(value: object, expected: str) -> None:
    assert safe_next(value) == expected


def test_session_ids_are_256_bits_and_only_well_formed_ones_are_looked_up() -> None:
    raw = bytes(range(32))
    assert _unb64(_b64(raw)) == raw
    assert _unb64("") is None and _unb64("x" * 42) is None and _unb64("!" * 43) is None
    assert _id_hash(raw) != raw and len(_id_hash(raw)) == 32


def test_tokens_are_sealed_with_a_key_only_the_cookie_gives() -> None:
    raw, other = bytes(range(32)), bytes(range(1, 33))
    tokens = Tokens(access="header.payload.signature", refresh="a-refresh-token")
    sealed = _seal(raw, _id_hash(raw), tokens)
    assert b"refresh" not in sealed and b"payload" not in sealed
    assert _unseal(raw, _id_hash(raw), sealed) == tokens
    with pytest.raises(InvalidTag):
        _unseal(other, _id_hash(raw), sealed)
    with pytest.raises(InvalidTag):  # bound to its row: cannot be moved to another session
        _unseal(raw, _id_hash(other), sealed)


def _cookie(settings: PortalSettings, headers: dict[str, str] | None = None, peer: str = "127.0.0.1") -> str:
    sessions = Sessions(None, settings)  # type: ignore[arg-type]  # no database needed to set a cookie
    raw = bytes(32)
    row = SessionRow(_id_hash(raw), None, None, None, None, "en", False, b"s" * 32, *([None] * 3))  # type: ignore[arg-type]
    response = web.Response()
    request = make_mocked_request("GET", "/", headers=headers or {}).clone(remote=peer)
    sessions.set_cookie(request, response, Session(raw, row, None))
    [morsel] = response.cookies.values()
    return morsel.OutputString()


@pytest.mark.parametrize(
    ("trusted", "peer", "proto", "secure"),
    [
        ("127.0.0.1", "127.0.0.1", "https", True),  # the gateway (make run, deployments) says https
        ("127.0.0.1", "127.0.0.1", "http", False),  # the gateway's plain port: it only redirects, but still
        ("127.0.0.1", "127.0.0.1", "http, https", True),  # the last hop's word counts: the one the gateway set
        ("127.0.0.1", "127.0.0.1", "https, http", False),
        ("127.0.0.1", "10.1.2.3", "https", False),  # not a trusted proxy: its header says nothing
        ("", "127.0.0.1", "https", False),
        ("127.0.0.1", "127.0.0.1", None, False),  # straight to the portal's plain port
    ],
)
def test_the_session_cookie_is_secure_when_a_trusted_proxy_says_https(
    trusted: str, peer: str, proto: str | None, secure: bool
) -> None:
    cookie = _cookie(PortalSettings(trusted_proxies=trusted), {"X-Forwarded-Proto": proto} if proto else {}, peer=peer)
    assert cookie.startswith((SECURE_COOKIE if secure else PLAIN_COOKIE) + "=")
    assert ("Secure" in cookie) is secure


def test_the_session_cookie_is_host_prefixed_and_secure_behind_tls() -> None:
    secure = _cookie(PortalSettings(portal_secure_cookies=True))
    assert secure.startswith(SECURE_COOKIE + "=")
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in secure
    assert "Domain" not in secure  # a __Host- cookie has none
    plain = _cookie(PortalSettings(portal_secure_cookies=False))
    assert plain.startswith(PLAIN_COOKIE + "=") and "Secure" not in plain and "HttpOnly" in plain


async def test_pages_carry_the_security_headers_and_are_not_cached() -> None:
    app = web.Application()
    app[SETTINGS] = PortalSettings()

    async def page(request: web.Request) -> web.StreamResponse:
        return web.Response(text="hello")

    response = await security_headers(make_mocked_request("GET", "/", app=app), page)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Frame-Options"] == "DENY" and response.headers["Cache-Control"] == "no-store"
    static = await security_headers(make_mocked_request("GET", "/static/portal.css", app=app), page)
    assert "Cache-Control" not in static.headers and static.headers["X-Content-Type-Options"] == "nosniff"


def test_token_claims_are_read_for_display_and_an_unreadable_token_says_nothing() -> None:
    token = TestKeys().token(scope="operator", login="olga", subscriber={"code": "CL-0000001"})
    claims = token_claims(token)
    assert claims == jwt.decode(token, options={"verify_signature": False})
    assert claims["scope"] == "operator" and claims["subscriber"] == {"code": "CL-0000001"}
    for unreadable in ("", "x.y.z", "no-dots", "a.!!!.c", "a.WzFd.c"):  # the last: a JSON list, not claims
        assert token_claims(unreadable) == {}
