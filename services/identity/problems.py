"""identity's HTTP edge for refusals: a use case's `Refused` as the problem+json identity answers."""

from __future__ import annotations

from rules.refusal import Refused
from shared.auth import OwnerOnly
from shared.problems import Conflict, Forbidden, NotFound, Problem, ValidationFailed, invalid, refusal_problem
from shared.revocations import MembershipEnded


class EmailNotVerified(Forbidden):
    slug, title = "email-not-verified", "Verify your e-mail address first"


class InvitationForAnotherAddress(Forbidden):
    slug, title = "invitation-for-another-address", "This invitation was sent to another e-mail address"


# The refusals whose answer has a type of its own (by the refusal's reason); other forbidden ones are `forbidden`.
FORBIDDEN: dict[str, type[Forbidden]] = {
    problem.slug: problem for problem in (OwnerOnly, MembershipEnded, EmailNotVerified, InvitationForAnotherAddress)
}


def refused_problem(refused: Refused) -> Problem:
    """The answer identity has always given: invalid fields as `validation` with `errors`, the others as the
    kernel's problems (a conflict naming its field)."""
    first = refused.first
    if first.kind == "invalid":
        return ValidationFailed([invalid(r.field or "body", r.message, r.reason) for r in refused.refusals])
    if first.kind == "forbidden":
        return FORBIDDEN.get(first.reason, Forbidden)(first.message)
    if first.kind == "not-found":
        return NotFound(first.message)
    if first.kind == "conflict":
        conflict = Conflict(first.message)
        if first.field:
            conflict.extra["field"] = first.field  # the request field that clashes, as identity has always said
        return conflict
    return refusal_problem(refused)
