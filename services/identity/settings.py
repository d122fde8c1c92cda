"""identity's settings (environment variables `ITS_*`)."""

from __future__ import annotations

from shared.forwarded import TrustedProxies
from shared.settings import BaseServiceSettings


class IdentitySettings(BaseServiceSettings):
    port: int = 8101
    # Base URL of this service as seen by people (links in e-mails).
    public_url: str = "http://127.0.0.1:8101"
    # When set, e-mail links open the portal's pages instead of identity's own endpoints.
    portal_url: str | None = None
    refresh_token_days: int = 30
    # The proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For names the client: the gateway and
    # the portal, which logs people in for their browsers. Logins are throttled per client address.
    trusted_proxies: TrustedProxies = ()
    argon2_memory_kib: int = 19 * 1024
    argon2_time_cost: int = 2
