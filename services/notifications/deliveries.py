"""E-mails on their way: rendered, logged in the delivery log and scheduled for the mailer (mailer.py), in
the caller's transaction; and the log as operators page through it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from services.notifications import store
from services.notifications.delivery import Delivery, DeliveryStatus
from services.notifications.letters import EmailRequest
from services.notifications.rendering import Renderer
from shared.db import Connection, Pool
from shared.logging import get_logger

log = get_logger(__name__)

# Deliveries rendered, inserted and scheduled per statement when one event writes to many accounts.
DELIVERY_CHUNK = 500


async def queue_emails(
    conn: Connection,
    renderer: Renderer,
    requests: Sequence[EmailRequest],
    *,
    event_id: uuid.UUID,
    event_type: str,
    correlation_id: str,
    now: datetime,
) -> int:
    """Render, log and schedule the e-mails an event asks for, a chunk per statement; how many are new (never
    two e-mails for one event and account). The jobs carry the flow's correlation id, so sends log under it."""
    created = 0
    for start in range(0, len(requests), DELIVERY_CHUNK):
        chunk = requests[start : start + DELIVERY_CHUNK]
        deliveries = [
            store.NewDelivery(
                recipient=request.recipient,
                template=request.template,
                language=request.language,
                email=renderer.render(request.template, request.language, request.context),
                account_id=request.account_id,
                unsubscribe_url=request.unsubscribe_url,
            )
            for request in chunk
        ]
        ids = await store.insert_deliveries(
            conn, event_id=event_id, event_type=event_type, created_at=now, deliveries=deliveries
        )
        if len(ids) < len(deliveries):
            # The inbox already stops a redelivery; this catches the same event reaching us another way.
            log.info("mail.already_delivered", event_id=str(event_id), skipped=len(deliveries) - len(ids))
        if ids:
            await store.schedule_sends(conn, ids, correlation_id=correlation_id, run_at=now)
        created += len(ids)
    return created


async def log_page(
    pool: Pool, *, recipient: str | None, status: DeliveryStatus | None, before_id: int | None, limit: int
) -> tuple[list[Delivery], bool]:
    """Newest first, at most `limit` deliveries below `before_id`, and whether more follow."""
    async with pool.acquire() as conn:
        rows = await store.list_deliveries(
            conn, recipient=recipient, status=status, before_id=before_id, limit=limit + 1
        )  # one more than asked: is there a next page?
    return rows[:limit], len(rows) > limit
