"""A delivery of an e-mail: its log row, what the mailer sends, its Message-ID, and what a failed send leads
to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Literal

DeliveryStatus = Literal["pending", "sent", "retrying", "failed"]
SEND_EMAIL_JOB = "send_email"


@dataclass(frozen=True)
class Delivery:
    """One row of the delivery log, as operators see it."""

    id: int
    event_id: uuid.UUID
    event_type: str
    recipient: str
    template: str
    language: str
    subject: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class OutgoingEmail:
    """What the mailer needs to send one delivery."""

    delivery_id: int
    event_id: uuid.UUID
    template: str
    recipient: str
    subject: str
    body_text: str
    body_html: str
    status: DeliveryStatus
    attempts: int
    account_id: uuid.UUID | None = None
    unsubscribe_url: str | None = None


def message_id(event_id: uuid.UUID, sender: str, account_id: uuid.UUID | None = None) -> str:
    """The same for every send of one event (to one account), so a receiver can tell a re-send after a crash;
    each account's e-mail of one event (release news) has its own."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "its-portal.local"
    local = f"{event_id}.{account_id}" if account_id is not None else str(event_id)
    return f"<{local}@{domain}>"


def status_after_failure(attempts: int, max_attempts: int, *, permanent: bool) -> DeliveryStatus:
    """After `attempts` tries in all, the last one failed."""
    return "failed" if permanent or attempts >= max_attempts else "retrying"
