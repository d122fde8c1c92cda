"""registration's settings (environment variables `ITS_*`)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from shared.settings import BaseServiceSettings, TimeZoneName


class RegistrationSettings(BaseServiceSettings):
    port: int = 8102
    # "Today" (purchase dates, contract months) is the vendor's date in this zone.
    vendor_timezone: TimeZoneName = "Europe/Moscow"

    @property
    def vendor_zone(self) -> ZoneInfo:
        return ZoneInfo(self.vendor_timezone)
