"""The pages of the release e-mails (UPD-3): the notification settings (release news on or off, and per
configuration the subscriber is registered for: the account's own preference in notifications) and the landing
page of the e-mail's unsubscribe link.

The unsubscribe link (`/unsubscribe?token=…`, notifications signs the token) works with no login: GET shows what it
would do, in the language of the account it was sent to; POST does it. The POST is also what a mail program's
one-click "unsubscribe" button sends (RFC 8058, `List-Unsubscribe-Post`), with no form token: the link's signed
token is the permission itself (whoever holds it may unsubscribe that one account), so the page is exempt from CSRF
(`csrf.token_in_link`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from services.portal import csrf, i18n
from services.portal.clients.notifications import Unsubscribing
from services.portal.clients.transport import ServiceError
from services.portal.keys import LANGUAGE, NOTIFICATIONS, REGISTRATION
from services.portal.pages.base import as_user, form_values, language_of, logged_in, redirect, render

routes = web.RouteTableDef()

SETTINGS_PAGE = "/notifications"
UNSUBSCRIBE_PAGE = "/unsubscribe"


# A configuration's checkbox on the settings page: `news-<code>` (codes are letters, digits, `_.-`).
CONFIGURATION_FIELD = "news-"


@dataclass(frozen=True)
class ConfigurationChoice:
    code: str
    name: str
    wanted: bool


async def _configurations(request: web.Request) -> list[tuple[str, str]]:
    """(code, name) of the configurations the subscriber is registered for (REG-6), as the Software pages show them;
    none when registration refuses (no subscriber)."""
    try:
        access = await as_user(request, request.app[REGISTRATION].configuration_access)
    except ServiceError:
        return []
    return [(c.code, c.name) for c in access if c.registered or c.pending_from]


def _choices(configurations: list[tuple[str, str]], wanted: Callable[[str], bool]) -> list[ConfigurationChoice]:
    return [ConfigurationChoice(code, name, wanted(code)) for code, name in configurations]


@routes.get(SETTINGS_PAGE)
async def settings_page(request: web.Request) -> web.Response:
    logged_in(request)
    try:
        preferences = await as_user(request, request.app[NOTIFICATIONS].preferences)
    except ServiceError as exc:
        return _refused(request, exc)
    muted = set(preferences.muted_configurations)
    choices = _choices(await _configurations(request), lambda code: code not in muted)
    saved = request.query.get("saved") == "1"
    context = {"release_news": preferences.release_news, "configurations": choices, "saved": saved}
    return render(request, "notification_settings.html", context)


@routes.post(SETTINGS_PAGE)
async def save_settings(request: web.Request) -> web.Response:
    """The overall switch and a checkbox per configuration shown; the configurations the account muted for another
    subscriber (not shown here) stay muted."""
    logged_in(request)
    values = await form_values(request)
    wanted = values.get("release_news") == "on"
    configurations = await _configurations(request)
    shown = {code for code, _ in configurations}
    chosen = {code for code in shown if values.get(CONFIGURATION_FIELD + code) == "on"}
    notifications = request.app[NOTIFICATIONS]
    try:
        before = await as_user(request, notifications.preferences)
        muted = sorted((set(before.muted_configurations) - shown) | (shown - chosen))
        await as_user(request, lambda token: notifications.set_preferences(token, release_news=wanted, muted=muted))
    except ServiceError as exc:
        if exc.status != 422:
            return _refused(request, exc)
        # What the person ticked stays ticked, above the form the reason.
        context = {
            "release_news": wanted,
            "configurations": _choices(configurations, lambda code: code in chosen),
            "error": i18n.problem_message(language_of(request), exc),
        }
        return render(request, "notification_settings.html", context, status=exc.status)
    return redirect(f"{SETTINGS_PAGE}?saved=1")


def _refused(request: web.Request, exc: ServiceError) -> web.Response:
    """A partner system's session has no preferences (403 person-only); anything else: the service's word."""
    text = i18n.problem_message(language_of(request), exc)
    return render(request, "notification_settings.html", {"refused": text}, status=exc.status)


@routes.get(UNSUBSCRIBE_PAGE)
async def unsubscribe_page(request: web.Request) -> web.Response:
    """Asks before unsubscribing: a link scanner following the e-mail's links changes nothing."""
    return await _unsubscribe(request, confirmed=False)


@routes.post(UNSUBSCRIBE_PAGE)
@csrf.token_in_link
async def unsubscribe(request: web.Request) -> web.Response:
    """The page's button, or a mail program's one-click POST (its body, `List-Unsubscribe=One-Click`, is ignored)."""
    return await _unsubscribe(request, confirmed=True)


async def _unsubscribe(request: web.Request, *, confirmed: bool) -> web.Response:
    token = request.query.get("token", "")
    if not token:
        return _unsubscribe_refused(request, 400)
    try:
        answer = await request.app[NOTIFICATIONS].unsubscribe_link(token, confirmed=confirmed)
    except ServiceError as exc:  # 403: not signed by us; 422: not a token at all
        return _unsubscribe_refused(request, 403 if exc.status == 403 else 400)
    _speak_the_readers_language(request, answer)
    state = "done" if confirmed else ("confirm" if answer.release_news else "already")
    return render(request, "unsubscribed.html", {"state": state, "token": token})


def _unsubscribe_refused(request: web.Request, status: int) -> web.Response:
    return render(request, "unsubscribed.html", {"state": "invalid", "token": ""}, status=status)


def _speak_the_readers_language(request: web.Request, answer: Unsubscribing) -> None:
    """The page is in the language of the account the e-mail went to (whoever opens it, logged in or not)."""
    if answer.language in i18n.LANGUAGES:
        request[LANGUAGE] = answer.language
