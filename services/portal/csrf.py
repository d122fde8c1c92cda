"""CSRF: every form carries the session's token in a hidden field; every POST must bring it back.

The token is the session's random secret (256 bits), compared in constant time. A POST without a
session, without the field, or with another value is refused with a 403 page and changes nothing.

Each page carries the secret masked with a fresh random pad (pad + pad XOR secret), so no two answers hold the
same bytes: pages are gzipped, and a secret repeated in every compressed answer could otherwise be guessed a byte
at a time by someone who can make the page reflect their guesses and watch its size (BREACH).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from services.portal.sessions import Session
from shared.parsing import read_form_fields

FIELD = "csrf_token"
# A handler with this attribute set reads its multipart form as a stream and checks the token in the form's
# first part itself (the operator cabinet's kit uploads): reading the form here would hold the whole file.
IN_FIRST_PART = "csrf_in_first_part"
# A handler with this attribute set acts only on what a signed token in its own link allows (the unsubscribe link
# of a release e-mail, which a mail program POSTs to with no form, RFC 8058): a forged request would need the
# token, which is the permission itself. See `token_in_link`.
TOKEN_IN_LINK = "csrf_token_in_link"  # noqa: S105 (an attribute name)


Handler = Callable[[web.Request], Awaitable[web.Response]]


class CsrfRejected(Exception):
    pass


def token_in_link(handler: Handler) -> Handler:
    """Marks a handler whose POST needs no form token: the link's own signed token is the permission."""
    setattr(handler, TOKEN_IN_LINK, True)
    return handler


def masked(secret: str) -> str:
    """The session's secret as one page carries it: a new random pad each time."""
    plain = secret.encode()
    pad = secrets.token_bytes(len(plain))
    return base64.urlsafe_b64encode(pad + bytes(a ^ b for a, b in zip(pad, plain, strict=True))).decode()


def unmasked(given: object) -> bytes | None:
    """The secret a form's field carries under its pad; None for anything that is no masked token."""
    if not isinstance(given, str) or len(given) > 512:
        return None
    try:
        raw = base64.urlsafe_b64decode(given.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    if len(raw) % 2:
        return None
    half = len(raw) // 2
    return bytes(a ^ b for a, b in zip(raw[:half], raw[half:], strict=True))


def matches(given: object, session: Session | None) -> bool:
    """Whether `given` (a form's field) is the session's secret under some pad."""
    secret = unmasked(given)
    return session is not None and secret is not None and hmac.compare_digest(secret, session.csrf_token.encode())


async def check(request: web.Request, session: Session | None) -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if getattr(request.match_info.handler, TOKEN_IN_LINK, False):
        return
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise CsrfRejected("not a form")
    if request.content_type == "multipart/form-data" and getattr(request.match_info.handler, IN_FIRST_PART, False):
        return
    given = (await read_form_fields(request)).get(FIELD)  # a body that is not a readable form: a 400 page
    if not matches(given, session):
        raise CsrfRejected("missing or wrong token")
