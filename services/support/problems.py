"""The HTTP edge of support's refusals: a use case's `Refused` as problem+json (invalid → 422 naming the field,
forbidden → 403, payment-required → 402 with the offer, conflict → 409 with the choices, not-found → 404)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rules.refusal import Refused
from shared.problems import PayloadTooLarge, refusal_problem
from shared.storage.spool import TooLarge


@contextlib.contextmanager
def refusals_answered() -> Iterator[None]:
    """Around a use case's call in a handler: its refusal answered as problem+json."""
    try:
        yield
    except Refused as refused:
        raise refusal_problem(refused) from None
    except TooLarge as too_large:
        raise PayloadTooLarge(
            f"an attachment is at most {too_large.max_bytes} bytes (ITS_MAX_ATTACHMENT_BYTES); nothing was stored"
        ) from None
