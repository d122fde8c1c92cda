"""notifications' API as the operator cabinet uses it: the delivery log."""

from __future__ import annotations

from urllib.parse import urlencode

from services.portal.clients.answers import Answer, Client, Listed


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
    last_error: str | None = None
    created_at: str
    sent_at: str | None = None


class Notifications(Client):
    async def deliveries(self, token: str, query: dict[str, str]) -> Listed[Delivery]:
        """A page of the log, newest first (`query`: recipient, status, limit, cursor)."""
        return await self.get(Listed[Delivery], "/v1/deliveries?" + urlencode(query), token)
