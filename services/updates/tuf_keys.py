"""The online signing keys of updates' TUF metadata: targets, the delegated roles, snapshot and timestamp.

They are every `*.pem` file in ITS_TUF_KEYS_DIR (PKCS#8 private keys, as `itsctl tuf init` and `rotate` write them:
in production the files of a Kubernetes Secret mounted there, locally var/tuf/online). Root's keys are never among
them: root is signed offline, and the service only stores and serves what root's key holders signed.

Which key signs which role is not said by the file names but by the metadata: a role is signed with every key the
service holds that its delegator (root for targets, snapshot and timestamp; targets for a configuration's role)
names for it. A rotation therefore never races the deployment of its key: the new key is added to the directory
first, and the service starts using it when the metadata that names it is installed. `delegations.pem` is one more
thing: the key a newly delegated role (a configuration's first release) is given.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner, Key, Signer

from services.updates.tuf_roles import DELEGATIONS_KEY_FILE


class KeysMissing(Exception):
    """The service holds too few of the keys a role must be signed with."""

    def __init__(self, role: str, needed: int, keyids: list[str]) -> None:
        self.role, self.needed, self.keyids = role, needed, keyids
        super().__init__(
            f"{role} needs {needed} signature(s) by the keys {', '.join(k[:12] for k in keyids)}; "
            "this service holds too few of them (ITS_TUF_KEYS_DIR)"
        )


class OnlineKeys:
    """The keys of `directory` (None: none configured, the metadata is not maintained), by keyid. Read when made and
    read again when a key asked for is not among them (a rotated key deployed since): a few small files, read on the
    event loop's thread like the settings are."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._signers: dict[str, CryptoSigner] = {}
        self._delegation_keyid: str | None = None
        if directory is not None:
            self._read()

    @property
    def configured(self) -> bool:
        return self.directory is not None

    @property
    def keyids(self) -> list[str]:
        return sorted(self._signers)

    def signers(self, role: str, keyids: list[str], threshold: int) -> list[Signer]:
        """The signers among `keyids`; KeysMissing when fewer than `threshold` are held."""
        if self.directory is not None and any(keyid not in self._signers for keyid in keyids):
            self._read()
        held: list[Signer] = [self._signers[keyid] for keyid in keyids if keyid in self._signers]
        if len(held) < threshold:
            raise KeysMissing(role, threshold, keyids)
        return held

    def public_key(self, keyid: str) -> Key | None:
        """The public half of a key this process holds (read again when it is not among them)."""
        if keyid not in self._signers and self.directory is not None:
            self._read()
        signer = self._signers.get(keyid)
        return signer.public_key if signer is not None else None

    def delegation_key(self) -> Key:
        """The public key a newly delegated role is given (delegations.pem)."""
        if self._delegation_keyid is None and self.directory is not None:
            self._read()
        if self._delegation_keyid is None:
            raise KeysMissing("a new delegated role", 1, [])
        return self._signers[self._delegation_keyid].public_key

    def _read(self) -> None:
        """Every key of the directory; a file that is no private key stops the service (a Secret mounted wrong)."""
        assert self.directory is not None
        if not self.directory.is_dir():
            raise ValueError(f"ITS_TUF_KEYS_DIR {self.directory} is not a directory")
        signers: dict[str, CryptoSigner] = {}
        delegation = None
        for path in sorted(self.directory.glob("*.pem")):
            try:
                signer = CryptoSigner(load_pem_private_key(path.read_bytes(), password=None))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{path} is not an unencrypted PKCS#8 private key: {exc}") from None
            signers[signer.public_key.keyid] = signer
            if path.name == DELEGATIONS_KEY_FILE:
                delegation = signer.public_key.keyid
        self._signers, self._delegation_keyid = signers, delegation
