"""Who calls, as support's rules see them (from the access token at the HTTP edge), and what they are to one
question (conversation.Participant)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.support.conversation import Participant
from services.support.store import Question


@dataclass(frozen=True)
class Who:
    account_id: uuid.UUID
    login: str
    subscriber_id: uuid.UUID | None = None
    subscriber_code: str | None = None
    role: str | None = None  # owner | user, within the subscriber
    rights: frozenset[str] = frozenset()
    partner_id: uuid.UUID | None = None  # a partner's staff or system
    operator: bool = False  # the vendor's staff

    @property
    def staff(self) -> bool:
        return self.operator or self.partner_id is not None

    @property
    def side(self) -> str:
        return "staff" if self.staff else "customer"


def participant(question: Question, who: Who) -> Participant:
    """What `who` is to the question; `Participant().sees` is False for anyone who must not know it exists."""
    staff = (question.partner_id is not None and question.partner_id == who.partner_id) or (
        who.operator and question.routed_kind == "vendor"
    )
    mine = who.subscriber_id is not None and who.subscriber_id == question.subscriber_id
    return Participant(
        asker=mine and who.account_id == question.asker_account_id,
        owner=mine and who.role == "owner",
        reader=mine and question.shared,
        staff=staff,
    )
