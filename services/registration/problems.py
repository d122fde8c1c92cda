"""registration's HTTP edge of refusals: each refusal answered as problem+json the way clients know it.

Most go the kernel's general way; a few cases have their own problem type, and some invalid fields were
answered without an error `type` before refusals existed and are kept so."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from rules.refusal import Refusal, Refused
from services.registration.domain import WRONG_PIN
from shared.problems import Conflict, Forbidden, NotFound, Problem, ValidationFailed, invalid, refusal_problem


class PinRejected(ValidationFailed):
    slug, title = "pin-rejected", "The registration number or the PIN is wrong"

    def __init__(self, errors: list[dict[str, Any]], detail: str, *, tries_left: int) -> None:
        super().__init__(errors, detail)
        self.extra["tries_left"] = tries_left  # REG-7: for clients (the portal) to say it in their words


class PinUsed(Conflict):
    slug, title = "pin-used", "This PIN has been used"


class ContractRequired(Problem):
    status, slug, title = 422, "its-contract-required", "This product needs an ITS contract to be registered"


class RegisteredElsewhere(Conflict):
    slug, title = "registered-to-another-subscriber", "The product is registered to another subscriber"


class BatchDelivered(Problem):
    status, slug, title = 410, "batch-delivered", "The batch's numbers and PINs were shown once already"


# Invalid fields answered without an error `type` (as before refusals).
_UNTYPED = frozenset({"configurations-unknown", "without-pin-envelopes"})


def _error(r: Refusal) -> dict[str, Any]:
    if r.reason in _UNTYPED:
        return {"field": r.field or "body", "message": r.message}
    return invalid(r.field or "body", r.message, r.reason)


def problem_of(refused: Refused) -> Problem:
    r = refused.first
    if r.reason == "pin-rejected":
        tries_left = int(r.details["tries_left"])
        return PinRejected(
            [{"field": "pin", "message": r.message}],
            detail=f"{WRONG_PIN} Tries left this hour: {tries_left}.",
            tries_left=tries_left,
        )
    if r.kind == "too-often":  # REG-7: with Retry-After, when and for what scope
        return refusal_problem(refused)
    special: dict[str, type[Problem]] = {
        "pin-used": PinUsed,
        "its-contract-required": ContractRequired,
        "registered-to-another-subscriber": RegisteredElsewhere,
        "batch-delivered": BatchDelivered,
    }
    if r.reason in special:
        return special[r.reason](r.message, **r.details)
    if r.kind == "invalid":
        return ValidationFailed([_error(one) for one in refused.refusals])
    general: dict[str, type[Problem]] = {"not-found": NotFound, "conflict": Conflict, "forbidden": Forbidden}
    return general[r.kind](r.message, **r.details)


@contextlib.contextmanager
def refusals_answered() -> Iterator[None]:
    """Around a use case in a handler: its refusal becomes the problem+json answer."""
    try:
        yield
    except Refused as refused:
        raise problem_of(refused) from None
