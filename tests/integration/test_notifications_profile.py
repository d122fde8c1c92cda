"""notifications and ACC-4 against the real PostgreSQL, RabbitMQ and SMTP sink: the link to the new address, the word
to the old one, once each whatever the redeliveries, and the read model that follows the account's address and name."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

from services.notifications.consumers import IDENTITY_QUEUE
from shared.bus import Bus
from shared.db import Pool
from shared.events import Envelope, wrap
from shared.events.identity import AccountNameChanged, AccountRegistered, EmailChanged, EmailChangeRequested
from shared.keys import METRICS
from tests.infra import RunningApp, wait_for
from tests.integration.test_notifications import (
    EXPIRES,
    VALID_UNTIL,
    body,
    deliveries,
    delivery_in,
    keys,
    mail_to,
    new_address,
    pool,
    publish,
    publisher,
    quiet_queues,
    service,
)

__all__ = ["keys", "pool", "publisher", "quiet_queues", "service"]  # fixtures


def envelope_of(event: AccountRegistered | EmailChangeRequested | EmailChanged | AccountNameChanged) -> Envelope:
    return wrap(event, producer="identity", occurred_at=datetime.now(UTC))


def change_requested(new_email: str) -> Envelope:
    return envelope_of(
        EmailChangeRequested(
            account_id=uuid.uuid4(),
            login="ivanp",
            full_name="Ivan Petrov",
            language="ru",
            new_email=new_email,
            confirmation_url=f"https://its.test/confirm-email?token={uuid.uuid4().hex}",
            expires_at=EXPIRES,
        )
    )


def changed(account_id: uuid.UUID, old_email: str, new_email: str, *, verified: bool = True) -> Envelope:
    return envelope_of(
        EmailChanged(
            account_id=account_id,
            login="ivanp",
            full_name="Ivan Petrov",
            language="en",
            old_email=old_email,
            old_email_verified=verified,
            new_email=new_email,
            changed_at=EXPIRES,
        )
    )


def duplicates(service: RunningApp) -> float:
    value = service.app[METRICS].registry.get_sample_value(
        "consumer_messages_total", {"queue": IDENTITY_QUEUE, "outcome": "duplicate"}
    )
    return value or 0.0


async def account_row(pool: Pool, account_id: uuid.UUID) -> tuple[str | None, str | None]:
    row = await pool.fetchrow("SELECT email, full_name FROM accounts WHERE id = $1", account_id)
    return (row["email"], row["full_name"]) if row is not None else (None, None)


async def test_the_link_goes_to_the_new_address_once(
    service: RunningApp, publisher: Bus, pool: Pool, mail_dir: Path
) -> None:
    recipient = new_address()
    envelope = change_requested(recipient)
    before = duplicates(service)
    await publish(publisher, envelope)
    await publish(publisher, envelope)

    [message] = await wait_for(lambda: mail_to(mail_dir, recipient), what="the confirmation e-mail")
    assert message["Subject"] == "Подтвердите новый адрес электронной почты на портале ИТС"  # the account's language
    text = body(message, "plain")
    assert envelope.data["confirmation_url"] in text and VALID_UNTIL["ru"] in text
    await wait_for(lambda: duplicates(service) > before, what="the second copy handled as a duplicate")
    await wait_for(lambda: delivery_in(pool, recipient, "sent"), what="the delivery marked sent")
    await asyncio.sleep(0.5)
    assert len(mail_to(mail_dir, recipient)) == 1
    [row] = await deliveries(pool, recipient)
    assert (row["template"], row["language"]) == ("email_change", "ru")


async def test_the_old_address_is_told_once_and_the_read_model_learns_the_new_one(
    service: RunningApp, publisher: Bus, pool: Pool, mail_dir: Path
) -> None:
    account_id, old, new = uuid.uuid4(), new_address(), new_address()
    registered = AccountRegistered(account_id=account_id, login="ivanp", email=old, full_name="Ivan Petrov")
    await publish(publisher, envelope_of(registered))
    await wait_for(lambda: account_row(pool, account_id), what="the account in the read model")
    envelope = changed(account_id, old, new)
    before = duplicates(service)
    await publish(publisher, envelope)
    await publish(publisher, envelope)

    [message] = await wait_for(lambda: mail_to(mail_dir, old), what="the e-mail to the old address")
    assert message["Subject"] == "The e-mail address of your ITS Portal account was changed"
    text = body(message, "plain")
    assert f"{new[0]}***@example.com" in text and new not in text
    await wait_for(lambda: duplicates(service) > before, what="the second copy handled as a duplicate")
    await wait_for(lambda: delivery_in(pool, old, "sent"), what="the delivery marked sent")
    await asyncio.sleep(0.5)
    assert len(mail_to(mail_dir, old)) == 1 and mail_to(mail_dir, new) == []
    assert await account_row(pool, account_id) == (new, "Ivan Petrov")

    # A name change reaches the read model, whatever came before it; the address stays.
    renamed = AccountNameChanged(account_id=account_id, login="ivanp", full_name="Ivan Sidorov")
    await publish(publisher, envelope_of(renamed))

    async def renamed_in_read_model() -> bool:
        return await account_row(pool, account_id) == (new, "Ivan Sidorov")

    await wait_for(renamed_in_read_model, what="the new name in the read model")


async def test_an_old_address_never_verified_gets_nothing_but_the_read_model_moves_on(
    service: RunningApp, publisher: Bus, pool: Pool, mail_dir: Path
) -> None:
    account_id, old, new = uuid.uuid4(), new_address(), new_address()
    envelope = changed(account_id, old, new, verified=False)
    await publish(publisher, envelope)

    async def moved() -> bool:
        return (await account_row(pool, account_id))[0] == new

    await wait_for(moved, what="the new address in the read model")
    assert await pool.fetchval(
        "SELECT true FROM inbox WHERE consumer = $1 AND event_id = $2", IDENTITY_QUEUE, envelope.id
    )
    await asyncio.sleep(0.5)
    assert mail_to(mail_dir, old) == [] and await deliveries(pool, old) == []
