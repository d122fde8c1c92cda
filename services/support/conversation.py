"""SUP-1, the conversation: who may do what to a question in which state, and the state it moves to. Pure.

States: new → in_progress (staff took it, or the asker wrote again) → waiting_for_customer (staff asked for
details) or answered (staff answered) → closed; the asker reopens a closed question within 14 days.

Who, relative to one question (`Participant`): its asker; the subscriber's owner; another user of the subscriber
when the owner shared it (reads only); the staff answering it (the routed partner's staff or systems, or the
vendor's operators for the consulting line and feedback). Anyone else does not see the question at all: the
HTTP edge answers 404, as for a question that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from rules.refusal import Refusal

State = Literal["new", "in_progress", "waiting_for_customer", "answered", "closed"]
STATES: tuple[State, ...] = ("new", "in_progress", "waiting_for_customer", "answered", "closed")
OPEN_STATES: tuple[State, ...] = ("new", "in_progress", "waiting_for_customer", "answered")


@dataclass(frozen=True)
class Participant:
    asker: bool = False
    owner: bool = False  # the subscriber's owner
    reader: bool = False  # a user of the subscriber who sees it because it is shared
    staff: bool = False  # answers it

    @property
    def customer(self) -> bool:
        """The asker's side of the conversation: the asker and the subscriber's owner."""
        return self.asker or self.owner

    @property
    def sees(self) -> bool:
        return self.customer or self.reader or self.staff


@dataclass(frozen=True)
class Facts:
    """What the rules need to know of a question."""

    state: State
    closed_at: datetime | None
    rated: bool
    attachments: int
    answered_once: bool  # staff has written at least once


def _closed(facts: Facts) -> Refusal | None:
    if facts.state == "closed":
        return Refusal("question-closed", "the question is closed; its asker can reopen it", "conflict")
    return None


def may_message(who: Participant, facts: Facts, *, minutes_spent: int | None) -> Refusal | None:
    if not (who.customer or who.staff):
        return Refusal("not-a-party", "only the asker, the owner and the answering staff write here", "forbidden")
    if who.staff and minutes_spent is None:
        return Refusal("minutes-required", "record the minutes spent with each answer", "invalid", "minutes_spent")
    if not who.staff and minutes_spent is not None:
        return Refusal("minutes-for-staff", "only the answering staff record minutes spent", "invalid", "minutes_spent")
    return _closed(facts)


def after_message(who: Participant, facts: Facts, *, asks_for_details: bool) -> State:
    """The state a message moves the question to."""
    if who.staff:
        return "waiting_for_customer" if asks_for_details else "answered"
    return "in_progress" if facts.answered_once or facts.state != "new" else "new"


def may_assign(who: Participant, facts: Facts) -> Refusal | None:
    if not who.staff:
        return Refusal("staff-only", "only the answering staff take a question", "forbidden")
    return _closed(facts)


def after_assign(facts: Facts) -> State:
    return "in_progress" if facts.state == "new" else facts.state


def may_close(who: Participant, facts: Facts) -> Refusal | None:
    if not (who.customer or who.staff):
        return Refusal("not-a-party", "only the asker, the owner and the answering staff close a question", "forbidden")
    return _closed(facts)


def may_reopen(who: Participant, facts: Facts, now: datetime, within: timedelta) -> Refusal | None:
    if not who.asker:
        return Refusal("asker-only", "only the asker reopens a question", "forbidden")
    if facts.state != "closed" or facts.closed_at is None:
        return Refusal("question-not-closed", "the question is open", "conflict")
    if now - facts.closed_at > within:
        return Refusal(
            "reopen-period-over",
            f"a question is reopened within {within.days} days of closing; ask a new one",
            "conflict",
            details={"closed_at": facts.closed_at.isoformat()},
        )
    return None


def may_rate(who: Participant, facts: Facts) -> Refusal | None:
    if not who.customer:
        return Refusal("customer-only", "the asker or the owner rates a question", "forbidden")
    if facts.state != "closed":
        return Refusal("question-not-closed", "a question is rated once it is closed", "conflict")
    if facts.rated:
        return Refusal("already-rated", "the question is rated already; a rating is given once", "conflict")
    return None


def may_share(who: Participant) -> Refusal | None:
    if not who.owner:
        return Refusal("owner-only", "only the subscriber's owner shares a question with all its users", "forbidden")
    return None


def may_attach(who: Participant, facts: Facts, limit: int) -> Refusal | None:
    if not (who.customer or who.staff):
        return Refusal("not-a-party", "only the asker, the owner and the answering staff attach files", "forbidden")
    if (closed := _closed(facts)) is not None:
        return closed
    if facts.attachments >= limit:
        return Refusal(
            "too-many-attachments", f"a question has at most {limit} attachments", "conflict", details={"limit": limit}
        )
    return None
