"""Events published by support (`support.*`, SUP-1): notifications e-mails the staff who answer a new question,
the asker an answer, and the partner's admins (or the operators) an overdue question.

Every event says which question, of which subscriber, who asked it and who answers it (`routed_kind`: a
partner, then `partner_id`, or the vendor's operators), so that a consumer needs no read model of questions.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from shared.events import Event

QuestionKind = Literal["consulting", "feedback"]
RoutedKind = Literal["partner", "vendor"]


class QuestionEvent(Event):
    question_id: uuid.UUID
    kind: QuestionKind
    subject: str
    subscriber_id: uuid.UUID
    subscriber_code: str
    asker_account_id: uuid.UUID
    routed_kind: RoutedKind
    partner_id: uuid.UUID | None = None
    routed_name: str
    state: str
    first_response_due: datetime


class QuestionAsked(QuestionEvent):
    """A new question for the staff who answer it (the partner's staff or the operators)."""

    TYPE = "support.question.asked"

    configuration: str | None = None
    registration_number: str | None = None
    asked_at: datetime


class QuestionAnswered(QuestionEvent):
    """The staff wrote to the asker: an answer, or (`asks_for_details`) a request for details."""

    TYPE = "support.question.answered"

    message_id: uuid.UUID
    asks_for_details: bool
    answered_at: datetime


class QuestionReplied(QuestionEvent):
    """The asker (or the owner) wrote again: for the staff who answer it."""

    TYPE = "support.question.replied"

    message_id: uuid.UUID
    replied_at: datetime


class QuestionOverdue(QuestionEvent):
    """No first answer by `first_response_due`: once per question, for the partner's admins or the operators."""

    TYPE = "support.question.overdue"

    overdue_at: datetime


class QuestionClosed(QuestionEvent):
    TYPE = "support.question.closed"

    closed_at: datetime
    closed_by: Literal["customer", "staff"]


class QuestionReopened(QuestionEvent):
    TYPE = "support.question.reopened"

    reopened_at: datetime


class QuestionRated(QuestionEvent):
    TYPE = "support.question.rated"

    score: int
    rated_at: datetime
