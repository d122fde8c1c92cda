"""The storage a service's settings name: content under a directory, or in an S3-compatible bucket."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shared.storage import ContentStorage
from shared.storage.fs import FileSystemStorage
from shared.storage.s3 import S3Credentials, S3Storage

StorageKind = Literal["filesystem", "s3"]


@dataclass(frozen=True)
class S3Bucket:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    region: str
    prefix: str  # one bucket can hold several services' content: "kits/", "attachments/"


def configured_storage(kind: StorageKind, root: Path, s3: S3Bucket) -> ContentStorage:
    """The storage to use; close it with the app (S3 keeps an HTTP session)."""
    if kind == "filesystem":
        return FileSystemStorage(root)
    return S3Storage(
        endpoint=s3.endpoint,
        bucket=s3.bucket,
        credentials=S3Credentials(s3.access_key, s3.secret_key, s3.region),
        prefix=s3.prefix,
    )
