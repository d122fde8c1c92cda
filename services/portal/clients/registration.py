"""registration's registrations as the portal uses them: a subscriber's products (REG-2, REG-3) registered with a
PIN (REG-7), the configurations they give access to (REG-6), and a partner's authorisation (REG-5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.portal.clients.answers import Answer, Client, Listed
from services.portal.clients.catalogue import ProductRef


class Registration(Answer):
    """registration's RegistrationOut."""

    mirrors = ("registration.RegistrationOut",)

    registration_number: str
    product: ProductRef
    state: str  # pending, active (REG-3)
    active_from: str
    registered_by: str
    partner: str | None = None  # the authorising partner's name (REG-5)


class Offer(Answer):
    """registration's Offer (REG-6): the products that give a configuration."""

    mirrors = ("registration.Offer",)

    how: str
    products: list[ProductRef]


class ConfigurationAccess(Answer):
    """registration's ConfigurationAccess."""

    mirrors = ("registration.ConfigurationAccess",)

    code: str
    name: str
    registered: bool
    pending_from: str | None = None  # registered, access starting then (REG-3)
    offer: Offer | None = None


class Registrations(Client):
    async def registrations(self, token: str) -> list[Registration]:
        return (await self.get(Listed[Registration], "/v1/registrations", token)).items

    async def register_with_pin(self, token: str, body: Mapping[str, Any]) -> Registration:
        return await self.send(Registration, "POST", "/v1/registrations/pin", token, body)

    async def configuration_access(self, token: str) -> list[ConfigurationAccess]:
        return (await self.get(Listed[ConfigurationAccess], "/v1/configurations/access", token)).items

    async def authorise(self, token: str, body: Mapping[str, Any]) -> Registration:
        """REG-5, with the cabinet's partner token."""
        return await self.send(Registration, "POST", "/v1/registrations/partner", token, body)
