"""Support's letters (SUP-1), pure: a new question to the staff who answer it, an answer to the asker, an overdue
question to the partner's admins (or the operators). Each links to the portal's page of the question for its
reader, at the system's public address (ITS_PUBLIC_URL), never to an API address.

Who the readers are is found in the read models (support_mail.py); this module says what each one is sent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from services.notifications.addresses import Unsendable, check_link, check_recipient
from services.notifications.languages import pick_language
from services.notifications.letters import EmailRequest
from services.notifications.partners_store import Person
from services.notifications.wording import display_name, format_moment
from shared.events.identity import Language
from shared.events.support import QuestionAnswered, QuestionAsked, QuestionEvent, QuestionOverdue
from shared.settings import public_link

# The portal's pages of a question (services/portal builds them with exactly these paths): the asker's thread, the
# partner's queue item and the operators' one.
ASKER_PAGE = "/support/questions/{question_id}"
PARTNER_PAGE = "/partner/{partner_id}/support/{question_id}"
OPERATOR_PAGE = "/operator/support/{question_id}"


@dataclass(frozen=True)
class SupportDesk:
    """Where letters for the vendor's operators go: identity's events do not say who the operators are (an
    account's operator flag is never announced), so one configured address, the desk's (ITS_SUPPORT_DESK_EMAIL),
    in its language (ITS_SUPPORT_DESK_LANGUAGE)."""

    email: str
    language: Language

    def person(self) -> Person:
        return Person(account_id=None, email=self.email, login=None, full_name=None, language=self.language)


@dataclass(frozen=True)
class SupportLinks:
    public_url: str

    def asker(self, event: QuestionEvent) -> str:
        return self._link(ASKER_PAGE.format(question_id=event.question_id))

    def staff(self, event: QuestionEvent) -> str:
        """The partner's queue item, or the operators' for a question routed to the vendor."""
        if event.routed_kind == "vendor":
            return self._link(OPERATOR_PAGE.format(question_id=event.question_id))
        return self._link(PARTNER_PAGE.format(partner_id=answering_partner(event), question_id=event.question_id))

    def _link(self, path: str) -> str:
        return check_link(public_link(self.public_url, path))


def answering_partner(event: QuestionEvent) -> uuid.UUID:
    """The partner a question routed to a partner names; without one the event is the producer's mistake."""
    if event.partner_id is None:
        raise Unsendable("a question routed to a partner names no partner")
    return event.partner_id


def question_asked_email(event: QuestionAsked, reader: Person, links: SupportLinks, zone: ZoneInfo) -> EmailRequest:
    """A new question (or feedback) for one of the staff who answer it, with its due moment."""
    return _letter(
        "support_question_asked",
        event,
        reader,
        links.staff(event),
        zone,
        configuration=event.configuration,
        registration_number=event.registration_number,
        asked_at=format_moment(event.asked_at, pick_language(reader.language), zone),
    )


def question_answered_email(
    event: QuestionAnswered, asker: Person, links: SupportLinks, zone: ZoneInfo
) -> EmailRequest:
    """The staff wrote to the asker: an answer, or a request for details."""
    return _letter(
        "support_question_answered",
        event,
        asker,
        links.asker(event),
        zone,
        asks_for_details=event.asks_for_details,
        answered_at=format_moment(event.answered_at, pick_language(asker.language), zone),
    )


def question_overdue_email(event: QuestionOverdue, reader: Person, links: SupportLinks, zone: ZoneInfo) -> EmailRequest:
    """No first answer by the due moment: for one of the partner's admins (or the operators)."""
    return _letter("support_question_overdue", event, reader, links.staff(event), zone)


def _letter(
    template: str, event: QuestionEvent, reader: Person, page_url: str, zone: ZoneInfo, **context: Any
) -> EmailRequest:
    language = pick_language(reader.language)
    return EmailRequest(
        template=template,
        language=language,
        recipient=check_recipient(reader.email),
        account_id=reader.account_id,
        context={
            # None: an address alone (the desk), greeted without a name.
            "name": display_name(reader.full_name, reader.login or "") or None,
            "subject": event.subject,
            "feedback": event.kind == "feedback",
            "subscriber_code": event.subscriber_code,
            "routed_name": event.routed_name,
            "to_vendor": event.routed_kind == "vendor",
            "due": format_moment(event.first_response_due, language, zone),
            "page_url": page_url,
            **context,
        },
    )
