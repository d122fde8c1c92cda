"""contracts' settings (environment variables `ITS_*`)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import BaseServiceSettings


class ContractsSettings(BaseServiceSettings):
    port: int = 8103
    # Contracts activated (or expired) per transaction when a business day begins.
    process_batch: int = Field(default=2_000, ge=1, le=50_000)
    # Partners' webhooks: seconds to wait for an answer, tries before giving up (with back-off).
    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=12, ge=1)
