"""The links identity mails (verification, password reset, invitation): to the portal's pages when it has one."""

from __future__ import annotations

from dataclasses import dataclass

from services.identity.settings import IdentitySettings


@dataclass(frozen=True)
class EmailLinks:
    public_url: str  # this service, as people reach it
    portal_url: str | None = None  # the portal, whose pages then open the links

    @classmethod
    def of(cls, settings: IdentitySettings) -> EmailLinks:
        return cls(settings.public_url, settings.portal_url)

    def verify_email(self, token: str) -> str:
        return self._link("verify-email", "/v1/email-verifications", token)

    def reset_password(self, token: str) -> str:
        return self._link("reset-password", "/v1/password-resets", token)

    def invitation(self, token: str) -> str:
        return self._link("invitation", "/v1/invitations", token)

    def _link(self, portal_page: str, own_path: str, token: str) -> str:
        if self.portal_url:
            return f"{self.portal_url.rstrip('/')}/{portal_page}?token={token}"
        return f"{self.public_url.rstrip('/')}{own_path}/{token}"
