"""The links identity mails (verification, password reset, invitation, e-mail change): the portal's pages, at the
system's public address (ITS_PUBLIC_URL), which take the token from the link and call identity's API with it."""

from __future__ import annotations

from dataclasses import dataclass

from services.identity.settings import IdentitySettings
from shared.settings import public_link

# The portal's pages behind the links (services/portal/pages/auth.py, invitations.py and account.py).
VERIFY_EMAIL_PAGE = "/verify-email"
RESET_PAGE = "/reset-password"
INVITATION_PAGE = "/invitation"
EMAIL_CHANGE_PAGE = "/confirm-email"


@dataclass(frozen=True)
class EmailLinks:
    public_url: str  # the system's address as people reach it

    @classmethod
    def of(cls, settings: IdentitySettings) -> EmailLinks:
        return cls(settings.public_url)

    def verify_email(self, token: str) -> str:
        return self._link(VERIFY_EMAIL_PAGE, token)

    def reset_password(self, token: str) -> str:
        return self._link(RESET_PAGE, token)

    def invitation(self, token: str) -> str:
        return self._link(INVITATION_PAGE, token)

    def confirm_email_change(self, token: str) -> str:
        return self._link(EMAIL_CHANGE_PAGE, token)

    def _link(self, page: str, token: str) -> str:
        # Tokens are base64url (secrets.token_urlsafe): nothing to quote.
        return public_link(self.public_url, f"{page}?token={token}")
