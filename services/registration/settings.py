"""registration's settings (environment variables `ITS_*`)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pydantic import Field

from shared.settings import BaseServiceSettings, TimeZoneName


class RegistrationSettings(BaseServiceSettings):
    port: int = 8102
    # "Today" (purchase dates, contract months) is the vendor's date in this zone.
    vendor_timezone: TimeZoneName = "Europe/Moscow"
    # REG-1: up to this many numbers are issued in the request that asks for them (about 2 s with PINs); a larger
    # batch is accepted (202) and issued by a deferred job, `issue_chunk` numbers per transaction, with progress.
    issue_at_once: int = Field(default=1_000, ge=1, le=10_000)
    issue_chunk: int = Field(default=500, ge=1, le=10_000)

    @property
    def vendor_zone(self) -> ZoneInfo:
        return ZoneInfo(self.vendor_timezone)
