"""support's request and answer models (SUP-1): they validate requests and document them in OpenAPI."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, field_validator

from rules.months import Month
from services.support import store
from services.support.conversation import STATES
from services.support.question_queries import Figure, Thread
from shared.markdown import render
from shared.pages import Cursor, decode_cursor, encode_cursor
from shared.parsing import PathParams, StrictModel
from shared.problems import NotFound

MAX_SUBJECT = 200
MAX_BODY = 20_000  # a question or a message, Markdown
MAX_COMMENT = 2_000


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only spaces")
    return value


Subject = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SUBJECT), AfterValidator(_not_blank)]
Body = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_BODY),
    AfterValidator(_not_blank),
    Field(description="Markdown; raw HTML is shown as text, never rendered"),
]
RegistrationNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{11}$")]
ConfigurationCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
Version = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,9}(\.[0-9]{1,9}){1,5}$")]
SubscriberCode = Annotated[str, StringConstraints(pattern=r"^CL-[0-9]{7}$")]
State = Literal["new", "in_progress", "waiting_for_customer", "answered", "closed"]
assert STATES == ("new", "in_progress", "waiting_for_customer", "answered", "closed")
AttachmentName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")]


class QuestionIn(StrictModel):
    kind: Literal["consulting", "feedback"]
    subject: Subject
    body: Body
    registration_number: RegistrationNumber | None = Field(
        default=None, description="The product asked about: required for `consulting`"
    )
    configuration: ConfigurationCode | None = None
    version: Version | None = None
    platform_version: Version | None = None
    partner_id: uuid.UUID | None = Field(
        default=None, description="When several partners accompany the product: the one to ask (a 409 lists them)"
    )


class MessageIn(StrictModel):
    body: Body
    minutes_spent: int | None = Field(default=None, ge=0, le=100_000, description="Staff: the minutes this took")
    asks_for_details: bool = Field(default=False, description="Staff: a request for details, not an answer")


class RatingIn(StrictModel):
    score: int = Field(ge=1, le=5)
    comment: Annotated[str, StringConstraints(max_length=MAX_COMMENT)] | None = None


class SharedIn(StrictModel):
    shared: bool


class QuestionPath(PathParams):
    question_id: uuid.UUID

    @classmethod
    def malformed(cls, errors: list[dict[str, Any]]) -> NotFound:
        return NotFound("there is no such question")


class AttachmentPath(PathParams):
    question_id: uuid.UUID
    name: AttachmentName

    @classmethod
    def malformed(cls, errors: list[dict[str, Any]]) -> NotFound:
        return NotFound("there is no such question or attachment")


class RoutedTo(BaseModel):
    kind: Literal["partner", "vendor"]
    id: uuid.UUID | None = Field(description="The partner's id; null for the vendor")
    name: str


class QuestionOut(BaseModel):
    id: uuid.UUID
    kind: Literal["consulting", "feedback"]
    state: State
    subject: str
    subscriber_code: str
    registration_number: str | None
    configuration: str | None
    version: str | None
    platform_version: str | None
    routed_to: RoutedTo
    asked_at: datetime
    first_response_due: datetime
    first_response_at: datetime | None
    overdue: bool
    closed_at: datetime | None
    shared: bool
    assigned: bool
    rating: int | None
    rating_comment: str | None


def overdue(q: store.Question, now: datetime) -> bool:
    """Flagged by the overdue job, or past its due moment without a first answer (the job may not have run yet)."""
    waiting = q.first_response_at is None and q.state != "closed"
    return q.overdue_at is not None or (waiting and q.first_response_due < now)


def question_out(q: store.Question, now: datetime) -> QuestionOut:
    return QuestionOut(
        id=q.id,
        kind=q.kind,
        state=q.state,
        subject=q.subject,
        subscriber_code=q.subscriber_code,
        registration_number=q.registration_number,
        configuration=q.configuration,
        version=q.version,
        platform_version=q.platform_version,
        routed_to=RoutedTo(kind=q.routed_kind, id=q.partner_id, name=q.routed_name),
        asked_at=q.asked_at,
        first_response_due=q.first_response_due,
        first_response_at=q.first_response_at,
        overdue=overdue(q, now),
        closed_at=q.closed_at,
        shared=q.shared,
        assigned=q.assigned_to is not None,
        rating=q.rating,
        rating_comment=q.rating_comment,
    )


class MessageOut(BaseModel):
    id: uuid.UUID
    side: Literal["customer", "staff"]
    author: str = Field(description="The author's login (empty for a partner system)")
    body: str
    body_html: str = Field(description="The Markdown as safe HTML")
    minutes_spent: int | None
    asks_for_details: bool
    created_at: datetime


class AttachmentOut(BaseModel):
    name: str
    content_type: str
    size: int
    sha256: str
    side: Literal["customer", "staff"]
    uploaded_at: datetime


def attachment_out(a: store.Attachment) -> AttachmentOut:
    return AttachmentOut(
        name=a.name, content_type=a.content_type, size=a.size, sha256=a.sha256, side=a.side, uploaded_at=a.uploaded_at
    )


class ThreadOut(QuestionOut):
    body: str
    body_html: str
    asker: str = Field(description="The asker's login")
    messages: list[MessageOut]
    attachments: list[AttachmentOut]
    you: Literal["asker", "owner", "reader", "staff"] = Field(description="What the caller is to the question")


def thread_out(t: Thread, now: datetime) -> ThreadOut:
    q = t.question
    you = "staff" if t.who_is.staff else "asker" if t.who_is.asker else "owner" if t.who_is.owner else "reader"
    return ThreadOut(
        **question_out(q, now).model_dump(),
        body=q.body,
        body_html=render(q.body),
        asker=q.asker_login,
        messages=[
            MessageOut(
                id=m.id,
                side=m.side,
                author=m.author_login,
                body=m.body,
                body_html=render(m.body),
                minutes_spent=m.minutes_spent,
                asks_for_details=m.asks_for_details,
                created_at=m.created_at,
            )
            for m in t.messages
        ],
        attachments=[attachment_out(a) for a in t.attachments],
        you=you,
    )


QUESTIONS_CURSOR = "q1"  # (asked_at, id) of the last question seen, newest first
QUEUE_CURSOR = "u1"  # (first_response_due, id) of the last queue item seen, oldest due first


def after(kind: str, cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if cursor is None:
        return None
    moment, question_id = decode_cursor(kind, cursor, 2)
    try:
        return datetime.fromisoformat(moment), uuid.UUID(question_id)
    except ValueError:
        raise ValueError("not a cursor from this list") from None


def next_cursor(kind: str, last: datetime, question_id: uuid.UUID) -> str:
    return encode_cursor(kind, last.isoformat(), str(question_id))


class QuestionsQuery(StrictModel):
    state: State | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: Cursor | None = None

    @field_validator("cursor")
    @classmethod
    def _ours(cls, value: str | None) -> str | None:
        after(QUESTIONS_CURSOR, value)  # a cursor we did not hand out is a 422 naming the field
        return value


class QueueQuery(StrictModel):
    state: State | None = Field(default=None, description="Default: every open state")
    overdue: bool | None = None
    configuration: ConfigurationCode | None = None
    subscriber: SubscriberCode | None = None
    kind: Literal["consulting", "feedback"] | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: Cursor | None = None

    @field_validator("cursor")
    @classmethod
    def _ours(cls, value: str | None) -> str | None:
        after(QUEUE_CURSOR, value)
        return value


class QuestionPage(BaseModel):
    items: list[QuestionOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


def _month(value: str) -> str:
    Month.parse(value)  # ValueError → 422 naming the field
    return value


class FiguresQuery(StrictModel):
    month: Annotated[
        str,
        StringConstraints(pattern=r"^(19[0-9]{2}|2[0-9]{3})-(0[1-9]|1[0-2])$"),
        AfterValidator(_month),
        Field(description="YYYY-MM, 1900-01 to 2999-12"),
    ]


class FigureOut(BaseModel):
    id: str = Field(description="The partner's id ('vendor' for the vendor's line), or the subscriber's code")
    name: str
    questions: int
    answered: int
    minutes_spent: int
    median_first_response_minutes: int | None = Field(description="Business minutes from asking to the first answer")
    average_rating: float | None
    ratings: int


def figure_out(f: Figure) -> FigureOut:
    return FigureOut(**f.__dict__)


class FiguresOut(BaseModel):
    month: str
    per: Literal["partner", "subscriber"]
    groups: list[FigureOut]
