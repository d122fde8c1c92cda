"""notifications' API as the portal uses it: the delivery log (the operator cabinet), an account's e-mail
preferences (the notification settings page) and the unsubscribe link of a release e-mail (its landing page)."""

from __future__ import annotations

from urllib.parse import urlencode

from services.portal.clients.answers import Answer, Client, Listed, parsed
from services.portal.clients.transport import segment


class Delivery(Answer):
    """notifications' Delivery: one row of the delivery log."""

    mirrors = ("notifications.Delivery",)

    id: int
    recipient: str
    template: str
    language: str
    subject: str
    status: str
    attempts: int
    last_error: str | None = None  # the mail server's own words; `failure` says what they mean
    failure: str | None = None
    created_at: str
    sent_at: str | None = None


class Preferences(Answer):
    """notifications' PreferencesOut: what the account wants to receive (release news, but not of the configurations
    in `muted_configurations`)."""

    mirrors = ("notifications.PreferencesOut",)

    release_news: bool
    muted_configurations: list[str] = []


class Unsubscribing(Answer):
    """notifications' UnsubscribeOut: an unsubscribe link's account's language and whether it gets release news."""

    mirrors = ("notifications.UnsubscribeOut",)

    language: str | None = None
    release_news: bool


class Notifications(Client):
    async def deliveries(self, token: str, query: dict[str, str]) -> Listed[Delivery]:
        """A page of the log, newest first (`query`: recipient, status, limit, cursor)."""
        return await self.get(Listed[Delivery], "/v1/deliveries?" + urlencode(query), token)

    async def preferences(self, token: str) -> Preferences:
        return await self.get(Preferences, "/v1/preferences", token)

    async def set_preferences(self, token: str, *, release_news: bool, muted: list[str]) -> Preferences:
        body = {"release_news": release_news, "muted_configurations": muted}
        return await self.send(Preferences, "PUT", "/v1/preferences", token, body)

    async def unsubscribe_link(self, link_token: str, *, confirmed: bool) -> Unsubscribing:
        """What the e-mail's link does (`confirmed`: turn release news off); no login, the link's token is the
        permission. A link not signed by notifications: ServiceError 403; a malformed one: 422."""
        answer = await self.service.call("POST" if confirmed else "GET", f"/v1/unsubscribe?token={segment(link_token)}")
        return parsed(self.service.name, Unsubscribing, answer)
