"""Keyset (cursor) pagination: a list answers `next_cursor`, the position after its last item, and the next page
starts there. Cursors are opaque to clients (base64url of `<kind>:<parts>`), so a list can change its key without
breaking them; one that is not ours is a 422 naming the field, never a 500."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from pydantic import Field, StringConstraints

CURSOR_PATTERN = r"^[A-Za-z0-9_-]{1,400}$"
_SEPARATOR = "\x1f"  # unit separator: never in a key part (ids, timestamps, versions)

Cursor = Annotated[
    str,
    StringConstraints(pattern=CURSOR_PATTERN),
    Field(description="`next_cursor` of the previous page (opaque; only one this list handed out is valid)"),
]


def encode_cursor(kind: str, *parts: str) -> str:
    text = kind + ":" + _SEPARATOR.join(parts)
    return base64.urlsafe_b64encode(text.encode()).decode("ascii").rstrip("=")


def decode_cursor(kind: str, cursor: str, parts: int) -> list[str]:
    """The key parts of a cursor this list handed out; ValueError for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        raise ValueError("not a cursor from this list") from None
    prefix = kind + ":"
    values = text.removeprefix(prefix).split(_SEPARATOR)
    if not text.startswith(prefix) or len(values) != parts:
        raise ValueError("not a cursor from this list")
    return values
