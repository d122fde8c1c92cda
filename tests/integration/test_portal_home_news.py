"""Home lists the releases of the subscriber's configurations published since the account's last visit (a visit:
home shown with no pause over an hour), against in-process identity and updates apps."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.portal.sessions import _id_hash, _unb64
from services.updates.app import UpdatesSettings
from services.updates.app import create_app as create_updates
from shared.keys import POOL
from tests.infra import RunningApp, TestStack
from tests.integration.identity_fixtures import identity
from tests.integration.test_identity_subscribers import person
from tests.integration.test_portal_pages import Browser
from tests.integration.test_portal_releases import releases_portal, text_of
from tests.integration.test_portal_software import BothKeys
from tests.integration.updates_fixtures import MAX_KIT_BYTES, Customer, World, keys, kits_dir, pool, publisher, world
from tests.tokens import TestKeys

__all__ = ["identity", "keys", "kits_dir", "pool", "publisher", "releases_portal", "world"]


@pytest.fixture(scope="module")
async def updates(
    migrated: TestStack, keys: TestKeys, kits_dir: Path, identity: RunningApp
) -> AsyncIterator[RunningApp]:
    """updates trusting identity's tokens too: the portal's session is a real login (home greets through identity)."""
    jwks = f"{identity.url}/.well-known/jwks.json"
    settings = UpdatesSettings(kits_dir=kits_dir, max_kit_bytes=MAX_KIT_BYTES, jwks_url=jwks)
    async with RunningApp(create_updates(settings, keys=BothKeys(keys, jwks))) as running:
        yield running


@pytest.fixture
async def browser(releases_portal: RunningApp) -> AsyncIterator[Browser]:
    browser = Browser(releases_portal.url)
    yield browser
    await browser.close()


async def pause(portal: RunningApp, world: World, browser: Browser, hours: float, configuration: str) -> None:
    """As if the account had gone away for `hours`: what is already stored (its last home page, the configuration's
    releases published so far) that much earlier."""
    raw = _unb64(browser.session_id or "")
    assert raw is not None
    async with portal.app[POOL].acquire() as conn:
        done = await conn.execute(
            "UPDATE visits SET seen_at = seen_at - make_interval(secs => $2), "
            "previous_seen_at = previous_seen_at - make_interval(secs => $2) "
            "WHERE account_id = (SELECT account_id FROM sessions WHERE id_hash = $1)",
            _id_hash(raw),
            hours * 3600,
        )
        assert done == "UPDATE 1"
    await world.pool.execute(
        "UPDATE releases SET published_at = published_at - make_interval(secs => $1) "
        "WHERE configuration = $2 AND published_at IS NOT NULL",
        hours * 3600,
        configuration,
    )


async def test_home_lists_the_releases_published_since_the_last_visit(
    browser: Browser, releases_portal: RunningApp, identity: RunningApp, world: World
) -> None:
    mine, theirs = await world.configuration(name="Trade <Management>"), await world.configuration()
    owner = await person(identity)
    status, subscriber = await owner.call("GET", "/v1/subscriber")
    assert status == 200, subscriber
    customer = Customer(uuid.UUID(subscriber["id"]), subscriber["code"], uuid.UUID(owner.account["id"]))
    await world.register(customer, [mine])
    await world.register(await world.customer(), [theirs])
    await world.released(mine, "3.0.1.1")
    await browser.log_in(owner.account["login"], owner.account["password"])

    first = await browser.get("/")
    assert first.status == 200
    assert "New releases since your last visit" not in first.text  # the first visit: nothing to compare with

    await pause(releases_portal, world, browser, 2, mine)
    page = await browser.get("/")
    assert "No new releases of your configurations since your last visit" in text_of(page.text)

    await world.released(mine, "3.0.2.1", updates_from=["3.0.1.1"])
    await world.released(mine, "3.0.3.1", updates_from=["3.0.2.1"], prerelease=True)  # not news for everyone
    await world.released(theirs, "9.0.0.1")  # another subscriber's configuration
    await pause(releases_portal, world, browser, 2, mine)
    page = await browser.get("/")
    assert page.status == 200
    links = re.findall(r'href="(/releases/[^"]+/[^"]+)"', page.text)
    assert links == [f"/releases/{mine}/3.0.2.1"], links
    assert "Published after your last visit" in page.text
    assert "<span data-authored>Trade &lt;Management&gt;</span> 3.0.2.1" in page.text
    # Back within the hour: the same visit, the same news.
    page = await browser.get("/")
    assert f"/releases/{mine}/3.0.2.1" in page.text

    await browser.get("/language?lang=ru&next=/")
    page = await browser.get("/")
    assert "Новые релизы с вашего прошлого визита" in page.text
    await pause(releases_portal, world, browser, 2, mine)  # a new visit: 3.0.2.1 was seen in the last one
    page = await browser.get("/")
    assert "новых релизов ваших конфигураций нет" in page.text and f"/releases/{mine}/3.0.2.1" not in page.text
