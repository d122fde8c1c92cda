"""portal's settings (environment variables `ITS_*`)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from shared.forwarded import TrustedProxies
from shared.settings import BaseServiceSettings


@dataclass(frozen=True)
class Support:
    email: str
    phone: str
    phone_href: str  # the number for a tel: link


class PortalSettings(BaseServiceSettings):
    port: int = 8080
    # The services the portal calls with the user's own access token.
    identity_url: str = "http://127.0.0.1:8101"
    registration_url: str = "http://127.0.0.1:8102"
    contracts_url: str = "http://127.0.0.1:8103"
    updates_url: str = "http://127.0.0.1:8104"
    notifications_url: str = "http://127.0.0.1:8105"
    support_url: str = "http://127.0.0.1:8106"
    # Seconds to wait for a service before showing the "temporarily unavailable" page.
    service_timeout: float = Field(default=10.0, gt=0)
    # The session cookie is `__Host-its_session` and Secure whenever a request came over https (the gateway, a
    # trusted proxy, says so: services/portal/sessions.py); on: always, whatever the proxy says. Plain-http local
    # development without the gateway gets `its_session` (browsers refuse `__Host-` cookies without Secure).
    portal_secure_cookies: bool = False
    # The proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For names the client: the gateway. The
    # portal passes the browser's address on to identity (which must trust the portal), which throttles logins
    # per address.
    trusted_proxies: TrustedProxies = ()
    # A session ends after this much inactivity, and in any case this long after it began (wall-clock time).
    session_idle_minutes: int = Field(default=12 * 60, ge=1)
    session_max_hours: int = Field(default=7 * 24, ge=1)
    # A visitor's session before logging in (it holds the language and the CSRF secret of the forms).
    anonymous_session_minutes: int = Field(default=2 * 60, ge=1)
    # The vendor's support desk, in every page's footer and on Help and the legal pages.
    support_email: str = "support@its-portal.dev"
    support_phone: str = "+7 800 000-00-00"
    # The vendor's own legal documents, where it has them; by default the portal's pages (/legal/terms,
    # /legal/privacy), which say what this system does with an account and its data.
    terms_url: str = "/legal/terms"
    privacy_url: str = "/legal/privacy"

    @property
    def support(self) -> Support:
        digits = "".join(c for c in self.support_phone if c.isdigit())
        international = self.support_phone.lstrip().startswith("+")  # "8 800 …" is dialled as written in Russia
        return Support(self.support_email, self.support_phone, f"+{digits}" if international else digits)
