"""Release news per configuration: an account hears of every configuration's releases unless it chose not to for
that configuration (`muted_configurations` of `PUT /v1/preferences`), and of none after the overall switch or the
e-mail's unsubscribe link turned release news off; the platform's releases follow the overall switch only."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from shared.db import Pool
from tests.infra import RunningApp
from tests.integration.test_notifications import publish
from tests.integration.test_notifications_release_news import (
    World,
    announced,
    keys,
    person_token,
    pool,
    preferences,
    published,
    publisher,
    put_preferences,
    recipients,
    release_mail,
    sent_to,
    service,
    unique,
    world,
)
from tests.tokens import TestKeys

__all__ = ["keys", "pool", "publisher", "service", "world"]  # fixtures


async def test_an_account_gets_the_releases_of_the_configurations_it_did_not_mute(
    service: RunningApp, world: World, pool: Pool, mail_dir: Path, keys: TestKeys
) -> None:
    accounting, payroll = unique("ACC"), unique("PAY")
    chose = await world.owner()  # wants Accounting's news, not Payroll's
    never_chose = await world.owner()  # the defaults: every configuration
    switched_off = await world.owner()  # no release news at all, whatever it muted
    for owner in (chose, never_chose, switched_off):
        await world.product(owner, [accounting, payroll])
    await world.settled()
    status, answer = await put_preferences(
        service, person_token(keys, chose), {"release_news": True, "muted_configurations": [payroll, payroll]}
    )
    assert (status, answer) == (200, {"release_news": True, "muted_configurations": [payroll]})
    assert await put_preferences(service, person_token(keys, switched_off), {"release_news": False}) == (
        200,
        {"release_news": False, "muted_configurations": []},
    )

    payroll_release, accounting_release = published(payroll), published(accounting)
    await publish(world.publisher, payroll_release)
    await publish(world.publisher, accounting_release)
    await publish(world.publisher, payroll_release)  # a duplicate message: still one letter each

    await announced(pool, payroll_release)
    await announced(pool, accounting_release)
    assert await recipients(pool, payroll_release) == {never_chose.email}
    assert await recipients(pool, accounting_release) == {chose.email, never_chose.email}
    await sent_to(pool, accounting_release, 2)
    await sent_to(pool, payroll_release, 1)
    await asyncio.sleep(0.5)  # time for any second e-mail to arrive
    assert len(release_mail(mail_dir, chose.email)) == 1
    assert len(release_mail(mail_dir, never_chose.email)) == 2
    assert release_mail(mail_dir, switched_off.email) == []

    platform = published(None, version="8.3.27.1000")  # the platform follows the overall switch only
    await publish(world.publisher, platform)
    await announced(pool, platform)
    assert {chose.email, never_chose.email} <= await recipients(pool, platform)
    assert switched_off.email not in await recipients(pool, platform)


async def test_the_overall_switch_keeps_the_muted_configurations_and_the_unsubscribe_link_turns_all_off(
    service: RunningApp, keys: TestKeys
) -> None:
    owner = keys.token(account_id=uuid.uuid4(), login=unique("olga"))
    assert await put_preferences(service, owner, {"release_news": True, "muted_configurations": ["Payroll"]}) == (
        200,
        {"release_news": True, "muted_configurations": ["Payroll"]},
    )
    # A client that knows only the overall switch leaves the muted configurations as they were.
    assert await put_preferences(service, owner, {"release_news": False}) == (
        200,
        {"release_news": False, "muted_configurations": ["Payroll"]},
    )
    assert await put_preferences(service, owner, {"release_news": True, "muted_configurations": []}) == (
        200,
        {"release_news": True, "muted_configurations": []},
    )
    assert await preferences(service, owner) == (200, {"release_news": True, "muted_configurations": []})


@pytest.mark.parametrize(
    "muted",
    [
        "Payroll",
        ["1C"],
        ["Pay roll"],
        ["x" * 65],
        [None],
        [f"C{n}" for n in range(201)],
    ],
)
async def test_bad_muted_configurations_are_a_problem_naming_the_field(
    service: RunningApp, keys: TestKeys, muted: Any
) -> None:
    status, problem = await put_preferences(
        service, keys.token(login="olga"), {"release_news": True, "muted_configurations": muted}
    )
    assert status == 422
    assert {error["field"].split(".")[0] for error in problem["errors"]} == {"muted_configurations"}
