"""A rule's "no", as a value: which case of which rule, why in words for a person, and what to do instead.

Rule modules return or raise refusals; they know no HTTP. The HTTP edge (`shared.problems.refusal_problem`)
turns a refusal into problem+json, its `kind` into a status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Literal

# What kind of "no": the request must be corrected (invalid), the caller may not (forbidden), it needs a
# paid entitlement first (payment-required), it clashes with what exists (conflict), there is no such thing
# (not-found) or no longer (gone), or it is asked too often and may be asked again later (too-often: the details
# say `retry_after`, in seconds).
RefusalKind = Literal["invalid", "forbidden", "payment-required", "conflict", "not-found", "gone", "too-often"]


@dataclass(frozen=True)
class Refusal:
    reason: str  # a stable slug of the rule's case, e.g. "its-contract-required"
    message: str  # for a person, naming the rule (e.g. "… (ITS-7, UPD-4)")
    kind: RefusalKind = "invalid"
    field: str | None = None  # the request field to correct, for an invalid request
    details: Mapping[str, Any] = dataclass_field(default_factory=dict)  # what helps to act: choices, dates, offers


class Refused(Exception):
    """Raised by a use case when a rule refuses; carries one refusal or several (every invalid field)."""

    def __init__(self, *refusals: Refusal) -> None:
        if not refusals:
            raise ValueError("Refused needs at least one refusal")
        super().__init__("; ".join(r.message for r in refusals))
        self.refusals = refusals

    @property
    def first(self) -> Refusal:
        return self.refusals[0]
