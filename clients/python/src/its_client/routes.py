"""Where each call goes. A system is reached through its gateway (`Routes.gateway(url)`, the default): `/oauth/token`
and `/oauth/revoke` at the root, each service's API under `/api/<service>/`. Tests and tools that run the services
without a gateway give each service's own address instead (`Routes.per_service(...)`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Routes:
    """The base URL of each API the client calls (no trailing slash)."""

    system: str  # the system's public address: the key of the stored login
    oauth: str  # /oauth/token, /oauth/revoke (identity)
    identity: str  # /v1/me
    registration: str  # /v1/registrations (the subscriber's products)
    contracts: str  # /v1/support-status (MON-1)
    updates: str  # /v1/update-plan (UPD-5), /v1/kits/{id}/download, /v1/rates (DAT-1), /v1/forms/updates (DAT-2)
    support: str  # /v1/questions (SUP-1)
    metadata: str  # the signed update metadata (TUF): `<metadata>timestamp.json`, ... (a trailing slash, for ngclient)

    @classmethod
    def gateway(cls, url: str) -> Routes:
        """The layout of the system's gateway (deploy/nginx/gateway.conf) at `url`."""
        base = url.rstrip("/")
        return cls(
            system=base,
            oauth=base,
            identity=f"{base}/api/identity",
            registration=f"{base}/api/registration",
            contracts=f"{base}/api/contracts",
            updates=f"{base}/api/updates",
            support=f"{base}/api/support",
            metadata=f"{base}/tuf/",
        )

    @classmethod
    def per_service(
        cls, *, identity: str, registration: str, contracts: str, updates: str, support: str, system: str | None = None
    ) -> Routes:
        """Each service at its own address (no gateway); `system` (default: identity's) keys the stored login."""
        identity = identity.rstrip("/")
        return cls(
            system=(system or identity).rstrip("/"),
            oauth=identity,
            identity=identity,
            registration=registration.rstrip("/"),
            contracts=contracts.rstrip("/"),
            updates=updates.rstrip("/"),
            support=support.rstrip("/"),
            metadata=f"{updates.rstrip('/')}/tuf/",
        )

    @property
    def token(self) -> str:
        return f"{self.oauth}/oauth/token"

    @property
    def revoke(self) -> str:
        return f"{self.oauth}/oauth/revoke"

    @property
    def me(self) -> str:
        return f"{self.identity}/v1/me"

    @property
    def registrations(self) -> str:
        return f"{self.registration}/v1/registrations"

    @property
    def support_status(self) -> str:
        return f"{self.contracts}/v1/support-status"

    @property
    def update_plan(self) -> str:
        return f"{self.updates}/v1/update-plan"

    @property
    def rates(self) -> str:
        return f"{self.updates}/v1/rates"

    @property
    def form_updates(self) -> str:
        return f"{self.updates}/v1/forms/updates"

    @property
    def questions(self) -> str:
        return f"{self.support}/v1/questions"

    def attachment(self, question_id: str, name: str) -> str:
        return f"{self.support}/v1/questions/{quote(question_id, safe='')}/attachments/{quote(name, safe='')}"
