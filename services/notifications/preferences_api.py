"""What each account wants to receive: release news on or off (UPD-3) and per configuration, with the account's own
access token, or with the one-click unsubscribe token of a release e-mail (no login; GET reads, POST unsubscribes:
all release news off). The pages are the portal's (`/notifications`, `/unsubscribe`): these are the APIs they call."""

from __future__ import annotations

import uuid
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, Field, StringConstraints

from services.notifications import preferences as preferences_of
from services.notifications.keys import LINKS
from services.notifications.languages import pick_language
from services.notifications.unsubscribe import MAX_TOKEN_LENGTH, BadToken
from shared.auth import Caller
from shared.http import Api
from shared.keys import CLOCK, POOL
from shared.parsing import StrictModel
from shared.problems import Forbidden

preferences = Api("ITS Portal notifications: preferences")

UNSUBSCRIBE_PATH = "/v1/unsubscribe"


# A configuration's code as registration's catalogue writes it.
ConfigurationCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
MAX_MUTED = 200


class Preferences(StrictModel):
    release_news: bool = Field(
        strict=True, description="E-mails about new releases of the account's configurations and the platform"
    )
    muted_configurations: list[ConfigurationCode] | None = Field(
        default=None,
        max_length=MAX_MUTED,
        description="The configurations (codes) whose releases the account wants no e-mails of, whatever "
        "`release_news` says; every other configuration's releases are announced. Absent: as they were",
    )


class PreferencesOut(BaseModel):
    release_news: bool
    muted_configurations: list[str] = Field(
        description="The configurations whose releases the account wants no e-mails of, sorted"
    )


class UnsubscribeOut(BaseModel):
    language: str | None = Field(description="The link's account's language (en, ru), if known")
    release_news: bool = Field(description="Whether the account still gets release news")


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
    news = await preferences_of.release_news_of(request.app[POOL], _account(caller))
    return PreferencesOut(release_news=news.wanted, muted_configurations=news.muted)


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
    news = await preferences_of.set_release_news(
        request.app[POOL], account_id, body.release_news, request.app[CLOCK].now(), muted=body.muted_configurations
    )
    return PreferencesOut(release_news=news.wanted, muted_configurations=news.muted)


@preferences.get(
    UNSUBSCRIBE_PATH,
    summary="What a release e-mail's unsubscribe link would do (the portal's page asks to confirm): the link's "
    "account's language and whether it still gets release news; changes nothing. A link not signed by us: 403",
    query=UnsubscribeQuery,
    response=UnsubscribeOut,
    tags=("preferences",),
    errors=(403,),
)
async def unsubscribe_link(request: web.Request, *, query: UnsubscribeQuery) -> UnsubscribeOut:
    return await _unsubscribe(request, query.token, confirmed=False)


@preferences.post(
    UNSUBSCRIBE_PATH,
    summary="Unsubscribe the link's account from release e-mails (the portal's page, for its one-click POST, RFC 8058, "
    "and its button); no login: the signed token is the permission. A link not signed by us: 403",
    query=UnsubscribeQuery,
    response=UnsubscribeOut,
    tags=("preferences",),
    errors=(403,),
)
async def unsubscribe(request: web.Request, *, query: UnsubscribeQuery) -> UnsubscribeOut:
    return await _unsubscribe(request, query.token, confirmed=True)


async def _unsubscribe(request: web.Request, token: str, *, confirmed: bool) -> UnsubscribeOut:
    """GET only reads; POST turns release news off for the token's account."""
    app = request.app
    try:
        language, release_news = await preferences_of.unsubscribe_link(
            app[POOL], app[LINKS].secret, token, confirmed=confirmed, now=app[CLOCK].now()
        )
    except BadToken:
        raise UnsubscribeLinkInvalid("the token of this link was not signed by us") from None
    return UnsubscribeOut(language=pick_language(language) if language else None, release_news=release_news)
