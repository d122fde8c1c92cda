"""Short-lived signed download links (UPD-4): HMAC over what the link grants, checked with no database.

A link is `/dl/{sha256}/{name}?kit={kit_id}&sub={subscriber_id}&exp={unix_seconds}&sig={base64url}` where
sig = HMAC-SHA256(secret, "{kit_id}\\n{sha256}\\n{name}\\n{subscriber_id}\\n{exp}"), base64url without '='.
Any replica, nginx's verify endpoint or a CDN holding the secret can check it. The file is found from the
sha256 alone (content-addressed storage), never from a path the client sends.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from shared.problems import Problem

SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
# The same rule as the kits.name column: no '/', no leading dot, nothing to quote in a header.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")
_EXPIRES_PATTERN = re.compile(r"[0-9]{1,12}")
_SIG_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 bytes, base64url, no padding
# Fields are joined with newlines: each one is checked so that none can contain one (no field shifting).
_UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class LinkRejected(Problem):
    """403: the link is malformed, tampered with or expired; the detail says which, nothing more."""

    status, slug, title = 403, "link-rejected", "This download link is not valid"


MALFORMED = "The download link is malformed."
TAMPERED = "The download link's signature does not match."
EXPIRED = "The download link has expired; ask for a new one."


@dataclass(frozen=True)
class LinkClaims:
    kit_id: UUID
    sha256: str
    name: str
    subscriber_id: UUID
    expires: int  # unix seconds

    def remaining_seconds(self, now: float) -> int:
        return max(0, int(self.expires - now))


def sign_link(
    secret: bytes, *, kit_id: UUID | str, sha256: str, name: str, subscriber_id: UUID | str, expires: int
) -> str:
    """The link's path and query (prefix it with the download base URL). ValueError on bad fields."""
    return KitToSign.of(kit_id, sha256, name).link(secret, LinkHolder.of(subscriber_id, expires))


@dataclass(frozen=True)
class LinkHolder:
    """Whose links and until when, checked and written once for every kit of an answer."""

    message: bytes  # the signed message's last two lines
    query: str  # the link's query from the subscriber to the signature

    @classmethod
    def of(cls, subscriber_id: UUID | str, expires: int) -> LinkHolder:
        sub = _canonical_uuid(subscriber_id)
        if not 0 <= expires < 10**12:
            raise ValueError("expires must be unix seconds")
        return cls(f"{sub}\n{expires}".encode(), f"{sub}&exp={expires}&sig=")


@dataclass(frozen=True)
class KitToSign:
    """A kit's fields checked and put in their canonical text once: a kit's links differ only in the subscriber
    and the expiry, and an update plan signs one for every kit of every step."""

    message: bytes  # the signed message's first three lines
    path: str  # the link up to the subscriber

    @classmethod
    def of(cls, kit_id: UUID | str, sha256: str, name: str) -> KitToSign:
        kit = _canonical_uuid(kit_id)
        if not SHA256_PATTERN.fullmatch(sha256):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        if not NAME_PATTERN.fullmatch(name):
            raise ValueError(f"not a kit name: {name!r}")
        # Every field is URL-safe as validated (UUIDs, digits, base64url): no encoding needed.
        return cls(f"{kit}\n{sha256}\n{name}\n".encode(), f"/dl/{sha256}/{name}?kit={kit}&sub=")

    def link(self, secret: bytes, holder: LinkHolder) -> str:
        return self.path + holder.query + _encoded(hmac.digest(secret, self.message + holder.message, "sha256"))


def verify_link(secret: bytes, sha256: str, name: str, query: Mapping[str, str], now: float) -> LinkClaims:
    """The link's claims, or LinkRejected. The signature is checked before the expiry, so only a genuine
    link is ever told it has expired."""
    kit, sub, exp, sig = (query.get(key) for key in ("kit", "sub", "exp", "sig"))
    if (
        kit is None
        or sub is None
        or exp is None
        or sig is None
        or not SHA256_PATTERN.fullmatch(sha256)
        or not NAME_PATTERN.fullmatch(name)
        or not _UUID_PATTERN.fullmatch(kit)
        or not _UUID_PATTERN.fullmatch(sub)
        or not _EXPIRES_PATTERN.fullmatch(exp)
        or not _SIG_PATTERN.fullmatch(sig)
    ):
        raise LinkRejected(MALFORMED)
    # Compared as canonical text, not decoded bytes: base64's two spare bits would let a changed last
    # character decode to the same digest.
    expected = _signature(secret, kit, sha256, name, sub, exp)
    if not hmac.compare_digest(sig.encode(), expected.encode()):
        raise LinkRejected(TAMPERED)
    expires = int(exp)
    if now >= expires:
        raise LinkRejected(EXPIRED)
    return LinkClaims(kit_id=UUID(kit), sha256=sha256, name=name, subscriber_id=UUID(sub), expires=expires)


def _canonical_uuid(value: UUID | str) -> str:
    return str(value if isinstance(value, UUID) else UUID(value))


def _signature(secret: bytes, kit: str, sha256: str, name: str, sub: str, exp: str) -> str:
    return _encoded(hmac.digest(secret, f"{kit}\n{sha256}\n{name}\n{sub}\n{exp}".encode(), "sha256"))


def _encoded(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
