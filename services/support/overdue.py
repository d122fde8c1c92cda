"""SUP-1: a question with no first answer by its due moment is flagged overdue, once, and says so once
(`support.question.overdue`, for the partner's admins or the operators). A deferred job per question, at its due
moment on the shared clock."""

from __future__ import annotations

import uuid

from services.support import events, store
from shared.clock import Clock
from shared.db import Connection
from shared.jobs import Job, JobHandler
from shared.outbox import Outbox


def overdue_job(outbox: Outbox, clock: Clock) -> JobHandler:
    async def run(conn: Connection, job: Job) -> None:
        now = clock.now()
        flagged = await store.mark_overdue(conn, uuid.UUID(job.payload["question_id"]), now)
        if flagged is not None:  # answered, closed, or flagged already: nothing to say
            await outbox.add(conn, events.overdue(flagged, now))

    return run
