"""contracts' settings (environment variables `ITS_*`)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pydantic import Field

from shared.settings import BaseServiceSettings, TimeZoneName


class ContractsSettings(BaseServiceSettings):
    port: int = 8103
    # ITS-2: business days and "today" are the vendor's, in this zone.
    vendor_timezone: TimeZoneName = "Europe/Moscow"
    # The production calendar: "ru" (shipped, with its overrides file) or a path to a JSON calendar.
    calendar: str = "ru"
    # Contracts activated (or expired) per transaction when a business day begins.
    process_batch: int = Field(default=2_000, ge=1, le=50_000)
    # Partners' webhooks: seconds to wait for an answer, tries before giving up (with back-off).
    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=12, ge=1)

    @property
    def vendor_zone(self) -> ZoneInfo:
        return ZoneInfo(self.vendor_timezone)
