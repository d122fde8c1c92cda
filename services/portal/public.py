"""What outsiders may use of the portal: the benchmarks import this module only.

When the portal's insides move, this is the one file to update.
"""

from __future__ import annotations

from pathlib import Path

from services.portal import app
from services.portal.sessions import PLAIN_COOKIE, Tokens, _id_hash, _seal, _unb64

__all__ = ["PLAIN_COOKIE", "Tokens", "database", "sealed_tokens"]


def database() -> tuple[Path, str]:
    """The portal's migrations and its schema: what a throwaway database (the benchmarks) is migrated with."""
    return app.MIGRATIONS, app.SCHEMA


def sealed_tokens(cookie: str, tokens: Tokens) -> tuple[bytes, bytes] | None:
    """(id_hash, sealed tokens) of the session row behind a session cookie's value, as the portal stores them;
    None if the value is not a session id. Lets a benchmark give a real session another access token."""
    raw = _unb64(cookie)
    if raw is None:
        return None
    id_hash = _id_hash(raw)
    return id_hash, _seal(raw, id_hash, tokens)
