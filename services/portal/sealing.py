"""What the portal keeps for one browser, sealed: the browser holds a random 256-bit id (a cookie); the table keeps
only a hash of it, and the content is encrypted (AES-GCM) under a key derived from the id and bound to the row by
that hash. A copy of the table alone opens nothing, and no key needs configuring. Sessions (their tokens) and kept
forms (what was typed) use it, each with its own labels."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ID_BYTES = 32
_NONCE_BYTES = 12


def new_id() -> bytes:
    return secrets.token_bytes(ID_BYTES)


def derive(label: str, raw_id: bytes) -> bytes:
    """SHA-256 of the id under a label: the row's key column (`…-id`) or the encryption key (another label)."""
    return hashlib.sha256(f"its-portal/{label}".encode() + b"\0" + raw_id).digest()


def seal(key: bytes, plain: bytes, row: bytes) -> bytes:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plain, row)


def unseal(key: bytes, sealed: bytes, row: bytes) -> bytes:
    """The plain text; `cryptography.exceptions.InvalidTag` when the key or the row is not the sealing one."""
    return AESGCM(key).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], row)


def b64(raw: bytes) -> str:
    """An id as a cookie value (43 characters, URL-safe, unpadded)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(value: str) -> bytes | None:
    """A cookie's id, or None for anything that is not one."""
    if len(value) != 43:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=")
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == ID_BYTES else None
