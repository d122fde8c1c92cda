"""identity's subscriber API as the owner's pages use it: the subscriber's users and their rights (SUB-5, SUB-6)
and the invitations sent to new ones (INV-1..3, INV-6). identity decides who is the owner."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from services.portal.clients.answers import Answer, Client, Listed

ITS_ACCESS = "its_access"  # the right to ITS services (SUB-6)


class Member(Answer):
    """identity's UserOut: one of the subscriber's users."""

    mirrors = ("identity.UserOut",)

    account_id: str
    login: str
    full_name: str | None = None
    email: str
    role: str
    is_owner: bool
    rights: list[str]
    joined_at: str
    excluded_at: str | None = None  # an excluded user (SUB-6), listed with state=excluded

    @property
    def its_access(self) -> bool:
        return ITS_ACCESS in self.rights


class Invitation(Answer):
    """identity's InvitationOut."""

    mirrors = ("identity.InvitationOut",)

    id: str
    email: str
    full_name: str
    its_access: bool
    state: str
    created_at: str
    valid_until: str
    text: str


class InvitationText(Answer):
    mirrors = ("identity.InvitationText",)

    text: str


class Members(Client):
    async def users(self, token: str, query: Mapping[str, str]) -> Listed[Member]:
        """A page of the users (`query`: q, state, right, sort, limit, cursor)."""
        return await self.get(Listed[Member], "/v1/subscriber/users?" + urlencode(query), token)

    async def user(self, token: str, account_id: str) -> Member:
        return await self.get(Member, f"/v1/subscriber/users/{account_id}", token)

    async def set_its_access(self, token: str, account_id: str, its_access: bool) -> None:
        body = {ITS_ACCESS: its_access}
        await self.service.call("PUT", f"/v1/subscriber/users/{account_id}/rights", token=token, json_body=body)

    async def exclude(self, token: str, account_id: str) -> None:
        await self.service.call("DELETE", f"/v1/subscriber/users/{account_id}", token=token)

    async def invitations(self, token: str, query: Mapping[str, str]) -> Listed[Invitation]:
        """A page of the invitations (`query`: q, state, sort, limit, cursor)."""
        return await self.get(Listed[Invitation], "/v1/subscriber/invitations?" + urlencode(query), token)

    async def preview(self, token: str, body: Mapping[str, Any]) -> str:
        """INV-2: the text the invitation would carry, before it is sent."""
        return (await self.send(InvitationText, "POST", "/v1/subscriber/invitations/preview", token, body)).text

    async def invite(self, token: str, body: Mapping[str, Any]) -> Invitation:
        return await self.send(Invitation, "POST", "/v1/subscriber/invitations", token, body)

    async def resend(self, token: str, invitation_id: str) -> None:
        await self.service.call("POST", f"/v1/subscriber/invitations/{invitation_id}/resend", token=token)
