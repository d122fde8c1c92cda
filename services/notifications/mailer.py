"""Sending e-mail: the `send_email` deferred job and SMTP through aiosmtplib.

The job runs in the job worker's transaction and sends while it holds the
delivery's row lock. If the process dies after the SMTP server accepted the
message but before the commit, the job runs again and the e-mail goes out a
second time with the same Message-ID (at-least-once, which is what SMTP offers).
A failed send is not raised: that would roll back the delivery's attempts and
error. It is recorded, and the next try is a new job scheduled with back-off.
"""

from __future__ import annotations

import email.header
import email.policy
from dataclasses import dataclass
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime
from typing import Literal

import aiosmtplib
from prometheus_client import CollectorRegistry, Counter, Histogram

from services.notifications import store
from services.notifications.delivery import SEND_EMAIL_JOB, OutgoingEmail, message_id, status_after_failure
from shared import tracing
from shared.clock import Clock
from shared.db import Connection
from shared.jobs import Job, backoff, schedule
from shared.logging import bound_contextvars, get_logger

log = get_logger(__name__)

SmtpSecurity = Literal["none", "starttls", "tls"]

# What a send can fail with: the server away, slow, or saying no.
SMTP_FAILURES = (aiosmtplib.SMTPException, OSError, TimeoutError)


@dataclass(frozen=True)
class SmtpTransport:
    host: str
    port: int
    security: SmtpSecurity
    timeout: float
    username: str | None = None
    password: str | None = None

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.security == "tls",
            # Explicit, not aiosmtplib's "upgrade if offered": `none` means no TLS at all.
            start_tls=self.security == "starttls",
            timeout=self.timeout,
        )


class LinkHeader(UnstructuredHeader, BaseHeader):
    """A header that is one `<link>` (List-Unsubscribe): on one line as it is.

    The standard folding turns a word longer than a line (a link with a token) into RFC 2047 encoded-words,
    which no mail program reads as a link. A line of up to 998 characters is allowed (RFC 5322 §2.1.1).
    """

    def fold(self, *, policy: Policy) -> str:
        value = str(self)
        if not value.isascii() or len(self.name) + len(value) > 990 or any(c in value for c in "\r\n"):
            return super().fold(policy=policy)
        return f"{self.name}: {value}{policy.linesep}"


class SubjectHeader(UnstructuredHeader, BaseHeader):
    """A subject in any language, folded so that every mail program reads back exactly the text.

    The standard folder encodes only the non-ASCII words (RFC 2047) and may leave the space between two encoded
    words outside them, where decoders drop it (RFC 2047 §6.2): "Марина Соколова, ООО" came back as "Марина
    Соколова,ООО". Text that is not ASCII is encoded whole, spaces inside the encoded words, on lines of at most
    78 characters; on an SMTPUTF8 connection it goes as UTF-8, as the standard folder writes it.
    """

    def fold(self, *, policy: Policy) -> str:
        value = str(self)
        if value.isascii() or getattr(policy, "utf8", False):  # EmailPolicy has it; compat32 does not
            return super().fold(policy=policy)
        encoded = email.header.Header(value, "utf-8", maxlinelen=78, header_name=self.name)
        return f"{self.name}: {encoded.encode(linesep=policy.linesep)}{policy.linesep}"


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("list-unsubscribe", LinkHeader)
_HEADERS.map_to_type("subject", SubjectHeader)
# The default policy, with List-Unsubscribe kept on one line and subjects folded without losing a space (the
# header objects fold themselves, whichever policy aiosmtplib flattens the message with).
MESSAGE_POLICY = email.policy.default.clone(header_factory=_HEADERS)


def is_permanent(exc: Exception) -> bool:
    """Every recipient refused with a 5xx reply (RFC 5321 §4.2.1): the address will never take it.

    Anything else (server down, 4xx, a rejected login the operator can fix) is worth retrying.
    """
    return isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and all(refusal.code >= 500 for refusal in exc.recipients)


# From a second to a few hours: a send waits for the job worker, then for the mail server, retried with back-off.
DELAY_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0)


@dataclass(frozen=True)
class MailFigures:
    """What the mailer counts, for notifications' /metrics."""

    emails: Counter
    delay: Histogram

    @classmethod
    def registered(cls, registry: CollectorRegistry) -> MailFigures:
        return cls(
            Counter(
                "notifications_emails_total",
                "E-mail send attempts by outcome",
                ["template", "outcome"],
                registry=registry,
            ),
            Histogram(
                "notifications_email_delay_seconds",
                "From the delivery's creation (its event handled) to the mail server taking the e-mail, by the "
                "shared clock",
                ["template"],
                buckets=DELAY_BUCKETS,
                registry=registry,
            ),
        )


class Mailer:
    def __init__(
        self,
        transport: SmtpTransport,
        clock: Clock,
        *,
        sender: str,
        max_attempts: int,
        figures: MailFigures,
    ) -> None:
        self.transport = transport
        self.clock = clock
        self.sender = sender
        self.max_attempts = max_attempts
        self.figures = figures

    async def send_email(self, conn: Connection, job: Job) -> None:
        """Job `send_email` {delivery_id, correlation_id}: send the delivery unless it is already settled."""
        delivery_id = int(job.payload["delivery_id"])
        # The correlation id of the flow that asked for the e-mail, so its send is logged under it too.
        # And in the trace of the event that asked for it (its run, a trace of its own, links to it).
        with (
            bound_contextvars(correlation_id=job.payload.get("correlation_id"), delivery_id=delivery_id),
            tracing.continuing("send e-mail", job.trace_context),
        ):
            await self._send(conn, job, delivery_id)

    async def _send(self, conn: Connection, job: Job, delivery_id: int) -> None:
        email = await store.lock_outgoing(conn, delivery_id)
        if email is None:
            log.error("mail.delivery_missing")
            return
        if email.status in ("sent", "failed"):  # a stale or repeated job: never a second e-mail
            return
        attempts = email.attempts + 1
        try:
            await self.transport.send(self.build_message(email))
        except SMTP_FAILURES as exc:
            await self._failed(conn, job, email, attempts, exc)
            return
        sent_at = self.clock.now()
        await store.mark_sent(conn, delivery_id, attempts=attempts, sent_at=sent_at)
        self.figures.emails.labels(email.template, "sent").inc()
        if email.created_at is not None:
            self.figures.delay.labels(email.template).observe(max((sent_at - email.created_at).total_seconds(), 0.0))
        log.info("mail.sent", event_id=str(email.event_id), attempts=attempts)

    async def _failed(self, conn: Connection, job: Job, email: OutgoingEmail, attempts: int, exc: Exception) -> None:
        status = status_after_failure(attempts, self.max_attempts, permanent=is_permanent(exc))
        error = f"{type(exc).__name__}: {exc}"
        await store.record_failure(conn, email.delivery_id, attempts=attempts, error=error, status=status)
        if status == "retrying":
            # A new job per try (same payload): the first one's dedupe key `delivery:<id>` is taken for good.
            await schedule(
                conn,
                SEND_EMAIL_JOB,
                job.payload,
                self.clock.now() + backoff(attempts),
                dedupe_key=f"delivery:{email.delivery_id}:try:{attempts + 1}",
            )
        self.figures.emails.labels(email.template, status).inc()
        log.warning("mail.send_failed", attempts=attempts, status=status, error=error)

    def build_message(self, email: OutgoingEmail) -> EmailMessage:
        message = EmailMessage(policy=MESSAGE_POLICY)
        message["From"] = self.sender
        message["To"] = email.recipient
        message["Subject"] = email.subject
        message["Date"] = format_datetime(self.clock.now())
        message["Message-ID"] = message_id(email.event_id, self.sender, email.account_id)
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders do not answer it
        if email.unsubscribe_url is not None:
            # RFC 2369 and RFC 8058: mail programs show an "unsubscribe" button that POSTs to the link at once.
            message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(email.body_text)
        message.add_alternative(email.body_html, subtype="html")
        return message
