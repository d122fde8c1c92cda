"""updates' settings (environment variables `ITS_*`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from shared.settings import DEFAULT_PUBLIC_URL, BaseServiceSettings, PublicUrl

DEV_LINK_SECRET = "dev-only-download-link-secret-change-me"  # noqa: S105 (refused in production)


class UpdatesSettings(BaseServiceSettings):
    port: int = 8104
    # Release drafts and articles carry long Markdown (change lists); kits stream past this limit.
    client_max_size: int = 1024 * 1024
    # Kits are stored by content (sha256) under this directory ("filesystem"), or in an S3-compatible bucket.
    kit_storage: Literal["filesystem", "s3"] = "filesystem"
    kits_dir: Path = Path("var/kits")  # default: <var_dir>/kits
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_region: str = "us-east-1"
    # Signed download links (UPD-4): HMAC key shared by every replica (and nginx's verifier), link lifetime.
    download_link_secret: SecretStr = SecretStr(DEV_LINK_SECRET)
    download_link_seconds: int = Field(default=600, ge=10, le=86_400)
    # The system's address as people reach it (ITS_PUBLIC_URL, the gateway): signed links are `<it>/dl/…`, which
    # the gateway serves from the kits' storage after asking this service to verify the link (deploy/nginx).
    public_url: PublicUrl = DEFAULT_PUBLIC_URL
    # Keygen's alternative to UPD-4's "current month": releases published while the subscriber was covered
    # stay downloadable after the coverage ends. Off: the source document's rule is the current month.
    keep_covered_releases: bool = False
    # Kit uploads are streamed to storage; this caps one kit's size.
    max_kit_bytes: int = Field(default=8 * 1024**3, ge=1)
    # Signed update metadata (TUF, issue 21): the directory of the online signing keys (targets, snapshot, timestamp,
    # delegations.pem and any delegated role's own: PKCS#8 PEM files, in production a Kubernetes Secret mounted
    # read-only). Unset: the metadata is not maintained and /tuf/ answers 404. Root's keys never come here.
    tuf_keys_dir: Path | None = None
    # Exchange rates (DAT-1): the bank's daily file, fetched once a day by a deferred job; `{date}` is replaced by
    # the day asked for as DD/MM/YYYY (the bank's `XML_daily.asp?date_req=`). Empty: no fetching (an import only).
    rates_url: str = ""
    # A rates file sent to `POST /v1/rates/imports` is read whole (a dynamic file of 34 years is ~1 MB; a CSV of
    # every currency since 1991 some 20 MB).
    max_rates_file_bytes: int = Field(default=64 * 1024**2, ge=1)

    @model_validator(mode="after")
    def _kits_under_var_dir(self) -> UpdatesSettings:
        if "kits_dir" not in self.model_fields_set:
            self.kits_dir = self.var_dir / "kits"
        return self

    @model_validator(mode="after")
    def _production_secret(self) -> UpdatesSettings:
        if self.is_production and self.download_link_secret.get_secret_value() in ("", DEV_LINK_SECRET):
            raise ValueError("set ITS_DOWNLOAD_LINK_SECRET (32+ random bytes) in production")
        if len(self.download_link_secret.get_secret_value()) < 16:
            raise ValueError("ITS_DOWNLOAD_LINK_SECRET must be at least 16 characters")
        return self
