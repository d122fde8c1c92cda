"""The one-click unsubscribe token of release news (RFC 8058): the account, signed, no login needed.

`u1.<account id, base64url>.<HMAC-SHA256 over the purpose and the account id, base64url>`. It does not
expire: a link in an e-mail read a year later must still work, and all it can do is stop release news
for its own account. `u1` names the format and key, so a new secret can get `u2` while old links still
verify under the old one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid

_VERSION = "u1"
_PURPOSE = b"notifications.release_news.unsubscribe:"
MAX_TOKEN_LENGTH = 100


class BadToken(ValueError):
    """Not a token we signed: malformed, tampered with, or signed with another key."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise BadToken("not base64url") from None


def _mac(secret: bytes, account_id: uuid.UUID) -> bytes:
    return hmac.new(secret, _PURPOSE + account_id.bytes, hashlib.sha256).digest()


def sign(secret: bytes, account_id: uuid.UUID) -> str:
    return f"{_VERSION}.{_b64(account_id.bytes)}.{_b64(_mac(secret, account_id))}"


def verify(secret: bytes, token: str) -> uuid.UUID:
    """The account the token was signed for; BadToken if we did not sign it."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise BadToken("too long")
    version, _, rest = token.partition(".")
    account_part, _, mac_part = rest.partition(".")
    if version != _VERSION or not account_part or not mac_part:
        raise BadToken("not an unsubscribe token")
    account_bytes = _unb64(account_part)
    if len(account_bytes) != 16:
        raise BadToken("not an account id")
    account_id = uuid.UUID(bytes=account_bytes)
    # The whole token against the one we would sign, in constant time: other spellings of the same bytes fail.
    if not hmac.compare_digest(token.encode("ascii", "replace"), sign(secret, account_id).encode("ascii")):
        raise BadToken("the signature does not match")
    return account_id
