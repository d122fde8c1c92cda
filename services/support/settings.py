"""support's settings (environment variables `ITS_*`)."""

from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from shared.settings import BaseServiceSettings
from shared.storage.configured import S3Bucket, StorageKind


class SupportSettings(BaseServiceSettings):
    port: int = 8106
    # A question's body is Markdown of at most MAX_BODY characters; attachments stream past this limit.
    client_max_size: int = 256 * 1024
    # SUP-2: a search of 10,000 characters (60 kB in a URL, in Cyrillic) reaches the handler, which refuses it
    # naming `q` (422), instead of the HTTP parser's bare 400.
    max_request_line: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)
    # Business hours and "the current month" (ITS-7) are the vendor's: ITS_VENDOR_TIMEZONE and the production
    # calendar ITS_CALENDAR, as every service reads them (shared/settings.py).
    # SUP-1: a first answer is due within this many business hours of the question, counted within working hours.
    support_first_response_hours: int = Field(default=8, ge=1, le=1000)
    support_opens: time = time(9, 0)
    support_closes: time = time(18, 0)
    # A closed question may be reopened by its asker for this many days.
    support_reopen_days: int = Field(default=14, ge=1, le=365)
    # Attachments: at most this many per question, each at most this size; stored by content (sha256) under a
    # directory ("filesystem") or in an S3-compatible bucket, as updates' kits are.
    max_attachment_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_attachments: int = Field(default=10, ge=1, le=1000)
    attachment_storage: StorageKind = "filesystem"
    attachments_dir: Path = Path("var/attachments")  # default: <var_dir>/attachments
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_region: str = "us-east-1"

    @property
    def s3(self) -> S3Bucket:
        return S3Bucket(
            self.s3_endpoint,
            self.s3_bucket,
            self.s3_access_key.get_secret_value(),
            self.s3_secret_key.get_secret_value(),
            self.s3_region,
            prefix="attachments/",
        )

    @model_validator(mode="after")
    def _attachments_under_var_dir(self) -> SupportSettings:
        if "attachments_dir" not in self.model_fields_set:
            self.attachments_dir = self.var_dir / "attachments"
        if self.support_closes <= self.support_opens:
            raise ValueError("ITS_SUPPORT_CLOSES must be after ITS_SUPPORT_OPENS")
        return self
