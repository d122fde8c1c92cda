"""A delivery of an e-mail: its log row, what the mailer sends, its Message-ID, and what a failed send leads
to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Literal

DeliveryStatus = Literal["pending", "sent", "retrying", "failed"]
# Why the last try failed, in terms a reader of the log acts on (the raw SMTP text stays in `last_error`).
FailureReason = Literal[
    "address-refused", "sender-refused", "message-refused", "login-refused", "server-unreachable", "other"
]
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
    failure: FailureReason | None  # failure_reason(last_error)


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
    created_at: datetime | None = None  # when the event was handled: the e-mail's delay is counted from it


def message_id(event_id: uuid.UUID, sender: str, account_id: uuid.UUID | None = None) -> str:
    """The same for every send of one event (to one account), so a receiver can tell a re-send after a crash;
    each account's e-mail of one event (release news) has its own."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "its-portal.local"
    local = f"{event_id}.{account_id}" if account_id is not None else str(event_id)
    return f"<{local}@{domain}>"


def status_after_failure(attempts: int, max_attempts: int, *, permanent: bool) -> DeliveryStatus:
    """After `attempts` tries in all, the last one failed."""
    return "failed" if permanent or attempts >= max_attempts else "retrying"


# The exception that failed a send (the mailer records `<class name>: <text>`) → what it means.
_FAILURES: dict[str, FailureReason] = {
    "SMTPRecipientsRefused": "address-refused",
    "SMTPRecipientRefused": "address-refused",
    "SMTPSenderRefused": "sender-refused",
    "SMTPDataError": "message-refused",
    "SMTPAuthenticationError": "login-refused",
    "SMTPConnectError": "server-unreachable",
    "SMTPConnectTimeoutError": "server-unreachable",
    "SMTPConnectResponseError": "server-unreachable",
    "SMTPServerDisconnected": "server-unreachable",
    "SMTPTimeoutError": "server-unreachable",
    "SMTPReadTimeoutError": "server-unreachable",
    "TimeoutError": "server-unreachable",
    "OSError": "server-unreachable",
    "ConnectionError": "server-unreachable",
    "ConnectionRefusedError": "server-unreachable",
    "ConnectionResetError": "server-unreachable",
    "gaierror": "server-unreachable",
}


def failure_reason(last_error: str | None) -> FailureReason | None:
    """What a recorded failure means, from the class of the exception the mailer recorded; None: none failed."""
    if not last_error:
        return None
    return _FAILURES.get(last_error.partition(":")[0].strip(), "other")
