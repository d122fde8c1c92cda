"""SUP-1, asking: a question to the consulting line (routed to the accompanying partner or the vendor) or feedback
to the vendor, with its first-response due moment and the job that flags it overdue. One transaction: the question,
its knowledge-base row (SUP-2), its event (outbox) and its overdue job, or nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from rules.months import Month
from rules.refusal import Refusal, Refused
from services.support import asking, events, knowledge, read_models, store
from services.support.callers import Who
from services.support.desk import Desk
from shared.clock import local_date
from shared.db import Connection
from shared.jobs import schedule

OVERDUE_JOB = "support.overdue"


@dataclass(frozen=True)
class NewQuestion:
    kind: Literal["consulting", "feedback"]
    subject: str
    body: str
    registration_number: str | None = None
    configuration: str | None = None
    version: str | None = None
    platform_version: str | None = None
    partner_id: uuid.UUID | None = None


async def ask(desk: Desk, who: Who, new: NewQuestion) -> store.Question:
    """Store the question routed to whoever answers it; refused (nothing stored) when the rules say no."""
    if who.subscriber_id is None or who.subscriber_code is None:
        raise Refused(Refusal("subscriber-required", "ask with a token that acts for a subscriber", "forbidden"))
    now = desk.clock.now()
    async with desk.pool.acquire() as conn, conn.transaction():
        route, product = await _route(conn, desk, who, new)
        configuration = new.configuration
        if configuration is None and product is not None and len(product.configurations) == 1:
            configuration = product.configurations[0]  # the queue filters by it
        question = store.Question(
            id=uuid.uuid4(),
            kind=new.kind,
            subscriber_id=who.subscriber_id,
            subscriber_code=who.subscriber_code,
            asker_account_id=who.account_id,
            asker_login=who.login,
            subject=new.subject,
            body=new.body,
            registration_number=new.registration_number,
            configuration=configuration,
            version=new.version,
            platform_version=new.platform_version,
            routed_kind=route.kind,
            partner_id=route.partner_id,
            routed_name=route.name,
            state="new",
            shared=False,
            assigned_to=None,
            asked_at=now,
            first_response_due=desk.levels.first_response_due(now),
            first_response_at=None,
            overdue_at=None,
            closed_at=None,
            rating=None,
            rating_comment=None,
            rated_at=None,
            updated_at=now,
        )
        await store.insert_question(conn, question)
        await knowledge.keep_question(conn, question, now)  # SUP-2: searchable from its commit
        await desk.outbox.add(conn, events.asked(question))
        await schedule(
            conn,
            OVERDUE_JOB,
            {"question_id": str(question.id)},
            question.first_response_due,
            dedupe_key=f"overdue:{question.id}",
        )
    return question


async def _route(
    conn: Connection, desk: Desk, who: Who, new: NewQuestion
) -> tuple[asking.Route, read_models.Product | None]:
    if new.kind == "feedback":
        if new.partner_id is not None:
            raise Refused(
                Refusal("feedback-to-vendor", "feedback goes to the vendor, not a partner", "invalid", "partner_id")
            )
        return asking.FEEDBACK_ROUTE, None
    if new.registration_number is None:
        raise Refused(
            Refusal("registration-number-required", "name the product you ask about", "invalid", "registration_number")
        )
    assert who.subscriber_id is not None
    now = desk.clock.now()
    today = local_date(now, desk.levels.zone)
    product = await read_models.subscriber_product(conn, who.subscriber_id, new.registration_number)
    refusal = asking.may_ask(
        product, configuration=new.configuration, role=who.role or "user", rights=who.rights, now=now, today=today
    )
    if refusal is not None:
        raise Refused(refusal)
    partners = await read_models.accompanying(conn, new.registration_number, Month.of(today))
    routed = asking.route(partners, new.partner_id)
    if isinstance(routed, Refusal):
        raise Refused(routed)
    return routed, product
