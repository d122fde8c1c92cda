"""Reporting form news (DAT-2) against the real PostgreSQL, RabbitMQ and SMTP sink: `updates.form.published` e-mails
the owners of the subscribers holding one of the form's configurations, one e-mail per owner, except to accounts
that turned release news off (the same opt-out)."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

from services.notifications.consumers import UPDATES_QUEUE
from shared.db import Pool
from shared.events.updates import ReportingFormPublished
from tests.infra import RunningApp, wait_for
from tests.integration.test_notifications import body, publish
from tests.integration.test_notifications_release_news import (
    PUBLIC,
    World,
    envelope,
    keys,
    person_token,
    pool,
    publisher,
    put_preferences,
    release_mail,
    sent_to,
    service,
    unique,
    world,
)
from tests.tokens import TestKeys

__all__ = ["keys", "pool", "publisher", "service", "world"]  # fixtures


async def test_dat2_owners_holding_a_configuration_of_the_form_get_one_email_unless_they_opted_out(
    service: RunningApp, world: World, pool: Pool, mail_dir: Path, keys: TestKeys
) -> None:
    accounting, trade, other = unique("ACC"), unique("TRADE"), unique("HR")
    both = await world.owner()  # holds both configurations of the form: one e-mail
    russian = await world.owner(language="ru", full_name=None)
    elsewhere = await world.owner()
    opted_out = await world.owner()
    await world.product(both, [accounting])
    await world.product(both, [trade])
    await world.product(russian, [trade])
    await world.product(elsewhere, [other])
    await world.product(opted_out, [accounting])
    await world.settled()
    assert (await put_preferences(service, person_token(keys, opted_out), {"release_news": False}))[0] == 200

    form = envelope(
        ReportingFormPublished(
            form_id=uuid.uuid4(),
            code="1151001",
            version="5.01",
            name="VAT return",
            applies_from=date(2027, 1, 1),
            configurations=[accounting, trade],
            basis_number="ED-7-3/1093@",
            basis_date=date(2026, 10, 5),
            changes="Section **3.1** for agents.",
        ),
        "updates",
    )
    await publish(world.publisher, form)
    await wait_for(
        lambda: pool.fetchval("SELECT true FROM inbox WHERE consumer = $1 AND event_id = $2", UPDATES_QUEUE, form.id),
        what="the form event handled",
    )
    rows = await pool.fetch("SELECT recipient FROM deliveries WHERE event_id = $1", form.id)
    assert sorted(row["recipient"] for row in rows) == sorted([both.email, russian.email])
    await sent_to(pool, form, 2)
    for owner in (elsewhere, opted_out):
        assert release_mail(mail_dir, owner.email) == []

    [message] = release_mail(mail_dir, both.email)
    assert message["Subject"] == 'Form 1151001 "VAT return": version 5.01 is released'
    text = body(message, "plain")
    assert f"{PUBLIC}/releases/{accounting}/forms" in text and "Section 3.1 for agents." in text
    assert both.code in text and "1 January 2027" in text
    [letter] = release_mail(mail_dir, russian.email)
    assert letter["Subject"] == "Вышла версия 5.01 формы 1151001 «VAT return»"
    assert f"{PUBLIC}/releases/{trade}/forms" in body(letter, "plain")
