"""Support's events (SUP-1) as letters: whom each goes to, found in the read models of identity's events (the
asker's account; the partner's staff and admins, or its contact address while none is known; the support desk's
address for the vendor), and what each is sent (support_letters.py).

A new question goes to the staff who answer it (feedback, and a question no partner accompanies: the desk); the
staff's answer or request for details to the asker; an overdue question (support says so once per question) to the
partner's admins or the desk. Each reader gets one letter per event (the deliveries' unique (event, account)).
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from services.notifications import partners_store
from services.notifications.addresses import Unsendable
from services.notifications.languages import PARTNER_LANGUAGE
from services.notifications.letters import EmailRequest
from services.notifications.partners_store import Person
from services.notifications.support_letters import (
    SupportDesk,
    SupportLinks,
    answering_partner,
    question_answered_email,
    question_asked_email,
    question_overdue_email,
)
from shared.db import Connection
from shared.events import Envelope, unwrap
from shared.events.support import QuestionAnswered, QuestionAsked, QuestionEvent, QuestionOverdue
from shared.logging import get_logger

log = get_logger(__name__)

LETTER_EVENTS = (QuestionAsked.TYPE, QuestionAnswered.TYPE, QuestionOverdue.TYPE)


class ReadersNotKnownYet(Exception):
    """The read models have not learnt the letter's readers yet (identity's events come on another queue, in no
    order with support's): the event is retried with back-off, and parked if they never come."""


async def support_letters(
    conn: Connection, envelope: Envelope, links: SupportLinks, desk: SupportDesk, zone: ZoneInfo
) -> list[EmailRequest]:
    """The letters a support event asks for (Unsendable: none can ever be sent)."""
    if envelope.type == QuestionAnswered.TYPE:
        answered = unwrap(envelope, QuestionAnswered)
        asker = await partners_store.account(conn, answered.asker_account_id)
        if asker is None:
            raise ReadersNotKnownYet(f"the asker {answered.asker_account_id} is not known yet")
        return [question_answered_email(answered, asker, links, zone)]
    if envelope.type == QuestionAsked.TYPE:
        asked = unwrap(envelope, QuestionAsked)
        readers = await staff_readers(conn, asked, desk, admins_only=False)
        return _each(readers, lambda reader: question_asked_email(asked, reader, links, zone))
    overdue = unwrap(envelope, QuestionOverdue)
    readers = await staff_readers(conn, overdue, desk, admins_only=True)
    return _each(readers, lambda reader: question_overdue_email(overdue, reader, links, zone))


async def staff_readers(
    conn: Connection, event: QuestionEvent, desk: SupportDesk, *, admins_only: bool
) -> list[Person]:
    """Who answers the question: the partner's staff (`admins_only`: its admins), or while the read model knows
    none of them, the partner's contact address; the desk for the vendor."""
    if event.routed_kind == "vendor":
        return [desk.person()]
    partner_id = answering_partner(event)
    staff = await partners_store.staff(conn, partner_id, admins_only=admins_only)
    if staff:
        return staff
    partner = await partners_store.partner(conn, partner_id)
    if partner is None:
        raise ReadersNotKnownYet(f"the partner {partner_id} is not known yet")
    return [Person(None, partner.contact_email, None, partner.name, PARTNER_LANGUAGE)]


def _each(readers: list[Person], letter: Callable[[Person], EmailRequest]) -> list[EmailRequest]:
    """One letter per reader; a reader whose address cannot be written to is left out, not the others (none
    left: Unsendable)."""
    letters: list[EmailRequest] = []
    refused: Unsendable | None = None
    for reader in readers:
        try:
            letters.append(letter(reader))
        except Unsendable as exc:
            refused = exc
            log.warning("mail.reader_unsendable", account_id=str(reader.account_id), error=str(exc))
    if refused is not None and not letters:
        raise refused
    return letters
