"""Verified updates: a kit is installed only when ITS Portal's signed update metadata (The Update Framework) vouches
for its exact length and sha256 — not merely because the server that sent it also sent a hash.

`TrustedMetadata` wraps python-tuf's reference client, `tuf.ngclient.Updater`, which does every check TUF's client
workflow requires: root's chain from the root shipped with the program (each new root signed by the old root's keys
and its own), signature thresholds, expiry (a freeze attack), versions never going back (a rollback), and timestamp,
snapshot and targets agreeing with one another (mix-and-match). What it refuses is raised as `MetadataRefused` with
the reason; a kit the metadata does not vouch for as `KitRefused`.

A kit's target path is `configurations/<configuration code>/<version>/<kit name>`, or `platform/<version>/<kit name>`
for a platform kit: the step's configuration and version and the kit's name, as the update plan gives them. The kits
themselves are downloaded through the signed links of the update plan (the entitlement is checked there); this
module only verifies what was downloaded.

ngclient is synchronous (urllib3): from asyncio, run it in a thread —
`await asyncio.to_thread(trusted.verify, path, file)` — and use one `TrustedMetadata` (one cache directory) at a time.

    trusted = TrustedMetadata("https://its.example/tuf/", cache_dir, root=SHIPPED_ROOT)
    trusted.refresh()
    trusted.verify("configurations/Accounting/3.0.43.1/Accounting_3_0_43_1.cfu", downloaded)
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import tuf
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import TargetFile
from tuf.ngclient import Updater, Urllib3Fetcher
from tuf.ngclient._internal.proxy import ProxyEnvironment

__all__ = [
    "KitRefused",
    "MetadataRefused",
    "MetadataUnavailable",
    "NoTrustedRoot",
    "TrustError",
    "TrustedMetadata",
]

MetadataReason = Literal["expired", "rollback", "signature", "mix-and-match", "invalid"]
KitReason = Literal["unknown", "length", "hash"]

# BadVersionNumberError says both "older than what was seen" (a rollback) and "not the version the metadata above it
# names" (mix-and-match); these are ngclient's (tuf 7) words for the second.
_MISMATCHED_VERSION = re.compile(r"^Expected (snapshot version \d+|\S+ v\d+), got")
_MISMATCHED_ROLE = re.compile(r"not part of snapshot|does not contain information")


class TrustError(Exception):
    """Anything that stops a kit from being verified."""


class NoTrustedRoot(TrustError):
    """Neither a root given (the one shipped with the program) nor one trusted before in the cache directory: no
    metadata is trusted on first sight."""


class MetadataUnavailable(TrustError):
    """The metadata could not be fetched (the network, the server; `status` when it answered): nothing was refused,
    try again later."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class MetadataRefused(TrustError):
    """The metadata failed TUF's checks. `reason`: expired (a freeze attack, or a repository nobody signs any more),
    rollback (older than what was seen), signature (a wrong key, too few keys), mix-and-match (files that do not belong
    together), invalid (not TUF metadata)."""

    def __init__(self, reason: MetadataReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: MetadataReason = reason


class KitRefused(TrustError):
    """The kit is not what the metadata vouches for. `reason`: unknown (no such target), length, hash."""

    def __init__(self, reason: KitReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: KitReason = reason


class TrustedMetadata:
    """The signed update metadata at `metadata_url` (the gateway's `/tuf/`, or a mirror's), checked and kept in
    `cache_dir`. `root`: the trusted root shipped with the program (its bytes); None: the one trusted before, in the
    cache. `ca_file`: the certificate authority of a gateway whose certificate is not in the system's store (the
    local stack's self-signed one)."""

    def __init__(
        self,
        metadata_url: str,
        cache_dir: Path,
        root: bytes | None = None,
        *,
        ca_file: Path | None = None,
        user_agent: str | None = None,
    ) -> None:
        if root is None and not (cache_dir / "root.json").exists():
            raise NoTrustedRoot(
                f"no trusted root: give the root shipped with the program (none cached in {cache_dir} either)"
            )
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.metadata_url, self.cache_dir, self._root = metadata_url, cache_dir, root
        self._fetcher = _fetcher(ca_file, user_agent)
        self._updater: Updater | None = None

    def refresh(self) -> None:
        """Fetch and check the newest metadata (root's chain, timestamp, snapshot, targets); MetadataRefused,
        MetadataUnavailable. The delegated roles are fetched as `target` needs them."""
        with _answered():
            updater = Updater(str(self.cache_dir), self.metadata_url, fetcher=self._fetcher, bootstrap=self._root)
            updater.refresh()
        self._updater = updater

    def target(self, target_path: str) -> TargetFile:
        """What the metadata vouches for at `target_path` (length and hashes); refreshed first if it was not yet.
        KitRefused (unknown) when nothing is."""
        if self._updater is None:
            self.refresh()
        assert self._updater is not None
        with _answered():
            found = self._updater.get_targetinfo(target_path)
        if found is None:
            raise KitRefused("unknown", f"the signed metadata has no kit {target_path}")
        return found

    def verify(self, target_path: str, file: Path) -> None:
        """`file` is exactly the kit the metadata vouches for at `target_path`; KitRefused (unknown, length, hash),
        MetadataRefused, MetadataUnavailable otherwise."""
        expected = self.target(target_path)
        with file.open("rb") as content:
            try:
                expected.verify_length_and_hashes(content)
            except tuf_errors.LengthOrHashMismatchError as exc:
                reason: KitReason = "length" if file.stat().st_size != expected.length else "hash"
                raise KitRefused(reason, f"{file} is not the kit {target_path}: {exc}") from None


def _fetcher(ca_file: Path | None, user_agent: str | None) -> Urllib3Fetcher:
    """ngclient's urllib3 fetcher (proxies from the environment, as it handles them), trusting `ca_file` too."""
    fetcher = Urllib3Fetcher(app_user_agent=user_agent)
    if ca_file is not None:
        # Urllib3Fetcher takes no CA: its pool managers (tuf 7's ProxyEnvironment) are made again with urllib3's own
        # `ca_certs`, and the User-Agent it would send.
        agent = f"{user_agent} python-tuf/{tuf.__version__}" if user_agent else f"python-tuf/{tuf.__version__}"
        fetcher._proxy_env = ProxyEnvironment(headers={"User-Agent": agent}, ca_certs=str(ca_file))
    return fetcher


@contextlib.contextmanager
def _answered() -> Iterator[None]:
    """ngclient's exceptions as this module's: what was refused and why, or that nothing could be fetched."""
    try:
        yield
    except (tuf_errors.RepositoryError, tuf_errors.DownloadError) as exc:
        raise _translated(exc) from exc


def _translated(exc: Exception) -> TrustError:
    message = str(exc) or type(exc).__name__
    if isinstance(exc, tuf_errors.DownloadHTTPError):
        return MetadataUnavailable(f"the metadata server answered {exc.status_code}: {message}", exc.status_code)
    if isinstance(exc, tuf_errors.DownloadLengthMismatchError):
        return MetadataRefused("mix-and-match", f"a file longer than the metadata above it says: {message}")
    if isinstance(exc, tuf_errors.DownloadError):
        return MetadataUnavailable(f"the metadata could not be fetched: {message}")
    if isinstance(exc, tuf_errors.ExpiredMetadataError):
        return MetadataRefused("expired", message)
    if isinstance(exc, tuf_errors.UnsignedMetadataError):
        return MetadataRefused("signature", message)
    if isinstance(exc, tuf_errors.LengthOrHashMismatchError):
        return MetadataRefused("mix-and-match", message)
    if isinstance(exc, tuf_errors.BadVersionNumberError):
        return MetadataRefused("mix-and-match" if _MISMATCHED_VERSION.match(message) else "rollback", message)
    if "is missing info for" in message:  # a snapshot that dropped a role it listed before
        return MetadataRefused("rollback", message)
    return MetadataRefused("mix-and-match" if _MISMATCHED_ROLE.search(message) else "invalid", message)
