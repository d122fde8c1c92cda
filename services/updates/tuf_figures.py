"""How long until updates' signed update metadata expires, for /metrics: clients refuse expired metadata, so this is
the figure that says the renewal job (tuf_renewal.py) or a root's key holders are late."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Gauge

from services.updates import tuf_store
from services.updates.tuf_roles import TOP_LEVEL
from shared.db import Pool

DELEGATED = "delegated"  # the label of the soonest expiring configuration's (or platform's) role


class MetadataFigures:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.expiry = Gauge(
            "updates_metadata_expiry_seconds",
            "Seconds until the newest signed update metadata (TUF) of a role expires; delegated: the soonest of the "
            "configurations' and the platform's roles. Absent until a root is installed",
            ["role"],
            registry=registry,
        )

    async def sample(self, pool: Pool, now: datetime) -> None:
        async with pool.acquire() as conn:
            roles = await tuf_store.roles(conn)
        soonest: dict[str, float] = {}
        for state in roles:  # soonest first
            label = state.role if state.role in TOP_LEVEL else DELEGATED
            soonest.setdefault(label, (state.expires - now).total_seconds())
        for label, seconds in soonest.items():
            self.expiry.labels(label).set(seconds)
