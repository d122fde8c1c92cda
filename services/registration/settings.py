"""registration's settings (environment variables `ITS_*`)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator

from shared.settings import BaseServiceSettings


class RegistrationSettings(BaseServiceSettings):
    port: int = 8102
    # "Today" (purchase dates, contract months) is the vendor's date in this zone.
    vendor_timezone: str = "Europe/Moscow"

    @field_validator("vendor_timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}, e.g. 'Europe/Moscow'") from None
        return value

    @property
    def vendor_zone(self) -> ZoneInfo:
        return ZoneInfo(self.vendor_timezone)
