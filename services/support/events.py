"""support's records as the events it publishes through the outbox (SUP-1): the one place a question becomes an
event payload."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from services.support.store import Question
from shared.events.support import (
    QuestionAnswered,
    QuestionAsked,
    QuestionClosed,
    QuestionOverdue,
    QuestionRated,
    QuestionReopened,
    QuestionReplied,
)


def _question(q: Question) -> dict[str, Any]:
    return {
        "question_id": q.id,
        "kind": q.kind,
        "subject": q.subject,
        "subscriber_id": q.subscriber_id,
        "subscriber_code": q.subscriber_code,
        "asker_account_id": q.asker_account_id,
        "routed_kind": q.routed_kind,
        "partner_id": q.partner_id,
        "routed_name": q.routed_name,
        "state": q.state,
        "first_response_due": q.first_response_due,
    }


def asked(q: Question) -> QuestionAsked:
    return QuestionAsked(
        **_question(q), configuration=q.configuration, registration_number=q.registration_number, asked_at=q.asked_at
    )


def answered(q: Question, message_id: uuid.UUID, asks_for_details: bool, at: datetime) -> QuestionAnswered:
    return QuestionAnswered(**_question(q), message_id=message_id, asks_for_details=asks_for_details, answered_at=at)


def replied(q: Question, message_id: uuid.UUID, at: datetime) -> QuestionReplied:
    return QuestionReplied(**_question(q), message_id=message_id, replied_at=at)


def overdue(q: Question, at: datetime) -> QuestionOverdue:
    return QuestionOverdue(**_question(q), overdue_at=at)


def closed(q: Question, at: datetime, by: Literal["customer", "staff"]) -> QuestionClosed:
    return QuestionClosed(**_question(q), closed_at=at, closed_by=by)


def reopened(q: Question, at: datetime) -> QuestionReopened:
    return QuestionReopened(**_question(q), reopened_at=at)


def rated(q: Question, score: int, at: datetime) -> QuestionRated:
    return QuestionRated(**_question(q), score=score, rated_at=at)
