"""contracts' HTTP edge for refusals: a use case's `Refused` as the problem+json contracts has always answered.

Not `shared.problems.refusal_problem`: contracts' bodies predate it (a 422 without `detail`, a plain 404/409
with no `reason` member, a refused activation's `field`/`reason`/`choices` members) and clients read them.
"""

from __future__ import annotations

from rules.refusal import Refusal, Refused
from shared.problems import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Problem,
    ValidationFailed,
    invalid,
    refusal_problem,
)


class IdempotencyKeyMissing(BadRequest):
    slug, title = "idempotency-key-missing", "Send an Idempotency-Key header"


class IdempotencyKeyReused(Problem):
    status, slug, title = 422, "idempotency-key-reused", "This Idempotency-Key was used for another request"


class RequestInProgress(Conflict):
    slug, title = "request-in-progress", "A request with this Idempotency-Key is being processed"


class ContractNumberTaken(Conflict):
    slug, title = "contract-number-taken", "You have a contract with this number already"


class ActivationRefused(Problem):
    status, slug, title = 422, "activation-refused", "The maintenance service cannot be activated"


_BY_REASON: dict[str, type[Problem]] = {
    "idempotency-key-reused": IdempotencyKeyReused,
    "request-in-progress": RequestInProgress,
    "contract-number-taken": ContractNumberTaken,
}
_BY_KIND: dict[str, type[Problem]] = {"not-found": NotFound, "conflict": Conflict, "forbidden": Forbidden}


def problem(refused: Refused) -> Problem:
    """Invalid fields: one 422 listing them all (ITS-1); otherwise the problem of the refusal's reason or kind."""
    first = refused.first
    if first.kind == "too-often":  # ITS-6: reported too often today
        return refusal_problem(refused)
    if first.reason in _BY_REASON:
        return _BY_REASON[first.reason](first.message)
    if first.kind == "invalid":
        return ValidationFailed([_entry(r) for r in refused.refusals])
    return _BY_KIND[first.kind](first.message)


def activation_problem(refused: Refused) -> Problem:
    """A refused activation (CMS-1..7) names the field to correct, the rule's reason and what to choose from."""
    first = refused.first
    if first.field is None:
        return problem(refused)
    members = {"field": first.field, "reason": first.reason, **first.details}
    return (Conflict if first.kind == "conflict" else ActivationRefused)(first.message, **members)


def _entry(r: Refusal) -> dict[str, object]:
    return invalid(r.field or "body", r.message, r.reason, **r.details)
