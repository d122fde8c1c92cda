"""SUP-1, the conversation on a question: messages (with the minutes the staff spent), taking it, closing,
reopening within 14 days, rating once, sharing with the subscriber's users. Each is one transaction with the
question's row locked: the rule (conversation.py), the change, its knowledge-base row where the change is searched
(SUP-2: messages, sharing) and its event (outbox), or nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from rules.refusal import Refusal, Refused
from services.support import conversation, events, knowledge, store
from services.support.callers import Who, participant
from services.support.conversation import Facts, Participant
from services.support.desk import Desk
from shared.db import Connection

NOT_FOUND = Refusal("question-not-found", "there is no such question", "not-found")


async def open_question(
    conn: Connection, question_id: uuid.UUID, who: Who, *, lock: bool = False
) -> tuple[store.Question, Participant]:
    """The question and what `who` is to it; refused as not found for anyone it does not concern (another
    subscriber's, another partner's), exactly as for a question that does not exist."""
    question = await store.question(conn, question_id, lock=lock)
    if question is None:
        raise Refused(NOT_FOUND)
    who_is = participant(question, who)
    if not who_is.sees:
        raise Refused(NOT_FOUND)
    return question, who_is


async def facts(conn: Connection, question: store.Question) -> Facts:
    return Facts(
        state=question.state,
        closed_at=question.closed_at,
        rated=question.rating is not None,
        attachments=await store.count_attachments(conn, question.id),
        answered_once=question.first_response_at is not None,
    )


def _check(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise Refused(refusal)


@dataclass(frozen=True)
class NewMessage:
    body: str
    minutes_spent: int | None = None
    asks_for_details: bool = False


async def add_message(desk: Desk, who: Who, question_id: uuid.UUID, new: NewMessage) -> store.Message:
    now = desk.clock.now()
    async with desk.pool.acquire() as conn, conn.transaction():
        question, who_is = await open_question(conn, question_id, who, lock=True)
        known = await facts(conn, question)
        _check(conversation.may_message(who_is, known, minutes_spent=new.minutes_spent))
        if not who_is.staff and new.asks_for_details:
            raise Refused(Refusal("details-for-staff", "only the staff ask for details", "invalid", "asks_for_details"))
        message = store.Message(
            id=uuid.uuid4(),
            question_id=question.id,
            author_account_id=who.account_id,
            author_login=who.login,
            side="staff" if who_is.staff else "customer",
            body=new.body,
            minutes_spent=new.minutes_spent,
            asks_for_details=new.asks_for_details,
            created_at=now,
        )
        await store.insert_message(conn, message)
        state = conversation.after_message(who_is, known, asks_for_details=new.asks_for_details)
        changes: dict[str, object] = {"state": state}
        if who_is.staff:
            if question.first_response_at is None:
                changes["first_response_at"] = now
            if question.assigned_to is None:
                changes["assigned_to"] = who.account_id
        updated = await store.update_question(conn, question.id, now, **changes)
        await knowledge.keep_question(conn, updated, now)  # SUP-2: the answer is searchable from its commit
        if who_is.staff:
            await desk.outbox.add(conn, events.answered(updated, message.id, new.asks_for_details, now))
        else:
            await desk.outbox.add(conn, events.replied(updated, message.id, now))
    return message


async def assign(desk: Desk, who: Who, question_id: uuid.UUID) -> store.Question:
    """The staff member takes the question (new → in_progress)."""
    now = desk.clock.now()
    async with desk.pool.acquire() as conn, conn.transaction():
        question, who_is = await open_question(conn, question_id, who, lock=True)
        known = await facts(conn, question)
        _check(conversation.may_assign(who_is, known))
        return await store.update_question(
            conn, question.id, now, state=conversation.after_assign(known), assigned_to=who.account_id
        )


async def close(desk: Desk, who: Who, question_id: uuid.UUID) -> store.Question:
    now = desk.clock.now()
    async with desk.pool.acquire() as conn, conn.transaction():
        question, who_is = await open_question(conn, question_id, who, lock=True)
        _check(conversation.may_close(who_is, await facts(conn, question)))
        updated = await store.update_question(conn, question.id, now, state="closed", closed_at=now)
        await desk.outbox.add(conn, events.closed(updated, now, "staff" if who_is.staff else "customer"))
    return updated


async def reopen(desk: Desk, who: Who, question_id: uuid.UUID) -> store.Question:
    """The asker, within 14 days of closing (ITS_SUPPORT_REOPEN_DAYS)."""
    now = desk.clock.now()
    async with desk.pool.acquire() as conn, conn.transaction():
        question, who_is = await open_question(conn, question_id, who, lock=True)
        known = await facts(conn, question)
        _check(conversation.may_reopen(who_is, known, now, desk.levels.reopen_within))
        updated = await store.update_question(conn, question.id, now, state="in_progress", closed_at=None)
        await desk.outbox.add(conn, events.reopened(updated, now))
    return updated


async def rate(desk: Desk, who: Who, question_id: uuid.UUID, score: int, comment: str | None) -> store.Question:
    """The asker or the owner, once, when the question is closed."""
    now = desk.clock.now()
    async with desk.pool.acquire() as conn, conn.transaction():
        question, who_is = await open_question(conn, question_id, who, lock=True)
        _check(conversation.may_rate(who_is, await facts(conn, question)))
        updated = await store.update_question(
            conn, question.id, now, rating=score, rating_comment=comment, rated_at=now
        )
        await desk.outbox.add(conn, events.rated(updated, score, now))
    return updated


async def share(desk: Desk, who: Who, question_id: uuid.UUID, shared: bool) -> store.Question:
    """The owner shows the question to all the subscriber's users (their knowledge base), or stops."""
    now = desk.clock.now()
    async with desk.pool.acquire() as conn, conn.transaction():
        question, who_is = await open_question(conn, question_id, who, lock=True)
        _check(conversation.may_share(who_is))
        updated = await store.update_question(conn, question.id, now, shared=shared)
        await knowledge.share_question(conn, updated, now)  # SUP-2: the users find it, or no longer
    return updated
