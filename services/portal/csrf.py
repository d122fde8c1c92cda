"""CSRF: every form carries the session's token in a hidden field; every POST must bring it back.

The token is the session's random secret (256 bits), compared in constant time. A POST without a
session, without the field, or with another value is refused with a 403 page and changes nothing.
"""

from __future__ import annotations

import hmac
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
    if session is None or not isinstance(given, str) or not hmac.compare_digest(given, session.csrf_token):
        raise CsrfRejected("missing or wrong token")
