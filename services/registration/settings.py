"""registration's settings (environment variables `ITS_*`)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import BaseServiceSettings


class RegistrationSettings(BaseServiceSettings):
    port: int = 8102
    # REG-1: up to this many numbers are issued in the request that asks for them (about 2 s with PINs); a larger
    # batch is accepted (202) and issued by a deferred job, `issue_chunk` numbers per transaction, with progress.
    issue_at_once: int = Field(default=1_000, ge=1, le=10_000)
    issue_chunk: int = Field(default=500, ge=1, le=10_000)
