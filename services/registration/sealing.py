"""A deferred batch's PINs, sealed to a key only the operator who asked for the batch holds (REG-2), pure.

A PIN is shown once, to that operator. A large batch is issued by a deferred job, so its PINs must wait
somewhere until the operator fetches them: they wait sealed (X25519 + HKDF-SHA256 + AES-256-GCM, an
ECIES-style box per chunk) to the batch's public key, whose private half went to the operator in the answer
that accepted the batch and is kept nowhere here. The database never holds a PIN it can read: a copy of it
opens none, as for the small batches whose PINs only pass through the answer. The sealed chunks are deleted
when they are delivered.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

KEY_TEXT_LENGTH = 43  # 32 bytes, base64url without padding
_INFO = b"its-portal registration batch pins v1"

Issued = list[tuple[str, str | None]]  # (registration number, PIN or None)


class WrongKey(Exception):
    """The key does not open this batch's PINs (not its key, or not a key at all)."""


@dataclass(frozen=True)
class Sealed:
    ephemeral_key: bytes  # X25519 public key of this chunk's one-time key pair
    nonce: bytes
    box: bytes  # AES-GCM ciphertext and tag of the chunk's rows (JSON)


def new_batch_key() -> tuple[bytes, str]:
    """(the public key to keep with the batch, the private key as text for the operator, shown once)."""
    private = X25519PrivateKey.generate()
    raw = private.private_bytes_raw()
    return _public_bytes(private.public_key()), base64.urlsafe_b64encode(raw).decode().rstrip("=")


def seal(public_key: bytes, batch_id: uuid.UUID, chunk: int, rows: Issued) -> Sealed:
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = _public_bytes(ephemeral.public_key())
    key = _box_key(ephemeral.exchange(X25519PublicKey.from_public_bytes(public_key)), ephemeral_public, public_key)
    nonce = os.urandom(12)
    plain = json.dumps(rows, separators=(",", ":")).encode()
    return Sealed(ephemeral_public, nonce, AESGCM(key).encrypt(nonce, plain, _context(batch_id, chunk)))


def open_sealed(private_key: str, batch_id: uuid.UUID, chunk: int, sealed: Sealed) -> Issued:
    """The chunk's rows; WrongKey if `private_key` is not the batch's."""
    private = _private_key(private_key)
    public = _public_bytes(private.public_key())
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(sealed.ephemeral_key))
        plain = AESGCM(_box_key(shared, sealed.ephemeral_key, public)).decrypt(
            sealed.nonce, sealed.box, _context(batch_id, chunk)
        )
    except (InvalidTag, ValueError):
        raise WrongKey from None
    return [(str(number), None if pin is None else str(pin)) for number, pin in json.loads(plain)]


def opens(private_key: str, public_key: bytes) -> bool:
    """Whether `private_key` is the private half of `public_key` (checked before anything is opened)."""
    try:
        return _public_bytes(_private_key(private_key).public_key()) == public_key
    except WrongKey:
        return False


def _private_key(text: str) -> X25519PrivateKey:
    if len(text) != KEY_TEXT_LENGTH:
        raise WrongKey
    try:
        return X25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(text + "="))
    except (binascii.Error, ValueError):
        raise WrongKey from None


def _public_bytes(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _box_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral_public + recipient_public, info=_INFO).derive(
        shared
    )


def _context(batch_id: uuid.UUID, chunk: int) -> bytes:
    """Bound into each box: a chunk cannot be passed off as another batch's or another chunk's."""
    return batch_id.bytes + chunk.to_bytes(4, "big")
