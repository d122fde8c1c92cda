"""identity's settings (environment variables `ITS_*`)."""

from __future__ import annotations

from shared.forwarded import TrustedProxies
from shared.settings import DEFAULT_PUBLIC_URL, BaseServiceSettings, PublicUrl


class IdentitySettings(BaseServiceSettings):
    port: int = 8101
    # The system's address as people reach it (ITS_PUBLIC_URL, the gateway): the links in identity's e-mails open
    # the portal's pages there (shared.settings.PublicUrl).
    public_url: PublicUrl = DEFAULT_PUBLIC_URL
    refresh_token_days: int = 30
    # The proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For names the client: the gateway and
    # the portal, which logs people in for their browsers. Logins are throttled per client address.
    trusted_proxies: TrustedProxies = ()
    argon2_memory_kib: int = 19 * 1024
    argon2_time_cost: int = 2
