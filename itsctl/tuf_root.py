"""The offline side of updates' signed update metadata (TUF, issue 21): the keys, and root, the metadata that says
which keys sign what. What `itsctl tuf` does, as functions (devtools' local stack makes its keys with them too).

A key directory holds:

    root/root-<keyid>.pem         root's private keys: OFFLINE. In production each on its own hardware token or
                                  encrypted medium with its own holder; never on a server. Retired: root/retired/.
    online/<role>-<keyid>.pem     the online roles' private keys (targets, snapshot, timestamp, a configuration's role
                                  once rotated) and delegations.pem (the key a configuration's first release is
                                  delegated to): the service's ITS_TUF_KEYS_DIR (in Kubernetes a Secret).
    metadata/<n>.root.json        every root version signed so far, installed into the service in order.

Keys are ed25519, PKCS#8 PEM. Root's are encrypted with ITS_TUF_ROOT_PASSPHRASE when it is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    KeySerializationEncryption,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Root
from tuf.api.serialization.json import JSONSerializer

from services.updates.public import TUF_DELEGATIONS_KEY_FILE, TUF_ONLINE_ROLES, is_delegated_tuf_role

ROOT_EXPIRY = timedelta(days=365)
PASSPHRASE_ENV = "ITS_TUF_ROOT_PASSPHRASE"  # noqa: S105 (the variable's name)
PRETTY = JSONSerializer(compact=False)


class TufError(Exception):
    """Something about the key directory or a root that the operator must fix; the message says what."""


@dataclass(frozen=True)
class KeyDirectory:
    path: Path

    @property
    def root_keys(self) -> Path:
        return self.path / "root"

    @property
    def online(self) -> Path:
        return self.path / "online"

    @property
    def metadata(self) -> Path:
        return self.path / "metadata"

    def root_file(self, version: int) -> Path:
        return self.metadata / f"{version}.root.json"

    def roots(self) -> list[Path]:
        """Every signed root, in version order."""
        found = [(int(p.name.split(".")[0]), p) for p in self.metadata.glob("*.root.json") if p.name[0].isdigit()]
        return [p for _, p in sorted(found)]

    def newest_root(self) -> Metadata[Root]:
        roots = self.roots()
        if not roots:
            raise TufError(f"no root in {self.metadata}: run `itsctl tuf init` first")
        return read_root(roots[-1])


def read_root(path: Path) -> Metadata[Root]:
    try:
        md = Metadata[Root].from_bytes(path.read_bytes())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TufError(f"{path}: not root metadata ({exc})") from None
    if not isinstance(md.signed, Root):
        raise TufError(f"{path}: not root metadata")
    return md


def write_root(directory: KeyDirectory, md: Metadata[Root]) -> Path:
    path = directory.root_file(md.signed.version)
    directory.metadata.mkdir(parents=True, exist_ok=True)
    path.write_bytes(md.to_bytes(PRETTY))
    return path


# ---- keys ---------------------------------------------------------------------------------------------------------


def new_key(directory: Path, role: str, *, encrypted: bool = False) -> CryptoSigner:
    """A new ed25519 key for `role`, written to `directory`/<role>-<keyid>.pem (mode 0600)."""
    private = Ed25519PrivateKey.generate()
    signer = CryptoSigner(private)
    _write_key(directory / f"{role}-{signer.public_key.keyid[:16]}.pem", private, encrypted=encrypted)
    return signer


def _write_key(path: Path, private: Ed25519PrivateKey, *, encrypted: bool) -> None:
    encryption: KeySerializationEncryption = NoEncryption()
    if encrypted:
        encryption = BestAvailableEncryption(_passphrase())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never over an existing key
    with os.fdopen(fd, "wb") as out:
        out.write(private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption))


def read_key(path: Path) -> CryptoSigner:
    data = path.read_bytes()
    try:
        password = _passphrase() if b"ENCRYPTED" in data else None
        return CryptoSigner(load_pem_private_key(data, password=password))
    except (ValueError, TypeError) as exc:
        raise TufError(f"{path}: cannot read the private key ({exc})") from None


def keys_in(directory: Path) -> dict[str, CryptoSigner]:
    """The keys of the `*.pem` files of a directory, by keyid."""
    keys = (read_key(path) for path in sorted(directory.glob("*.pem")))
    return {signer.public_key.keyid: signer for signer in keys}


def _passphrase() -> bytes:
    value = os.environ.get(PASSPHRASE_ENV)
    if not value:
        raise TufError(f"root keys are (to be) encrypted: set {PASSPHRASE_ENV}")
    return value.encode()


# ---- root -----------------------------------------------------------------------------------------------------


def init(directory: KeyDirectory, root_keys: int, threshold: int, expires: datetime) -> Path:
    """Root's keys (`root_keys` of them, `threshold` needed), one key for each online role and delegations.pem, and
    1.root.json signed by every root key. Refused when the directory holds a root already."""
    if not 1 <= threshold <= root_keys:
        raise TufError(f"the threshold must be between 1 and the number of root keys ({root_keys})")
    if directory.roots():
        raise TufError(f"{directory.metadata} holds a root already: rotate, do not init again")
    encrypted = bool(os.environ.get(PASSPHRASE_ENV))
    root = Root(expires=expires, consistent_snapshot=True)
    signers = [new_key(directory.root_keys, "root", encrypted=encrypted) for _ in range(root_keys)]
    for signer in signers:
        root.add_key(signer.public_key, "root")
    root.roles["root"].threshold = threshold
    for role in TUF_ONLINE_ROLES:
        root.add_key(new_key(directory.online, role).public_key, role)
    private = Ed25519PrivateKey.generate()
    _write_key(directory.online / TUF_DELEGATIONS_KEY_FILE, private, encrypted=False)
    md = Metadata(root)
    for signer in signers:
        md.sign(signer, append=True)
    return write_root(directory, md)


def next_root(current: Metadata[Root], expires: datetime) -> Metadata[Root]:
    """The next version of `current`'s root, unsigned, expiring at `expires`."""
    root = Metadata[Root].from_bytes(current.to_bytes()).signed
    root.version += 1
    root.expires = expires
    return Metadata(root)


def rotate_root_keys(directory: KeyDirectory, md: Metadata[Root], replace: Iterable[str]) -> list[CryptoSigner]:
    """Replace root keys (`replace`: keyid prefixes; all of them when empty) with as many new ones, in `md` (the next
    root); the threshold stays. The old private keys move to root/retired/ once the new root is written."""
    root = md.signed
    old = list(root.roles["root"].keyids)
    chosen = [keyid for keyid in old if any(keyid.startswith(prefix) for prefix in replace)] if replace else old
    if not chosen:
        raise TufError(f"no root key starts with {', '.join(replace)}")
    encrypted = bool(os.environ.get(PASSPHRASE_ENV))
    added = []
    for keyid in chosen:
        root.revoke_key(keyid, "root")
        signer = new_key(directory.root_keys, "root", encrypted=encrypted)
        root.add_key(signer.public_key, "root")
        added.append(signer)
    return added


def rotate_online_key(directory: KeyDirectory, md: Metadata[Root], role: str) -> CryptoSigner:
    """A new key for an online top-level role (targets, snapshot, timestamp) in `md` (the next root), in place of its
    keys; written to online/ beside the old one, which the service keeps using until the new root is installed."""
    root = md.signed
    for keyid in list(root.roles[role].keyids):
        root.revoke_key(keyid, role)
    signer = new_key(directory.online, role)
    root.add_key(signer.public_key, role)
    return signer


def sign_root(md: Metadata[Root], signers: Iterable[CryptoSigner], previous: Root | None) -> list[str]:
    """Add the signatures of those of `signers` that `md`'s root or `previous` names for root (a new root must meet
    both thresholds: the chain clients follow); the keyids that signed."""
    named = set(md.signed.roles["root"].keyids) | (set(previous.roles["root"].keyids) if previous else set())
    signed = []
    for signer in signers:
        if signer.public_key.keyid in named:
            md.sign(signer, append=True)
            signed.append(signer.public_key.keyid)
    return signed


@dataclass(frozen=True)
class Verdict:
    """How far a root is signed: by how many of its own root keys and of the previous root's (thresholds)."""

    own: tuple[int, int]
    previous: tuple[int, int] | None

    @property
    def complete(self) -> bool:
        return all(signed >= needed for signed, needed in (self.own, *([self.previous] if self.previous else [])))

    def line(self) -> str:
        text = f"signed by {self.own[0]} of the {self.own[1]} needed of its own root keys"
        if self.previous:
            text += f" and {self.previous[0]} of the {self.previous[1]} needed of the previous root's"
        return text


def verdict(md: Metadata[Root], previous: Root | None) -> Verdict:
    result = md.signed.get_root_verification_result(previous, md.signed_bytes, md.signatures)
    own = (len(result.second.signed), result.second.threshold)
    before = (len(result.first.signed), result.first.threshold) if previous is not None else None
    return Verdict(own, before)


def previous_root(directory: KeyDirectory, md: Metadata[Root]) -> Root | None:
    if md.signed.version == 1:
        return None
    path = directory.root_file(md.signed.version - 1)
    if not path.is_file():
        raise TufError(f"{path} is missing: a root is verified against the one before it")
    return read_root(path).signed


def retire_root_keys(directory: KeyDirectory, keyids: Iterable[str]) -> list[Path]:
    """Move the private keys of `keyids` to root/retired/ (kept: an audit may ask what signed an old root)."""
    moved = []
    retired = directory.root_keys / "retired"
    for keyid in keyids:
        for path in directory.root_keys.glob(f"root-{keyid[:16]}.pem"):
            retired.mkdir(exist_ok=True)
            path.rename(retired / path.name)
            moved.append(retired / path.name)
    return moved


def check_role(role: str) -> str:
    if role in ("root", *TUF_ONLINE_ROLES) or is_delegated_tuf_role(role):
        return role
    raise TufError(f"no role {role!r}: root, targets, snapshot, timestamp, platform or configuration.<code>")


def now() -> datetime:
    return datetime.now(UTC)
