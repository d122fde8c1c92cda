"""What the signed-link downloads served by this process count, for updates' /metrics.

Downloads that nginx serves itself after `/dl-verify` (deploy/nginx/updates.conf) are counted by nginx, not here.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass(frozen=True)
class DownloadFigures:
    active: Gauge
    sent_bytes: Counter
    downloads: Counter

    @classmethod
    def registered(cls, registry: CollectorRegistry) -> DownloadFigures:
        return cls(
            Gauge("updates_downloads_active", "Kit bodies being sent now by this process", registry=registry),
            Counter(
                "updates_download_bytes",
                "Bytes of kits sent (each range or whole kit counted once it has gone out)",
                registry=registry,
            ),
            Counter(
                "updates_downloads",
                "Kit bodies sent, by outcome (complete, or broken: the connection ended first)",
                ["outcome"],
                registry=registry,
            ),
        )
