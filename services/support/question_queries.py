"""SUP-1, reading: one question with its messages and attachments (for its participants only), the caller's
questions, the staff's queue, and the figures of a month (questions asked, minutes spent, median business time to
the first answer, average rating)."""

from __future__ import annotations

import statistics
import uuid
from dataclasses import dataclass
from datetime import datetime, time

from rules.months import Month
from rules.refusal import Refusal, Refused
from services.support import store
from services.support.callers import Who
from services.support.conversation import OPEN_STATES, Participant
from services.support.conversations import open_question
from services.support.desk import ServiceLevels
from shared.calendar import business_time_between
from shared.db import Pool


@dataclass(frozen=True)
class Thread:
    question: store.Question
    who_is: Participant
    messages: list[store.Message]
    attachments: list[store.Attachment]


async def thread(pool: Pool, who: Who, question_id: uuid.UUID) -> Thread:
    async with pool.acquire() as conn:
        question, who_is = await open_question(conn, question_id, who)
        return Thread(
            question, who_is, await store.messages_of(conn, question.id), await store.attachments_of(conn, question.id)
        )


@dataclass(frozen=True)
class Page:
    items: list[store.Question]
    more: bool


async def my_questions(
    pool: Pool, who: Who, *, state: str | None, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> Page:
    """The owner: every question of the subscriber; a user: theirs and those the owner shared. Newest first."""
    if who.subscriber_id is None:
        raise Refused(
            Refusal("subscriber-required", "list questions with a token that acts for a subscriber", "forbidden")
        )
    async with pool.acquire() as conn:
        rows = await store.subscriber_questions(
            conn,
            who.subscriber_id,
            account_id=None if who.role == "owner" else who.account_id,
            state=state,
            limit=limit + 1,
            after=after,
        )
    return Page(rows[:limit], len(rows) > limit)


@dataclass(frozen=True)
class QueueAsk:
    state: str | None
    overdue: bool | None
    configuration: str | None
    subscriber: str | None
    kind: str | None


async def support_queue(
    pool: Pool, who: Who, ask: QueueAsk, now: datetime, *, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> Page:
    """A partner's staff: their partner's questions; operators: the vendor's consulting line and feedback. Open
    questions unless a state is asked for; oldest due first."""
    if not who.staff:
        raise Refused(Refusal("staff-only", "the queue is for partners' staff and the vendor's operators", "forbidden"))
    only = store.QueueFilter(
        states=(ask.state,) if ask.state else OPEN_STATES,
        overdue=ask.overdue,
        configuration=ask.configuration,
        subscriber_code=ask.subscriber,
        kind=ask.kind,
    )
    async with pool.acquire() as conn:
        rows = await store.queue(
            conn,
            partner_id=None if who.operator else who.partner_id,
            only=only,
            now=now,
            limit=limit + 1,
            after=after,
        )
    return Page(rows[:limit], len(rows) > limit)


@dataclass(frozen=True)
class Figure:
    id: str
    name: str
    questions: int
    answered: int
    minutes_spent: int
    median_first_response_minutes: int | None
    average_rating: float | None
    ratings: int


async def figures(pool: Pool, who: Who, month: Month, levels: ServiceLevels) -> tuple[str, list[Figure]]:
    """The month's figures grouped per partner (the owner: its own questions; operators: all) or per subscriber
    (a partner: the subscribers it answers). Answers the grouping and the figures."""
    start = datetime.combine(month.first_day, time(0), tzinfo=levels.zone)
    end = datetime.combine(month.plus(1).first_day, time(0), tzinfo=levels.zone)
    if who.operator:
        scope: dict[str, uuid.UUID | None] = {"subscriber_id": None, "partner_id": None}
        by_subscriber = False
    elif who.partner_id is not None:
        scope, by_subscriber = {"subscriber_id": None, "partner_id": who.partner_id}, True
    elif who.subscriber_id is not None and who.role == "owner":
        scope, by_subscriber = {"subscriber_id": who.subscriber_id, "partner_id": None}, False
    else:
        raise Refused(Refusal("owner-only", "the figures are for the owner, partners and operators", "forbidden"))
    async with pool.acquire() as conn:
        rows = await store.figure_rows(conn, start=start, end=end, by_subscriber=by_subscriber, **scope)
    zone = levels.zone
    groups: dict[str, list[store.FigureRow]] = {}
    for row in rows:
        groups.setdefault(row.group_id, []).append(row)
    result = []
    for group_id, members in groups.items():
        waits = [
            business_time_between(
                r.asked_at, r.first_response_at, zone, levels.opens, levels.closes, calendar=levels.calendar
            )
            for r in members
            if r.first_response_at is not None
        ]
        ratings = [r.rating for r in members if r.rating is not None]
        result.append(
            Figure(
                id=group_id,
                name=members[0].group_name,
                questions=len(members),
                answered=len(waits),
                minutes_spent=sum(r.minutes for r in members),
                median_first_response_minutes=round(statistics.median(w.total_seconds() for w in waits) / 60)
                if waits
                else None,
                average_rating=round(statistics.fmean(ratings), 2) if ratings else None,
                ratings=len(ratings),
            )
        )
    return ("subscriber" if by_subscriber else "partner"), sorted(result, key=lambda f: (f.name, f.id))
