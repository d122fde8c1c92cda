"""Support's letters (SUP-1) against the real PostgreSQL, RabbitMQ and SMTP sink: identity's events build the read
models of accounts, partners and their staff; support's events e-mail a new question to the partner's staff (or the
support desk), an answer to the asker, an overdue question to the partner's admins (or the desk), each in its
reader's language, linking to the portal's page of the question at the public address. Events are published to the
broker as the producers' outbox relays would."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from services.notifications.consumers import IDENTITY_QUEUE, SUPPORT_QUEUE
from shared.bus import Bus
from shared.db import Pool
from shared.events import Envelope, wrap
from shared.events.identity import AccountRegistered, Language, PartnerCreated, PartnerStaffJoined, PartnerStaffRemoved
from shared.events.support import QuestionAnswered, QuestionAsked, QuestionOverdue
from tests.infra import RunningApp, TestStack, wait_for
from tests.integration.test_notifications import (
    body,
    deliveries,
    keys,
    mail_to,
    notifications,
    pool,
    publish,
    publisher,
    take_parked,
)
from tests.tokens import TestKeys

__all__ = ["keys", "pool", "publisher"]

PUBLIC = "https://its.test"  # the system's public address: every link of the letters starts with it
DUE = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)  # 15:00 in Moscow, the zone letters show
SHOWN_DUE = {"en": "15 January 2030, 15:00 (UTC+03:00)", "ru": "15.01.2030, 15:00 (UTC+03:00)"}


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module", autouse=True)
async def quiet_queues(migrated: TestStack) -> None:
    """Events other modules left in the queues this module reads would be handled before its own."""
    connection = await aio_pika.connect(migrated.amqp_url)
    try:
        channel = await connection.channel()
        for name in (IDENTITY_QUEUE, SUPPORT_QUEUE):
            try:
                queue = await channel.declare_queue(name, passive=True)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                channel = await connection.channel()
                continue
            await queue.purge()
    finally:
        await connection.close()


class Desk:
    def __init__(self) -> None:
        self.email = f"{unique('desk.')}@example.com"


@pytest.fixture
def desk() -> Desk:
    return Desk()


@pytest.fixture
async def service(migrated: TestStack, smtp_sink: int, keys: TestKeys, desk: Desk) -> AsyncIterator[RunningApp]:
    settings = {"public_url": PUBLIC, "support_desk_email": desk.email, "support_desk_language": "ru"}
    async with notifications(keys, smtp_sink, **settings) as running:
        yield running


def envelope(event: Any, producer: str) -> Envelope:
    return wrap(event, producer=producer, occurred_at=datetime.now(UTC))


class World:
    """People and partners as identity announces them, each event waited for in the read models' inbox."""

    def __init__(self, publisher: Bus, pool: Pool) -> None:
        self.publisher, self.pool = publisher, pool

    async def send(self, event: Any) -> None:
        sent = envelope(event, "identity")
        await publish(self.publisher, sent)
        await wait_for(
            lambda: self.pool.fetchval("SELECT 1 FROM inbox WHERE event_id = $1", sent.id), what=f"{sent.type} handled"
        )

    async def account(self, language: Language = "en", full_name: str | None = "Ivan Petrov") -> tuple[uuid.UUID, str]:
        account_id, login = uuid.uuid4(), unique("ivan")
        email = f"{login}@example.com"
        await self.send(
            AccountRegistered(account_id=account_id, login=login, email=email, full_name=full_name, language=language)
        )
        return account_id, email

    async def partner(self) -> tuple[uuid.UUID, str]:
        partner_id, contact = uuid.uuid4(), f"{unique('office.')}@partner.example"
        await self.send(
            PartnerCreated(partner_id=partner_id, name="Romashka Soft", tin="7707083893", city="Moscow",
                           contact_email=contact)
        )  # fmt: skip
        return partner_id, contact

    async def join(self, partner_id: uuid.UUID, account_id: uuid.UUID, *, admin: bool, at: datetime) -> None:
        await self.send(PartnerStaffJoined(partner_id=partner_id, account_id=account_id, admin=admin, joined_at=at))

    async def remove(self, partner_id: uuid.UUID, account_id: uuid.UUID, *, at: datetime) -> None:
        await self.send(PartnerStaffRemoved(partner_id=partner_id, account_id=account_id, removed_at=at))


@pytest.fixture
def world(publisher: Bus, pool: Pool) -> World:
    return World(publisher, pool)


def question(
    event_type: type[Any],
    *,
    asker: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    kind: str = "consulting",
    **extra: Any,
) -> Envelope:
    now = datetime.now(UTC)
    moments: dict[str, Any]
    if event_type is QuestionAsked:
        moments = {"asked_at": now, "configuration": "Accounting", "registration_number": "80012345678"}
    elif event_type is QuestionAnswered:
        moments = {"message_id": uuid.uuid4(), "asks_for_details": False, "answered_at": now}
    else:
        moments = {"overdue_at": now}
    event = event_type(
        question_id=uuid.uuid4(),
        kind=kind,
        subject="Posting <b>VAT</b> & invoices",
        subscriber_id=uuid.uuid4(),
        subscriber_code="CL-1234567",
        asker_account_id=asker or uuid.uuid4(),
        routed_kind="partner" if partner_id else "vendor",
        partner_id=partner_id,
        routed_name="Romashka Soft" if partner_id else "The vendor's consulting line",
        state="new",
        first_response_due=DUE,
        **{**moments, **extra},
    )
    return envelope(event, "support")


def subject_of(message: EmailMessage) -> str:
    """The subject as a mail program shows it: Python folds a long ASCII subject onto the next line whole, and reads
    it back with the fold's space in front."""
    return " ".join(str(message["Subject"]).split())


def links(message: EmailMessage) -> list[str]:
    """Every web address in the letter, both parts."""
    return re.findall(r"https?://[^\s\"<>]+", body(message, "plain") + body(message, "html"))


def only_links_to(message: EmailMessage, page: str) -> None:
    found = links(message)
    assert f"{PUBLIC}{page}" in found
    assert all(link == f"{PUBLIC}{page}" for link in found), found  # never an API address


async def one_letter(mail_dir: Path, recipient: str) -> EmailMessage:
    [message] = await wait_for(lambda: mail_to(mail_dir, recipient), what=f"a letter to {recipient}")
    assert isinstance(message, EmailMessage)
    return message


# ---- a new question --------------------------------------------------------------------------


async def test_a_new_question_goes_to_each_of_the_partners_staff_in_their_language(
    service: RunningApp, world: World, publisher: Bus, pool: Pool, mail_dir: Path
) -> None:
    partner_id, contact = await world.partner()
    olga, olga_email = await world.account("en", "Olga Admin")
    pavel, pavel_email = await world.account("ru", "Павел Петров")
    gone, gone_email = await world.account("en")
    joined = datetime.now(UTC) - timedelta(days=3)
    await world.join(partner_id, olga, admin=True, at=joined)
    await world.join(partner_id, pavel, admin=False, at=joined)
    await world.join(partner_id, gone, admin=False, at=joined)
    await world.remove(partner_id, gone, at=joined + timedelta(days=1))
    await world.join(partner_id, gone, admin=False, at=joined)  # an old join arriving late changes nothing

    asked = question(QuestionAsked, partner_id=partner_id)
    await publish(publisher, asked)
    page = f"/partner/{partner_id}/support/{asked.data['question_id']}"

    english = await one_letter(mail_dir, olga_email)
    assert subject_of(english) == "New question from subscriber CL-1234567: Posting <b>VAT</b> & invoices"
    text = body(english, "plain")
    assert "Hello, Olga Admin!" in text and "Romashka Soft" in text and "80012345678" in text
    assert SHOWN_DUE["en"] in text
    assert "Posting &lt;b&gt;VAT&lt;/b&gt; &amp; invoices" in body(english, "html")  # escaped, never live
    only_links_to(english, page)

    russian = await one_letter(mail_dir, pavel_email)
    assert subject_of(russian) == "Новый вопрос от абонента CL-1234567: Posting <b>VAT</b> & invoices"
    assert "Здравствуйте, Павел Петров!" in body(russian, "plain") and SHOWN_DUE["ru"] in body(russian, "plain")
    only_links_to(russian, page)

    assert mail_to(mail_dir, gone_email) == []  # left the staff
    assert mail_to(mail_dir, contact) == []  # the staff are known: not the office's address
    rows = await pool.fetch("SELECT account_id FROM deliveries WHERE event_id = $1", asked.id)
    assert sorted(r["account_id"] for r in rows) == sorted([olga, pavel])


async def test_a_partner_whose_staff_is_not_known_is_written_at_its_contact_address(
    service: RunningApp, world: World, publisher: Bus, mail_dir: Path
) -> None:
    partner_id, contact = await world.partner()
    asked = question(QuestionAsked, partner_id=partner_id)
    await publish(publisher, asked)
    letter = await one_letter(mail_dir, contact)
    assert "Hello, Romashka Soft!" in body(letter, "plain")  # partners' letters are in English (languages.py)
    only_links_to(letter, f"/partner/{partner_id}/support/{asked.data['question_id']}")


async def test_feedback_and_questions_no_partner_accompanies_go_to_the_support_desk(
    service: RunningApp, publisher: Bus, desk: Desk, mail_dir: Path
) -> None:
    feedback = question(QuestionAsked, kind="feedback", configuration=None, registration_number=None)
    consulting = question(QuestionAsked)
    await publish(publisher, feedback)
    await publish(publisher, consulting)
    letters = await wait_for(lambda: len(found := mail_to(mail_dir, desk.email)) == 2 and found, what="two letters")
    by_subject = {subject_of(m): m for m in letters}
    first = by_subject["Новый отзыв от абонента CL-1234567: Posting <b>VAT</b> & invoices"]  # the desk's language
    assert "Здравствуйте!" in body(first, "plain")  # an address, not a person: no name
    assert "прислал отзыв разработчику" in body(first, "plain") and "Первый ответ" not in body(first, "plain")
    only_links_to(first, f"/operator/support/{feedback.data['question_id']}")
    second = by_subject["Новый вопрос от абонента CL-1234567: Posting <b>VAT</b> & invoices"]
    assert "линии консультаций разработчика" in body(second, "plain")
    only_links_to(second, f"/operator/support/{consulting.data['question_id']}")


# ---- an answer -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "details", "subject", "says"),
    [
        ("en", False, "Your question is answered: Posting <b>VAT</b> & invoices", "Romashka Soft answered"),
        ("en", True, "More details are needed for your question: Posting <b>VAT</b> & invoices", "needs more details"),
        ("ru", False, "На ваш вопрос ответили: Posting <b>VAT</b> & invoices", "Партнёр «Romashka Soft» ответил"),
        ("ru", True, "Для ответа на ваш вопрос нужны подробности: Posting <b>VAT</b> & invoices", "нужны подробности"),
    ],
)
async def test_the_answer_goes_to_the_asker_in_the_askers_language(
    service: RunningApp,
    world: World,
    publisher: Bus,
    mail_dir: Path,
    language: Language,
    details: bool,
    subject: str,
    says: str,
) -> None:
    asker, email = await world.account(language, "Anna Asker")
    answered = question(QuestionAnswered, asker=asker, partner_id=uuid.uuid4(), asks_for_details=details)
    await publish(publisher, answered)
    letter = await one_letter(mail_dir, email)
    assert subject_of(letter) == subject
    assert says in body(letter, "plain") and "Anna Asker" in body(letter, "plain")
    only_links_to(letter, f"/support/questions/{answered.data['question_id']}")


async def test_an_answer_to_an_asker_not_known_yet_is_sent_once_the_account_is(
    service: RunningApp, publisher: Bus, mail_dir: Path
) -> None:
    asker, login = uuid.uuid4(), unique("late")
    answered = question(QuestionAnswered, asker=asker)
    await publish(publisher, answered)  # identity's event comes later, on another queue: retried meanwhile
    account = AccountRegistered(account_id=asker, login=login, email=f"{login}@example.com", full_name=None)
    await publish(publisher, envelope(account, "identity"))
    letter = await one_letter(mail_dir, f"{login}@example.com")
    assert f"Hello, {login}!" in body(letter, "plain")
    assert "The vendor's support answered" in body(letter, "plain")


# ---- overdue ---------------------------------------------------------------------------------


async def test_an_overdue_question_goes_to_the_partners_admins_only_or_the_desk(
    service: RunningApp, world: World, publisher: Bus, desk: Desk, mail_dir: Path
) -> None:
    partner_id, contact = await world.partner()
    admin, admin_email = await world.account("ru", "Ольга Админ")
    clerk, clerk_email = await world.account("en")
    await world.join(partner_id, admin, admin=True, at=datetime.now(UTC))
    await world.join(partner_id, clerk, admin=False, at=datetime.now(UTC))
    overdue = question(QuestionOverdue, partner_id=partner_id)
    vendors = question(QuestionOverdue)
    await publish(publisher, overdue)
    await publish(publisher, vendors)

    letter = await one_letter(mail_dir, admin_email)
    assert subject_of(letter) == "Просрочен первый ответ на вопрос абонента CL-1234567: Posting <b>VAT</b> & invoices"
    assert SHOWN_DUE["ru"] in body(letter, "plain") and "администратор партнёра «Romashka Soft»" in body(
        letter, "plain"
    )
    only_links_to(letter, f"/partner/{partner_id}/support/{overdue.data['question_id']}")
    to_desk = await one_letter(mail_dir, desk.email)
    only_links_to(to_desk, f"/operator/support/{vendors.data['question_id']}")
    assert mail_to(mail_dir, clerk_email) == [] and mail_to(mail_dir, contact) == []


# ---- duplicates and malformed messages -------------------------------------------------------


async def test_the_same_event_delivered_twice_sends_each_reader_one_letter(
    service: RunningApp, world: World, publisher: Bus, pool: Pool, desk: Desk, mail_dir: Path
) -> None:
    partner_id, _ = await world.partner()
    staff = [await world.account() for _ in range(2)]
    for account_id, _ in staff:
        await world.join(partner_id, account_id, admin=True, at=datetime.now(UTC))
    asked = question(QuestionAsked, partner_id=partner_id)
    to_desk = question(QuestionOverdue)
    for event in (asked, asked, to_desk, to_desk):
        await publish(publisher, event)
    # The same event again under another message id (a producer's retry): the deliveries' unique (event, account).
    await publisher.publish(asked.type, asked.model_dump_json().encode(), message_id=str(uuid.uuid4()))

    for _, email in staff:
        await one_letter(mail_dir, email)
    await one_letter(mail_dir, desk.email)
    await wait_for(
        lambda: pool.fetchval(
            "SELECT count(*) = 0 FROM deliveries WHERE event_id = ANY($1::uuid[]) AND status <> 'sent'",
            [asked.id, to_desk.id],
        ),
        what="every delivery sent",
    )
    assert len(await deliveries(pool, desk.email)) == 1
    for _, email in staff:
        assert len(mail_to(mail_dir, email)) == 1 and len(await deliveries(pool, email)) == 1


async def test_malformed_support_events_are_parked_and_the_next_good_one_is_handled(
    migrated: TestStack, service: RunningApp, publisher: Bus, desk: Desk, mail_dir: Path
) -> None:
    not_json = str(uuid.uuid4())
    await publisher.publish(QuestionAsked.TYPE, b"{not json", message_id=not_json)
    no_subject = question(QuestionAsked)
    del no_subject.data["subject"]
    await publish(publisher, no_subject)
    no_partner = question(QuestionAsked)
    no_partner.data["routed_kind"] = "partner"  # routed to a partner, naming none: the producer's mistake
    await publish(publisher, no_partner)
    good = question(QuestionAsked)
    await publish(publisher, good)

    letter = await one_letter(mail_dir, desk.email)
    assert good.data["question_id"] in " ".join(links(letter))
    parked = await take_parked(migrated, {not_json, str(no_subject.id), str(no_partner.id)}, SUPPORT_QUEUE)
    assert "not an event envelope" in parked[not_json]["x-error"]
    assert "subject" in parked[str(no_subject.id)]["x-error"]
    assert "names no partner" in parked[str(no_partner.id)]["x-error"]
