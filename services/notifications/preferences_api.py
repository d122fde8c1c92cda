"""What each account wants to receive: release news on or off (UPD-3), with the account's own access token, or
with the one-click unsubscribe link of a release e-mail (RFC 8058: no login; GET asks, POST unsubscribes)."""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import BaseModel, Field

from services.notifications import preferences as preferences_of
from services.notifications.keys import LINKS, RENDERER
from services.notifications.languages import pick_language
from services.notifications.releases import UNSUBSCRIBE_PATH
from services.notifications.unsubscribe import MAX_TOKEN_LENGTH, BadToken
from shared.auth import Caller
from shared.http import Api
from shared.keys import CLOCK, POOL
from shared.parsing import StrictModel
from shared.problems import Forbidden

preferences = Api("ITS Portal notifications: preferences")

# The pages: no scripts, nothing from elsewhere, not framed (the button must not be clicked for someone
# through another site), and the token in the address is sent to no one.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class Preferences(StrictModel):
    release_news: bool = Field(
        strict=True, description="E-mails about new releases of the account's configurations and the platform"
    )


class PreferencesOut(BaseModel):
    release_news: bool


class UnsubscribeQuery(StrictModel):
    token: str = Field(min_length=1, max_length=MAX_TOKEN_LENGTH, description="From the link in the e-mail")


class UnsubscribeLinkInvalid(Forbidden):
    slug, title = "unsubscribe-link-invalid", "This unsubscribe link is not valid"


class NotForPartnerSystems(Forbidden):
    slug, title = "person-only", "Only a person's account has preferences"


def _account(caller: Caller) -> uuid.UUID:
    """The account whose preferences these are: a person's (a partner system's token names a client)."""
    if caller.partner_id is not None and "login" not in caller.claims:
        raise NotForPartnerSystems("use the access token of a person's account, not a partner system's")
    return caller.account_id


@preferences.get(
    "/v1/preferences",
    summary="The calling account's e-mail preferences",
    auth=True,
    response=PreferencesOut,
    tags=("preferences",),
)
async def get_preferences(request: web.Request, *, caller: Caller) -> PreferencesOut:
    return PreferencesOut(release_news=await preferences_of.wants_release_news(request.app[POOL], _account(caller)))


@preferences.route(
    "PUT",
    "/v1/preferences",
    summary="Set the calling account's e-mail preferences",
    auth=True,
    body=Preferences,
    response=PreferencesOut,
    tags=("preferences",),
)
async def put_preferences(request: web.Request, *, caller: Caller, body: Preferences) -> PreferencesOut:
    account_id = _account(caller)
    await preferences_of.set_release_news(request.app[POOL], account_id, body.release_news, request.app[CLOCK].now())
    return PreferencesOut(release_news=body.release_news)


@preferences.get(
    UNSUBSCRIBE_PATH,
    summary="The page of a release e-mail's unsubscribe link: asks to confirm (HTML); changes nothing. A link "
    "not signed by us: 403, a page, or problem+json for a client asking for JSON and not HTML",
    query=UnsubscribeQuery,
    tags=("preferences",),
    errors=(403,),
    html=(200, 403),
)
async def unsubscribe_page(request: web.Request, *, query: UnsubscribeQuery) -> web.Response:
    return await _unsubscribe(request, query.token, confirmed=False)


@preferences.post(
    UNSUBSCRIBE_PATH,
    summary="One-click unsubscribe from release e-mails (RFC 8058 `List-Unsubscribe=One-Click`, or the page's "
    "button); the answer is a page (HTML); a link not signed by us: 403, a page, or problem+json for a client asking "
    "for JSON and not HTML",
    query=UnsubscribeQuery,
    tags=("preferences",),
    errors=(403,),
    html=(200, 403),
)
async def unsubscribe(request: web.Request, *, query: UnsubscribeQuery) -> web.Response:
    return await _unsubscribe(request, query.token, confirmed=True)


async def _unsubscribe(request: web.Request, token: str, *, confirmed: bool) -> web.Response:
    """GET (a person, or a scanner following links) only asks; POST turns release news off for the token's
    account. Any body of the POST is ignored: mail providers send `List-Unsubscribe=One-Click`, browsers the
    empty form."""
    app = request.app
    try:
        language = await preferences_of.unsubscribe_link(
            app[POOL], app[LINKS].secret, token, confirmed=confirmed, now=app[CLOCK].now()
        )
    except BadToken:
        if _wants_json(request):  # a program (a mail provider's one-click POST asks for no JSON): problem+json
            raise UnsubscribeLinkInvalid("the token of this link was not signed by us") from None
        return _page(request, "invalid", _browser_language(request), status=403)
    state = "done" if confirmed else "confirm"
    return _page(request, state, pick_language(language) if language else _browser_language(request), token=token)


def _page(request: web.Request, state: str, language: str, *, token: str = "", status: int = 200) -> web.Response:
    html = request.app[RENDERER].page(
        "unsubscribe",
        language,
        # The form posts to this same link: a relative address, right behind any gateway's prefix.
        {"state": state, "action": f"?token={token}"},
    )
    return web.Response(status=status, text=html, content_type="text/html", charset="utf-8", headers=PAGE_HEADERS)


def _wants_json(request: web.Request) -> bool:
    """A client that asks for JSON and not for a page (`Accept: application/json` or `application/problem+json`)."""
    accept = request.headers.get("Accept", "").lower()
    return "json" in accept and "text/html" not in accept


def _browser_language(request: web.Request) -> str:
    """For a page about no known account: Russian if the browser puts it first, else English."""
    first = request.headers.get("Accept-Language", "").split(",")[0].strip().lower()
    return "ru" if first.startswith("ru") else "en"
