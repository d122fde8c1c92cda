"""notifications against the real PostgreSQL, RabbitMQ and SMTP sink: identity's, registration's and contracts'
events in, e-mail out, the delivery log for operators. Events are published to the broker as the producers' outbox
relays would."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import pytest

from devtools.smtp_sink import read_mail, start_sink, stored_mail
from services.notifications import store
from services.notifications.api import PAGE_CURSOR
from services.notifications.app import SCHEMA, NotificationsSettings, create_app
from services.notifications.consumers import CONTRACTS_QUEUE, IDENTITY_QUEUE, REGISTRATION_QUEUE, UPDATES_QUEUE
from services.notifications.delivery import DeliveryStatus
from services.notifications.rendering import RenderedEmail
from shared.bus import Bus, dlq_name
from shared.clock import TestClock
from shared.db import Pool, close_pool, create_pool
from shared.events import Envelope, wrap
from shared.events.contracts import ContractActivated, MaintenanceActivated, Organisation, OrganisationErrorReported
from shared.events.identity import (
    EmailVerificationRequested,
    InvitationAccepted,
    InvitationSent,
    Language,
    PasswordResetRequested,
)
from shared.events.registration import PartnerAuthorisedProducts
from shared.jobs import backoff
from shared.keys import METRICS
from shared.pages import encode_cursor
from tests.infra import RunningApp, TestStack, free_port, wait_for
from tests.notifications_samples import authorised_products
from tests.tokens import TestKeys

PROBLEM = "application/problem+json"
EXPIRES = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)  # 15:00 in Moscow, the zone e-mails show
VALID_UNTIL = {
    "en": "15 January 2030, 15:00 (UTC+03:00)",
    "ru": "15.01.2030, 15:00 (UTC+03:00)",
}
SUBJECT = {
    "en": "Confirm your e-mail address for ITS Portal",
    "ru": "Подтвердите адрес электронной почты на портале ИТС",
}
DELIVERY_FIELDS = {
    "id",
    "event_id",
    "event_type",
    "recipient",
    "template",
    "language",
    "subject",
    "status",
    "attempts",
    "last_error",
    "created_at",
    "sent_at",
    "failure",
}


# ---- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys() -> TestKeys:
    return TestKeys()


@pytest.fixture(scope="module")
async def publisher(migrated: TestStack) -> AsyncIterator[Bus]:
    bus = Bus(migrated.amqp_url, name="notifications-test-publisher", prefetch=1, delivery_limit=20)
    await bus.connect()
    yield bus
    await bus.close()


@pytest.fixture(scope="module")
async def pool(migrated: TestStack) -> AsyncIterator[Pool]:
    pool = await create_pool(migrated.database_url, SCHEMA, min_size=1, max_size=2)
    yield pool
    await close_pool(pool)


@contextlib.asynccontextmanager
async def notifications(keys: TestKeys, smtp_port: int, **settings: Any) -> AsyncIterator[RunningApp]:
    """The service in this process; the rest of its settings come from the test stack's ITS_* variables."""
    app = create_app(NotificationsSettings(smtp_port=smtp_port, smtp_timeout=5, **settings), keys=keys)
    async with RunningApp(app) as running:
        yield running


@pytest.fixture(scope="module", autouse=True)
async def quiet_queues(migrated: TestStack) -> None:
    """Other modules' notifications (the gateway's, as a process) left its queues bound, and the events of every
    test since wait there: this module's tests start without them (each would be an e-mail sent before theirs)."""
    connection = await aio_pika.connect(migrated.amqp_url)
    try:
        channel = await connection.channel()
        for name in (IDENTITY_QUEUE, REGISTRATION_QUEUE, CONTRACTS_QUEUE, UPDATES_QUEUE):
            try:
                queue = await channel.declare_queue(name, passive=True)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                channel = await connection.channel()  # not declared yet: nothing waits there
                continue
            await queue.purge()
    finally:
        await connection.close()


@pytest.fixture
async def service(migrated: TestStack, smtp_sink: int, keys: TestKeys) -> AsyncIterator[RunningApp]:
    async with notifications(keys, smtp_sink) as running:
        yield running


@contextlib.contextmanager
def clock_moved(stack: TestStack, by: timedelta) -> Any:
    """Move the shared test clock (the service sees it within a second), and put it back afterwards."""
    clock = TestClock(stack.var_dir)
    saved = clock.offset()
    clock.advance(by)
    try:
        yield
    finally:
        clock.set_offset(saved)


def new_address() -> str:
    return f"ivan.{uuid.uuid4().hex[:12]}@example.com"


def verification_requested(email: str, language: Language = "en", full_name: str | None = "Ivan Petrov") -> Envelope:
    event = EmailVerificationRequested(
        account_id=uuid.uuid4(),
        login="ivanp",
        email=email,
        full_name=full_name,
        language=language,
        verification_url=f"https://identity.test/v1/email-verifications/{uuid.uuid4().hex}?a=1&b=2",
        expires_at=EXPIRES,
    )
    return wrap(event, producer="identity", occurred_at=datetime.now(UTC))


INVITATION_TEXT = 'Hello, Ivan Petrov!\n\nOlga <Owner> invites you to become a user of "Romashka & Co".\nWelcome!\n'


def invitation_sent(email: str, language: Language = "en") -> Envelope:
    event = InvitationSent(
        invitation_id=uuid.uuid4(),
        subscriber_id=uuid.uuid4(),
        subscriber_name="Romashka & Co",
        email=email,
        full_name="Ivan Petrov",
        its_access=True,
        text=INVITATION_TEXT,
        invitation_url=f"https://identity.test/invitations/{uuid.uuid4().hex}?a=1&b=2",
        valid_until=EXPIRES,
        owner_name="Olga Owner",
        owner_email="olga@example.com",
        language=language,
    )
    return wrap(event, producer="identity", occurred_at=datetime.now(UTC))


def invitation_accepted(owner_email: str, language: Language = "en") -> Envelope:
    event = InvitationAccepted(
        invitation_id=uuid.uuid4(),
        subscriber_id=uuid.uuid4(),
        subscriber_name="Romashka & Co",
        account_id=uuid.uuid4(),
        full_name="Ivan Petrov",
        email="ivan@example.com",
        owner_name="Olga Owner",
        owner_email=owner_email,
        owner_language=language,
    )
    return wrap(event, producer="identity", occurred_at=datetime.now(UTC))


def partner_authorised(owner_email: str, language: Language = "en") -> Envelope:
    event = PartnerAuthorisedProducts(
        subscriber_id=uuid.uuid4(),
        subscriber_code="100-200-300",
        subscriber_name="Romashka & Co",
        partner_id=uuid.uuid4(),
        partner_name="SoftPartner",
        purchase_date=date(2030, 3, 1),
        products=authorised_products("1C:Accounting <PROF>"),
        owner_email=owner_email,
        owner_name="Olga Owner",
        owner_language=language,
    )
    return wrap(event, producer="registration", occurred_at=datetime.now(UTC))


def contract_activated(partner_email: str) -> Envelope:
    event = ContractActivated(
        contract_id=uuid.uuid4(),
        number="ITS-2026/17",
        partner_id=uuid.uuid4(),
        subscriber_code="100-200-300",
        organisation=Organisation(name="Romashka & Co <LLC>", tin="7701234567", kpp="770101001"),
        main_registration_number="12345678903",
        additional_registration_numbers=["98765432106"],
        period_from="2026-11",
        period_to="2027-10",
        kind="PROF",
        partner_name="SoftPartner",
        partner_email=partner_email,
        activated_at=datetime(2026, 11, 2, 6, 0, tzinfo=UTC),  # 09:00 in Moscow
    )
    return wrap(event, producer="contracts", occurred_at=datetime.now(UTC))


ORGANISATION_MESSAGE = 'Our TIN is 7701234568, not 7701234567.\n<script>alert("x")</script> & thanks!'


def organisation_error_reported(partner_email: str) -> Envelope:
    event = OrganisationErrorReported(
        report_id=uuid.uuid4(),
        contract_id=uuid.uuid4(),
        number="ITS-2026/17",
        organisation=Organisation(name="Romashka & Co <LLC>", tin="7701234567"),
        partner_id=uuid.uuid4(),
        partner_name="SoftPartner",
        partner_email=partner_email,
        subscriber_code="100-200-300",
        subscriber_name="Romashka & Co",
        message=ORGANISATION_MESSAGE,
        reported_at=datetime(2026, 11, 2, 6, 0, tzinfo=UTC),
    )
    return wrap(event, producer="contracts", occurred_at=datetime.now(UTC))


def maintenance_activated(partner_email: str | None) -> Envelope:
    """To the partner at `partner_email`; None: the subscriber has no partner chosen."""
    event = MaintenanceActivated(
        activation_id=uuid.uuid4(),
        subscriber_id=uuid.uuid4(),
        subscriber_code="100-200-300",
        subscriber_name="Romashka & Co",
        configuration="Accounting",
        category=2,
        period_from="2026-11",
        period_to="2027-10",
        registration_numbers=["12345678903", "98765432106"],
        warning="No valid ITS contract covers the whole period.",
        partner_id=uuid.uuid4() if partner_email is not None else None,
        partner_name="SoftPartner" if partner_email is not None else None,
        partner_email=partner_email,
    )
    return wrap(event, producer="contracts", occurred_at=datetime.now(UTC))


async def publish(bus: Bus, envelope: Envelope) -> None:
    await bus.publish(
        envelope.type, envelope.model_dump_json().encode(), message_id=str(envelope.id), message_type=envelope.type
    )


def mail_to(mail_dir: Path, recipient: str) -> list[EmailMessage]:
    """The messages the sink received for `recipient` (SMTP envelope), oldest first."""
    return [
        message
        for message in map(read_mail, stored_mail(mail_dir))
        if recipient.lower() in str(message.get("X-Sink-Rcpt-To", "")).lower()
    ]


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None, f"no {kind} part"
    content: str = part.get_content()
    return content


async def deliveries(pool: Pool, recipient: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM deliveries WHERE lower(recipient) = lower($1) ORDER BY id", recipient)


async def delivery_in(pool: Pool, recipient: str, status: DeliveryStatus) -> asyncpg.Record | None:
    """The recipient's one delivery if it is in `status`, with its pending send job's due time (one snapshot)."""
    return await pool.fetchrow(
        "SELECT d.*, j.run_at AS next_try, j.payload->>'correlation_id' AS job_correlation_id "
        "FROM deliveries d LEFT JOIN deferred_jobs j "
        "ON j.kind = 'send_email' AND j.state = 'pending' AND (j.payload->>'delivery_id')::bigint = d.id "
        "WHERE lower(d.recipient) = lower($1) AND d.status = $2",
        recipient,
        status,
    )


# ---- ACC-2: the verification e-mail ------------------------------------------------------------


@pytest.mark.parametrize(("account_language", "language"), [("en", "en"), ("ru", "ru"), ("de", "en")])
async def test_verification_event_sends_one_email_with_the_link_and_valid_until(
    service: RunningApp, publisher: Bus, pool: Pool, mail_dir: Path, account_language: str, language: Language
) -> None:
    recipient = new_address()
    envelope = verification_requested(recipient)
    envelope.data["language"] = account_language  # "de": no templates yet, so English
    url = envelope.data["verification_url"]
    await publish(publisher, envelope)

    [message] = await wait_for(lambda: mail_to(mail_dir, recipient), what="the verification e-mail")
    assert message["To"] == recipient
    assert message["From"] == "ITS Portal <no-reply@its-portal.local>"
    assert message["Subject"] == SUBJECT[language]
    assert message["Message-ID"] == f"<{envelope.id}@its-portal.local>"
    assert message.get_content_type() == "multipart/alternative"
    text, html = body(message, "plain"), body(message, "html")
    assert url in text
    assert f'href="{url.replace("&", "&amp;")}"' in html
    assert VALID_UNTIL[language] in text
    assert VALID_UNTIL[language] in html
    assert "Ivan Petrov" in text

    row = await wait_for(lambda: delivery_in(pool, recipient, "sent"), what="the delivery marked sent")
    assert row["event_id"] == envelope.id
    assert (row["template"], row["language"], row["attempts"]) == ("email_verification", language, 1)
    assert row["sent_at"] is not None
    assert row["next_try"] is None
    await asyncio.sleep(0.5)
    assert len(mail_to(mail_dir, recipient)) == 1


async def test_password_reset_event_sends_the_reset_link(service: RunningApp, publisher: Bus, mail_dir: Path) -> None:
    recipient = new_address()
    event = PasswordResetRequested(
        account_id=uuid.uuid4(),
        login="ivanp",
        email=recipient,
        full_name=None,
        language="ru",
        reset_url="https://identity.test/reset?token=Zz9",
        expires_at=EXPIRES,
    )
    await publish(publisher, wrap(event, producer="identity", occurred_at=datetime.now(UTC)))
    [message] = await wait_for(lambda: mail_to(mail_dir, recipient), what="the password reset e-mail")
    assert message["Subject"] == "Восстановление пароля на портале ИТС"
    text = body(message, "plain")
    assert text.startswith("Здравствуйте, ivanp!")
    assert "https://identity.test/reset?token=Zz9" in text
    assert VALID_UNTIL["ru"] in text


# ---- INV-2, INV-3: the invitation; INV-5: the owner told it was accepted -------------------------


@pytest.mark.parametrize(("event_language", "language"), [("en", "en"), ("ru", "ru"), ("de", "en")])
async def test_invitation_event_sends_one_email_with_the_text_link_and_valid_until(
    service: RunningApp, publisher: Bus, pool: Pool, mail_dir: Path, event_language: str, language: Language
) -> None:
    recipient = new_address()
    envelope = invitation_sent(recipient)
    envelope.data["language"] = event_language  # "de": no templates yet, so English
    url = envelope.data["invitation_url"]
    await publish(publisher, envelope)

    [message] = await wait_for(lambda: mail_to(mail_dir, recipient), what="the invitation e-mail")
    assert message["To"] == recipient
    assert message["Message-ID"] == f"<{envelope.id}@its-portal.local>"
    assert (
        message["Subject"]
        == {
            "en": 'Invitation to become a user of "Romashka & Co" on ITS Portal',
            "ru": "Приглашение стать пользователем абонента «Romashka & Co» на портале ИТС",
        }[language]
    )
    text, html = body(message, "plain"), body(message, "html")
    assert INVITATION_TEXT in text  # INV-2: what the owner read, as it is
    assert "Olga &lt;Owner&gt; invites you to become a user of &#34;Romashka &amp; Co&#34;.<br>Welcome!" in html
    assert "<Owner>" not in html
    assert url in text
    assert f'href="{url.replace("&", "&amp;")}"' in html
    assert VALID_UNTIL[language] in text  # INV-3
    assert VALID_UNTIL[language] in html
    assert "Olga Owner (olga@example.com)" in text

    row = await wait_for(lambda: delivery_in(pool, recipient, "sent"), what="the delivery marked sent")
    assert (row["event_id"], row["event_type"]) == (envelope.id, InvitationSent.TYPE)
    assert (row["template"], row["language"], row["attempts"]) == ("invitation", language, 1)
    await asyncio.sleep(0.5)
    assert len(mail_to(mail_dir, recipient)) == 1


@pytest.mark.parametrize(("owner_language", "language"), [("en", "en"), ("ru", "ru"), ("de", "en")])
async def test_invitation_accepted_event_tells_the_owner_in_the_owners_language(
    service: RunningApp, publisher: Bus, pool: Pool, mail_dir: Path, owner_language: str, language: Language
) -> None:
    owner = new_address()
    envelope = invitation_accepted(owner)
    envelope.data["owner_language"] = owner_language
    await publish(publisher, envelope)

    [message] = await wait_for(lambda: mail_to(mail_dir, owner), what="the e-mail to the owner")
    assert message["To"] == owner
    assert (
        message["Subject"]
        == {
            "en": 'Ivan Petrov accepted your invitation to "Romashka & Co"',
            "ru": "Приглашение принято: Ivan Petrov, абонент «Romashka & Co»",
        }[language]
    )
    text, html = body(message, "plain"), body(message, "html")
    assert "Ivan Petrov (ivan@example.com)" in text
    assert "Ivan Petrov (ivan@example.com)" in html
    assert "Romashka &amp; Co" in html
    assert text.startswith({"en": "Hello, Olga Owner!", "ru": "Здравствуйте, Olga Owner!"}[language])
    assert mail_to(mail_dir, "ivan@example.com") == []  # to the owner only

    row = await wait_for(lambda: delivery_in(pool, owner, "sent"), what="the delivery marked sent")
    assert (row["event_type"], row["template"], row["language"]) == (
        InvitationAccepted.TYPE,
        "invitation_accepted",
        language,
    )
    await asyncio.sleep(0.5)
    assert len(mail_to(mail_dir, owner)) == 1


async def test_invitations_that_can_never_be_sent_are_parked(
    migrated: TestStack, service: RunningApp, publisher: Bus, pool: Pool, mail_dir: Path
) -> None:
    script_link = invitation_sent(new_address())
    script_link.data["invitation_url"] = "javascript:alert(1)"
    bad_owner = invitation_accepted("olga at example.com")
    no_text = invitation_sent(new_address())
    del no_text.data["text"]
    for envelope in (script_link, bad_owner, no_text):
        await publish(publisher, envelope)
    good = new_address()
    await publish(publisher, invitation_sent(good))

    await wait_for(lambda: mail_to(mail_dir, good), what="the good message's e-mail")
    parked = await take_parked(migrated, {str(script_link.id), str(bad_owner.id), str(no_text.id)})
    assert "not a web link" in parked[str(script_link.id)]["x-error"]
    assert "not an e-mail address" in parked[str(bad_owner.id)]["x-error"]
    assert "ValidationError" in parked[str(no_text.id)]["x-error"]
    assert "\ntext\n  Field required" in parked[str(no_text.id)]["x-error"]
    assert await deliveries(pool, script_link.data["email"]) == []
    assert await deliveries(pool, "olga at example.com") == []
    assert await deliveries(pool, no_text.data["email"]) == []


# ---- REG-5: the partner's letter to the subscriber's owner -------------------------------------


@pytest.mark.parametrize(("owner_language", "language"), [("en", "en"), ("ru", "ru"), ("de", "en")])
async def test_partner_authorised_event_sends_the_owner_the_list_of_products(
    service: RunningApp, publisher: Bus, pool: Pool, mail_dir: Path, owner_language: str, language: Language
) -> None:
    owner = new_address()
    envelope = partner_authorised(owner)
    envelope.data["owner_language"] = owner_language  # "de": no templates yet, so English
    await publish(publisher, envelope)

    [message] = await wait_for(lambda: mail_to(mail_dir, owner), what="the partner's letter to the owner")
    assert message["To"] == owner
    assert message["Message-ID"] == f"<{envelope.id}@its-portal.local>"
    assert (
        message["Subject"]
        == {
            "en": 'SoftPartner registered software for "Romashka & Co" (100-200-300)',
            "ru": "Партнёр «SoftPartner» зарегистрировал программы для абонента «Romashka & Co» (100-200-300)",
        }[language]
    )
    text, html = body(message, "plain"), body(message, "html")
    for number in ("12345678903", "98765432106"):
        assert number in text
        assert number in html
    assert "1C:Accounting <PROF>" in text
    assert "1C:Accounting &lt;PROF&gt;" in html
    assert "<PROF>" not in html
    assert "Accounting, Payroll" in text
    assert {"en": "1 March 2030", "ru": "01.03.2030"}[language] in text
    assert {"en": "6 months of free ITS support", "ru": "6 месяцев бесплатной поддержки ИТС"}[language] in text
    assert text.startswith({"en": "Hello, Olga Owner!", "ru": "Здравствуйте, Olga Owner!"}[language])

    row = await wait_for(lambda: delivery_in(pool, owner, "sent"), what="the delivery marked sent")
    assert (row["event_id"], row["event_type"]) == (envelope.id, PartnerAuthorisedProducts.TYPE)
    assert (row["template"], row["language"], row["attempts"]) == ("products_authorised", language, 1)
    await asyncio.sleep(0.5)
    assert len(mail_to(mail_dir, owner)) == 1


async def test_partner_letters_that_can_never_be_sent_are_parked(
    migrated: TestStack, service: RunningApp, publisher: Bus, pool: Pool, mail_dir: Path
) -> None:
    not_json = str(uuid.uuid4())
    await publisher.publish(PartnerAuthorisedProducts.TYPE, b"{this is not json", message_id=not_json)
    no_products = partner_authorised(new_address())
    del no_products.data["products"]
    empty = partner_authorised(new_address())
    empty.data["products"] = []
    bad_owner = partner_authorised("olga at example.com")
    for envelope in (no_products, empty, bad_owner):
        await publish(publisher, envelope)
    good = new_address()
    await publish(publisher, partner_authorised(good))

    await wait_for(lambda: mail_to(mail_dir, good), what="the good message's e-mail")
    parked = await take_parked(
        migrated, {not_json, str(no_products.id), str(empty.id), str(bad_owner.id)}, queue=REGISTRATION_QUEUE
    )
    assert "not an event envelope" in parked[not_json]["x-error"]
    assert "ValidationError" in parked[str(no_products.id)]["x-error"]
    assert "\nproducts\n  Field required" in parked[str(no_products.id)]["x-error"]
    assert "no products" in parked[str(empty.id)]["x-error"]
    assert "not an e-mail address" in parked[str(bad_owner.id)]["x-error"]
    assert await deliveries(pool, no_products.data["owner_email"]) == []
    assert await deliveries(pool, empty.data["owner_email"]) == []
    assert await deliveries(pool, "olga at example.com") == []


# ---- contracts' letters to partners: ITS-2, ITS-6, CMS-7 -------------------------------------------


async def test_contract_activated_event_tells_the_partner_its_contract_is_active(
    service: RunningApp, publisher: Bus, pool: Pool, mail_dir: Path
) -> None:
    partner = new_address()
    envelope = contract_activated(partner)
    await publish(publisher, envelope)

    [message] = await wait_for(lambda: mail_to(mail_dir, partner), what="the contract letter to the partner")
    assert message["To"] == partner
    assert message["Message-ID"] == f"<{envelope.id}@its-portal.local>"
    assert message["Subject"] == "Contract ITS-2026/17 is active"
    text, html = body(message, "plain"), body(message, "html")
    assert text.startswith("Hello, SoftPartner!")
    for part in (text, html):
        for value in ("ITS-2026/17", "7701234567", "770101001", "12345678903", "98765432106", "PROF"):
            assert value in part
        assert "November 2026 \N{EN DASH} October 2027" in part
        assert "2 November 2026, 09:00 (UTC+03:00)" in part
    assert "Romashka & Co <LLC>" in text
    assert "Romashka &amp; Co &lt;LLC&gt;" in html
    assert "<LLC>" not in html

    row = await wait_for(lambda: delivery_in(pool, partner, "sent"), what="the delivery marked sent")
    assert (row["event_id"], row["event_type"]) == (envelope.id, ContractActivated.TYPE)
    assert (row["template"], row["language"], row["attempts"]) == ("contract_activated", "en", 1)
    await asyncio.sleep(0.5)
    assert len(mail_to(mail_dir, partner)) == 1


async def test_organisation_error_event_tells_the_partner_what_to_correct(
    service: RunningApp, publisher: Bus, pool: Pool, mail_dir: Path
) -> None:
    partner = new_address()
    envelope = organisation_error_reported(partner)
    await publish(publisher, envelope)

    [message] = await wait_for(lambda: mail_to(mail_dir, partner), what="the organisation error letter")
    assert message["Subject"] == (
        'Subscriber "Romashka & Co" (100-200-300) reports wrong organisation data in contract ITS-2026/17'
    )
    text, html = body(message, "plain"), body(message, "html")
    assert ORGANISATION_MESSAGE in text  # verbatim
    assert (
        "Our TIN is 7701234568, not 7701234567.<br>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; thanks!"
        in html
    )
    assert "<script>" not in html
    assert "Romashka &amp; Co &lt;LLC&gt;" in html
    for part in (text, html):
        assert "7701234567" in part
        assert "PATCH" in part
        assert "partner cabinet" in part

    row = await wait_for(lambda: delivery_in(pool, partner, "sent"), what="the delivery marked sent")
    assert (row["event_id"], row["event_type"]) == (envelope.id, OrganisationErrorReported.TYPE)
    assert (row["template"], row["language"]) == ("organisation_error", "en")


async def test_maintenance_activated_event_tells_the_chosen_partner(
    service: RunningApp, publisher: Bus, pool: Pool, mail_dir: Path
) -> None:
    partner = new_address()
    envelope = maintenance_activated(partner)
    await publish(publisher, envelope)

    [message] = await wait_for(lambda: mail_to(mail_dir, partner), what="the maintenance letter")
    assert message["Subject"] == 'Maintenance of Accounting activated for "Romashka & Co" (100-200-300)'
    text, html = body(message, "plain"), body(message, "html")
    for part in (text, html):
        assert "Accounting" in part
        assert "12345678903, 98765432106" in part
        assert "November 2026 \N{EN DASH} October 2027" in part
        assert "No valid ITS contract covers the whole period." in part  # CMS-6
    assert "Category: 2" in text

    row = await wait_for(lambda: delivery_in(pool, partner, "sent"), what="the delivery marked sent")
    assert (row["event_id"], row["event_type"]) == (envelope.id, MaintenanceActivated.TYPE)
    assert (row["template"], row["language"]) == ("maintenance_activated", "en")


async def test_maintenance_without_a_partner_sends_nothing_and_the_queue_moves_on(
    service: RunningApp, publisher: Bus, pool: Pool, mail_dir: Path
) -> None:
    """CMS-7: no partner chosen, no one to tell: handled (in the inbox), neither parked nor failed."""
    alone = maintenance_activated(None)
    await publish(publisher, alone)
    partner = new_address()
    await publish(publisher, maintenance_activated(partner))

    await wait_for(lambda: mail_to(mail_dir, partner), what="the next event's e-mail")
    handled = await wait_for(
        lambda: pool.fetchval(
            "SELECT true FROM inbox WHERE consumer = $1 AND event_id = $2", CONTRACTS_QUEUE, alone.id
        ),
        what="the event without a partner handled",
    )
    assert handled
    assert await pool.fetch("SELECT * FROM deliveries WHERE event_id = $1", alone.id) == []
    errors = service.app[METRICS].registry.get_sample_value("consumer_errors_total", {"queue": CONTRACTS_QUEUE})
    assert not errors


async def test_contract_letters_that_can_never_be_sent_are_parked(
    migrated: TestStack, service: RunningApp, publisher: Bus, pool: Pool, mail_dir: Path
) -> None:
    not_json = str(uuid.uuid4())
    await publisher.publish(ContractActivated.TYPE, b"{this is not json", message_id=not_json)
    no_address = contract_activated("")  # contracts had not learnt the partner
    no_message = organisation_error_reported(new_address())
    del no_message.data["message"]
    bad_category = maintenance_activated(new_address())
    bad_category.data["category"] = 3
    chosen_unknown = maintenance_activated(None)
    chosen_unknown.data["partner_id"] = str(uuid.uuid4())  # a partner chosen, its address not known
    for envelope in (no_address, no_message, bad_category, chosen_unknown):
        await publish(publisher, envelope)
    good = new_address()
    await publish(publisher, contract_activated(good))

    await wait_for(lambda: mail_to(mail_dir, good), what="the good message's e-mail")
    ids = {str(e.id): e for e in (no_address, no_message, bad_category, chosen_unknown)}
    parked = await take_parked(migrated, {not_json, *ids}, queue=CONTRACTS_QUEUE)
    assert "not an event envelope" in parked[not_json]["x-error"]
    assert "contracts had not learnt the partner" in parked[str(no_address.id)]["x-error"]
    assert "\nmessage\n  Field required" in parked[str(no_message.id)]["x-error"]
    assert "ValidationError" in parked[str(bad_category.id)]["x-error"]
    assert "category" in parked[str(bad_category.id)]["x-error"]
    assert "contracts had not learnt the partner" in parked[str(chosen_unknown.id)]["x-error"]
    for envelope in ids.values():
        assert await pool.fetch("SELECT * FROM deliveries WHERE event_id = $1", envelope.id) == []


# ---- inbox: one event, one e-mail ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_for", "queue"),
    [
        (verification_requested, IDENTITY_QUEUE),
        (invitation_sent, IDENTITY_QUEUE),
        (invitation_accepted, IDENTITY_QUEUE),
        (partner_authorised, REGISTRATION_QUEUE),
        (contract_activated, CONTRACTS_QUEUE),
        (organisation_error_reported, CONTRACTS_QUEUE),
        (maintenance_activated, CONTRACTS_QUEUE),
    ],
)
async def test_the_same_event_delivered_twice_sends_one_email(
    service: RunningApp,
    publisher: Bus,
    pool: Pool,
    mail_dir: Path,
    event_for: Callable[[str], Envelope],
    queue: str,
) -> None:
    recipient = new_address()
    envelope = event_for(recipient)
    await publish(publisher, envelope)
    await publish(publisher, envelope)

    def duplicates() -> float:
        value = service.app[METRICS].registry.get_sample_value(
            "consumer_messages_total", {"queue": queue, "outcome": "duplicate"}
        )
        return value or 0.0

    await wait_for(duplicates, what="the second copy handled as a duplicate")
    await wait_for(lambda: delivery_in(pool, recipient, "sent"), what="the delivery marked sent")
    await asyncio.sleep(0.5)
    assert len(mail_to(mail_dir, recipient)) == 1
    assert len(await deliveries(pool, recipient)) == 1


# ---- SMTP server away: retried with back-off, then sent once -----------------------------------


async def test_smtp_down_is_retried_with_backoff_and_sent_once_when_back(
    migrated: TestStack, keys: TestKeys, publisher: Bus, pool: Pool, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens here yet
    recipient = new_address()
    envelope = verification_requested(recipient)
    async with notifications(keys, port) as service:
        await publish(publisher, envelope)
        failed = await wait_for(lambda: delivery_in(pool, recipient, "retrying"), what="a failed first try")
        assert failed["attempts"] >= 1
        assert "SMTPConnectError" in failed["last_error"]
        assert failed["sent_at"] is None
        # The next try waits its back-off: no hot loop against a dead server.
        assert failed["next_try"] >= failed["created_at"] + backoff(failed["attempts"])
        assert failed["job_correlation_id"] == str(envelope.id)  # the retry is logged under the flow's id

        mail_dir = tmp_path / "mail"
        sink = start_sink(mail_dir, "127.0.0.1", port)
        try:
            with clock_moved(migrated, timedelta(minutes=20)):  # past any back-off: the retry is due now
                sent = await wait_for(lambda: delivery_in(pool, recipient, "sent"), what="the retry to succeed")
            await asyncio.sleep(1.0)  # time for a second send, if there were one
            messages = mail_to(mail_dir, recipient)
        finally:
            sink.stop()
        # The e-mail went out 20 minutes (by the shared clock) after its delivery was made: /metrics says so.
        figures = service.app[METRICS].registry

        def delays(bound: str) -> float:
            value = figures.get_sample_value(
                "notifications_email_delay_seconds_bucket", {"template": "email_verification", "le": bound}
            )
            return value or 0.0

        assert delays("+Inf") - delays("900.0") >= 1
        assert figures.get_sample_value(
            "notifications_emails_total", {"template": "email_verification", "outcome": "retrying"}
        )

    assert len(messages) == 1
    assert messages[0]["Message-ID"] == f"<{envelope.id}@its-portal.local>"
    assert sent["attempts"] >= failed["attempts"] + 1
    assert sent["sent_at"] is not None
    assert sent["next_try"] is None


async def test_gives_up_after_send_max_attempts(
    migrated: TestStack, keys: TestKeys, publisher: Bus, pool: Pool
) -> None:
    recipient = new_address()
    async with notifications(keys, free_port(), send_max_attempts=2):
        await publish(publisher, verification_requested(recipient))
        await wait_for(lambda: delivery_in(pool, recipient, "retrying"), what="a failed first try")
        with clock_moved(migrated, timedelta(minutes=20)):
            failed = await wait_for(lambda: delivery_in(pool, recipient, "failed"), what="giving up")
    assert failed["attempts"] == 2
    assert failed["last_error"]
    assert failed["next_try"] is None


# ---- poison messages: parked, and the queue keeps moving ---------------------------------------


async def take_parked(
    stack: TestStack, message_ids: set[str], queue: str = IDENTITY_QUEUE
) -> dict[str, dict[str, Any]]:
    """Take our messages from `queue`'s DLQ (acked); others are put back. Returns each one's headers."""
    found: dict[str, dict[str, Any]] = {}
    connection = await aio_pika.connect(stack.amqp_url)
    try:
        channel = await connection.channel()
        dlq = await channel.declare_queue(dlq_name(queue), passive=True)

        async def take() -> bool:
            message = await dlq.get(no_ack=False, fail=False)
            if message is not None and message.message_id in message_ids:
                found[message.message_id] = dict(message.headers)
                await message.ack()
            elif message is not None:
                await message.nack(requeue=True)
            return found.keys() >= message_ids

        await wait_for(take, what=f"{len(message_ids)} messages in {dlq_name(queue)}")
    finally:
        await connection.close()
    return found


async def test_malformed_messages_are_parked_and_the_next_good_one_is_handled(
    migrated: TestStack, service: RunningApp, publisher: Bus, pool: Pool, mail_dir: Path
) -> None:
    not_json = str(uuid.uuid4())
    await publisher.publish(EmailVerificationRequested.TYPE, b"{this is not json", message_id=not_json)
    missing_link = verification_requested(new_address())
    del missing_link.data["verification_url"]
    await publish(publisher, missing_link)
    bad_address = verification_requested("not-an-address")
    await publish(publisher, bad_address)
    good = new_address()
    await publish(publisher, verification_requested(good))

    await wait_for(lambda: mail_to(mail_dir, good), what="the good message's e-mail")
    parked = await take_parked(migrated, {not_json, str(missing_link.id), str(bad_address.id)})
    assert "not an event envelope" in parked[not_json]["x-error"]
    assert "ValidationError" in parked[str(missing_link.id)]["x-error"]
    assert "verification_url" in parked[str(missing_link.id)]["x-error"]
    assert "not an e-mail address" in parked[str(bad_address.id)]["x-error"]
    assert await deliveries(pool, missing_link.data["email"]) == []
    assert await deliveries(pool, "not-an-address") == []


# ---- the delivery log for operators --------------------------------------------------------------


async def seed(pool: Pool, recipient: str, statuses: list[DeliveryStatus]) -> list[int]:
    """Deliveries in the given states, oldest first, written with the service's own store."""
    ids: list[int] = []
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        for status in statuses:
            delivery_id = await store.insert_delivery(
                conn,
                event_id=uuid.uuid4(),
                event_type=EmailVerificationRequested.TYPE,
                recipient=recipient,
                template="email_verification",
                language="en",
                email=RenderedEmail("Subject", "text", "<p>html</p>"),
                created_at=now,
            )
            assert delivery_id is not None
            if status == "sent":
                await store.mark_sent(conn, delivery_id, attempts=1, sent_at=now)
            elif status in ("retrying", "failed"):
                await store.record_failure(conn, delivery_id, attempts=3, error="SMTPConnectError: test", status=status)
            ids.append(delivery_id)
    return ids


async def get_log(service: RunningApp, token: str | None, **params: Any) -> tuple[int, str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with service.http.get("/v1/deliveries", params=params, headers=headers) as response:
        return response.status, response.content_type, await response.json()


async def test_operators_filter_the_log_by_recipient_and_status(
    service: RunningApp, pool: Pool, keys: TestKeys
) -> None:
    alice, bob = new_address(), new_address()
    a = await seed(pool, alice, ["sent", "retrying", "sent", "failed"])
    b = await seed(pool, bob, ["failed", "pending"])
    token = keys.token(scope="operator")

    status, _, page = await get_log(service, token, recipient=alice.upper())  # case-insensitive
    assert status == 200
    assert [item["id"] for item in page["items"]] == a[::-1]  # newest first
    assert page["next_cursor"] is None

    _, _, page = await get_log(service, token, recipient=alice, status="failed")
    assert [item["id"] for item in page["items"]] == [a[3]]

    _, _, page = await get_log(service, token, status="failed", limit=200)
    assert {item["status"] for item in page["items"]} == {"failed"}
    assert {a[3], b[0]} <= {item["id"] for item in page["items"]}

    _, _, page = await get_log(service, token, recipient=bob, status="pending")
    [item] = page["items"]
    assert set(item) == DELIVERY_FIELDS
    assert item["id"] == b[1]
    assert (item["recipient"], item["status"], item["attempts"]) == (bob, "pending", 0)
    assert item["last_error"] is None and item["failure"] is None
    assert item["sent_at"] is None

    _, _, page = await get_log(service, token, recipient=alice, status="retrying")
    [item] = page["items"]
    assert (item["attempts"], item["last_error"]) == (3, "SMTPConnectError: test")
    assert item["failure"] == "server-unreachable"  # what it means, for the page to say in words


async def test_the_log_pages_with_a_cursor_that_holds_while_new_rows_arrive(
    service: RunningApp, pool: Pool, keys: TestKeys
) -> None:
    carol = new_address()
    ids = await seed(pool, carol, ["sent"] * 5)
    token = keys.token(scope="operator")

    _, _, first = await get_log(service, token, recipient=carol, limit=2)
    await seed(pool, carol, ["sent"])  # newer than everything listed: not in the following pages
    _, _, second = await get_log(service, token, recipient=carol, limit=2, cursor=first["next_cursor"])
    _, _, third = await get_log(service, token, recipient=carol, limit=2, cursor=second["next_cursor"])

    pages = [[item["id"] for item in page["items"]] for page in (first, second, third)]
    assert pages == [ids[4:2:-1], ids[2:0:-1], ids[0:1]]
    assert third["next_cursor"] is None


async def test_the_log_is_for_operators_only(service: RunningApp, keys: TestKeys) -> None:
    async with service.http.get("/v1/deliveries") as response:
        assert response.status == 401
        assert response.content_type == PROBLEM
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    status, content_type, problem = await get_log(service, keys.token(scope="profile"))
    assert (status, content_type) == (403, PROBLEM)
    assert "operator" in problem["detail"]

    expired = keys.token(scope="operator", now=datetime.now(UTC).timestamp() - 3600)
    assert (await get_log(service, expired))[0] == 401
    assert (await get_log(service, TestKeys().token(scope="operator")))[0] == 401  # someone else's key
    assert (await get_log(service, "not-a-token"))[0] == 401


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("limit=0", 422, "limit"),
        ("limit=201", 422, "limit"),
        ("limit=ten", 422, "limit"),
        ("status=sending", 422, "status"),
        ("recipient=", 422, "recipient"),
        ("cursor=not-a-cursor!", 422, "cursor"),
        (f"cursor={encode_cursor(PAGE_CURSOR, '0')}", 422, "cursor"),
        ("cursor=ZDE6YWJj", 422, "cursor"),  # base64 of "d1:abc"
        ("colour=red", 422, "colour"),
        ("limit=1&limit=2", 400, None),
    ],
)
async def test_bad_query_parameters_are_a_problem_not_a_crash(
    service: RunningApp, keys: TestKeys, query: str, status: int, field: str | None
) -> None:
    headers = {"Authorization": f"Bearer {keys.token(scope='operator')}"}
    async with service.http.get(f"/v1/deliveries?{query}", headers=headers) as response:
        assert response.status == status
        assert response.content_type == PROBLEM
        problem = await response.json()
    assert problem["status"] == status
    if field is not None:
        assert [error["field"] for error in problem["errors"]] == [field]


async def test_the_log_is_documented_in_openapi(service: RunningApp) -> None:
    async with service.http.get("/openapi.json") as response:
        document = await response.json()
    operation = document["paths"]["/v1/deliveries"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"recipient", "status", "limit", "cursor"}
    assert {"200", "401", "403", "422"} <= set(operation["responses"])
    async with service.http.get("/readyz") as response:
        assert response.status == 200


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"recipient": "a@example.com"},
        {"status": "failed"},
        {"recipient": "a@example.com", "status": "sent"},
        {"status": "retrying", "before_id": 10},
        {"before_id": 10},
    ],
)
async def test_every_filter_of_the_log_reads_an_index(pool: Pool, filters: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"recipient": None, "status": None, "before_id": None, **filters}
    sql, args = store.list_deliveries_query(**arguments, limit=51)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")  # tiny test tables: make the planner show its hand
        plan = "\n".join(row[0] for row in await conn.fetch(f"EXPLAIN {sql}", *args))
    assert "Seq Scan" not in plan, plan
    assert "Index" in plan, plan
