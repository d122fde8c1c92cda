"""identity's invitation links (INV-5) as the portal uses them: what a link offers, accepting it, registering
through it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.portal.clients.answers import Answer, Client, parsed
from services.portal.clients.identity import Contact
from services.portal.clients.transport import segment


class Preview(Answer):
    """identity's InvitationPreview: a subscriber's invitation or a partner's."""

    mirrors = ("identity.InvitationPreview",)

    subscriber_name: str | None = None
    partner_name: str | None = None
    full_name: str
    email: str
    valid_until: str

    @property
    def organisation(self) -> str:
        return self.subscriber_name or self.partner_name or ""


class PartnerJoined(Answer):
    mirrors = ("identity.PartnerJoined",)

    id: str
    name: str
    admin: bool


class Accepted(Answer):
    """identity's Accepted (INV-5): what the person sees after accepting (for a partner's staff: `partner`)."""

    mirrors = ("identity.Accepted",)

    subscriber_code: str | None = None
    subscriber_name: str | None = None
    its_access: bool = False
    owner: Contact | None = None
    partner: PartnerJoined | None = None


class Invitations(Client):
    async def preview(self, token: str) -> Preview:
        body = await self.service.call("GET", f"/v1/invitations/{segment(token)}")
        return parsed(self.service.name, Preview, body)

    async def accept(self, token: str, access_token: str) -> Accepted:
        body = await self.service.call("POST", f"/v1/invitations/{segment(token)}/accept", token=access_token)
        return parsed(self.service.name, Accepted, body)

    async def register(self, token: str, account: Mapping[str, Any], client_address: str) -> Accepted:
        body = await self.service.call(
            "POST", f"/v1/invitations/{segment(token)}/register", json_body=account, client_address=client_address
        )
        return parsed(self.service.name, Accepted, body)
