"""identity's partners as the operator cabinet and a partner's own cabinet use them: the partner, its staff and
the API clients of its systems, and taking access away (a client revoked, a person removed, the partner
deactivated). identity decides who may: operators, and for their own partner its admins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from services.portal.clients.answers import Answer, Client, Listed
from services.portal.clients.identity import Partner


class StaffMember(Answer):
    """identity's PartnerUserOut."""

    mirrors = ("identity.PartnerUserOut",)

    account_id: str
    login: str
    full_name: str | None = None
    email: str
    admin: bool
    joined_at: str


class ApiClient(Answer):
    """identity's ClientOut: an API client of the partner's systems."""

    mirrors = ("identity.ClientOut",)

    client_id: str
    name: str
    created_at: str
    revoked_at: str | None = None


class ApiClientCreated(ApiClient):
    """identity's ClientCreated: the secret, in this answer only (identity keeps its hash)."""

    mirrors = ("identity.ClientCreated",)

    client_secret: str


class Partners(Client):
    async def partners(self, token: str, query: Mapping[str, str]) -> Listed[Partner]:
        """A page of the partners (`query`: q, state, sort, limit, cursor)."""
        return await self.get(Listed[Partner], "/v1/partners?" + urlencode(query), token)

    async def create(self, token: str, body: Mapping[str, Any]) -> Partner:
        return await self.send(Partner, "POST", "/v1/partners", token, body)

    async def partner(self, token: str, partner_id: str) -> Partner:
        return await self.get(Partner, _p(partner_id), token)

    async def set_active(self, token: str, partner_id: str, action: str) -> None:
        """`action`: deactivate or reactivate."""
        await self.service.call("POST", _p(partner_id, f"/{action}"), token=token)

    async def staff(self, token: str, partner_id: str, query: Mapping[str, str]) -> Listed[StaffMember]:
        """A page of the partner's staff (`query`: q, sort, limit, cursor)."""
        return await self.get(Listed[StaffMember], _p(partner_id, "/users?" + urlencode(query)), token)

    async def staff_member(self, token: str, partner_id: str, account_id: str) -> StaffMember:
        return await self.get(StaffMember, _p(partner_id, f"/users/{account_id}"), token)

    async def invite(self, token: str, partner_id: str, body: Mapping[str, Any]) -> None:
        await self.service.call("POST", _p(partner_id, "/invitations"), token=token, json_body=body)

    async def remove(self, token: str, partner_id: str, account_id: str) -> None:
        await self.service.call("DELETE", _p(partner_id, f"/users/{account_id}"), token=token)

    async def clients(self, token: str, partner_id: str) -> list[ApiClient]:
        return (await self.get(Listed[ApiClient], _p(partner_id, "/clients"), token)).items

    async def create_client(self, token: str, partner_id: str, name: str) -> ApiClientCreated:
        return await self.send(ApiClientCreated, "POST", _p(partner_id, "/clients"), token, {"name": name})

    async def revoke_client(self, token: str, partner_id: str, client_id: str) -> None:
        await self.service.call("POST", _p(partner_id, f"/clients/{client_id}/revoke"), token=token)


def _p(partner_id: str, rest: str = "") -> str:
    """Ids are canonical uuids (pages.base.path_uuid) before they get here."""
    return f"/v1/partners/{partner_id}{rest}"
