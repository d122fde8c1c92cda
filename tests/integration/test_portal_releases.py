"""The portal's Releases pages against in-process identity and updates apps, real PostgreSQL and RabbitMQ:
release list and page (UPD-1), downloads through a signed link (UPD-4), refusals with their offer
(UPD-3, REG-6, ITS-7), the update plan (UPD-5)."""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
from collections.abc import AsyncIterator
from datetime import date
from urllib.parse import urlsplit

import pytest

from services.portal.app import MIGRATIONS, SCHEMA, PortalSettings, create_app
from services.portal.sessions import Tokens, _id_hash, _seal, _unb64
from shared.keys import POOL
from shared.migrate import migrate
from tests.infra import RunningApp, TestStack
from tests.integration.identity_fixtures import identity
from tests.integration.test_portal_pages import Browser, labelled, registered
from tests.integration.updates_fixtures import (
    Customer,
    World,
    keys,
    kit_bytes,
    kits_dir,
    pool,
    publisher,
    updates,
    world,
)

__all__ = ["identity", "keys", "kits_dir", "pool", "publisher", "updates", "world"]


@pytest.fixture(scope="module")
async def releases_portal(migrated: TestStack, identity: RunningApp, updates: RunningApp) -> AsyncIterator[RunningApp]:
    await asyncio.to_thread(migrate, MIGRATIONS, migrated.database_url, SCHEMA)
    settings = PortalSettings(identity_url=identity.url, updates_url=updates.url, trusted_proxies=["127.0.0.1"])
    async with RunningApp(create_app(settings)) as running:
        yield running


@pytest.fixture
async def browser(releases_portal: RunningApp) -> AsyncIterator[Browser]:
    browser = Browser(releases_portal.url)
    yield browser
    await browser.close()


async def as_member(
    browser: Browser, portal: RunningApp, identity: RunningApp, world: World, customer: Customer
) -> None:
    """A logged-in portal session whose access token is the customer's member token (updates trusts the test keys)."""
    account = await registered(identity)
    page = await browser.log_in(account["login"], account["password"])
    assert page.status == 303, page.text
    raw = _unb64(browser.session_id or "")
    assert raw is not None
    id_hash = _id_hash(raw)
    access = world.member(customer)["Authorization"].removeprefix("Bearer ")
    async with portal.app[POOL].acquire() as conn:
        sealed = _seal(raw, id_hash, Tokens(access=access, refresh="unused"))
        await conn.execute("UPDATE sessions SET tokens = $2 WHERE id_hash = $1", id_hash, sealed)


def text_of(page_html: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page_html))


async def test_an_entitled_owner_sees_releases_downloads_and_plans(
    browser: Browser, releases_portal: RunningApp, identity: RunningApp, world: World
) -> None:
    configuration = await world.configuration()
    customer = await world.customer()
    await world.register(customer, [configuration])  # PROF bought today: the free period covers this month
    content = kit_bytes("portal-3.0.42.5", 5000)
    await world.released(configuration, "3.0.40.10")
    await world.released(configuration, "3.0.41.20", updates_from=["3.0.40.10"])
    await world.released(
        configuration,
        "3.0.42.5",
        updates_from=["3.0.40.10", "3.0.41.20"],
        kits={f"{configuration}_3.0.42.5.cfu": content},
    )
    await as_member(browser, releases_portal, identity, world, customer)

    index = await browser.get("/releases")
    assert index.status == 200, index.text
    assert f'href="/releases/{configuration}"' in index.text

    listing = await browser.get(f"/releases/{configuration}")
    assert listing.status == 200, listing.text
    versions = re.findall(rf'href="/releases/{configuration}/([0-9.]+)"', listing.text)
    assert versions == ["3.0.42.5", "3.0.41.20", "3.0.40.10"]  # newest first
    assert "<script>" not in listing.text

    page = await browser.get(f"/releases/{configuration}/3.0.42.5")
    assert page.status == 200, page.text
    for section in ("whats-new", "changes", "major-changes", "update-procedure", "known-problems", "kits"):
        assert f'id="{section}"' in page.text
    assert "<strong>VAT return</strong>" in page.text and "<script>alert" not in page.text
    assert 'href="javascript:' not in page.text
    assert "You may download these kits." in page.text
    [kit_id] = re.findall(r'href="/kits/([0-9a-f-]+)/download"', page.text)

    redirected = await browser.get(f"/kits/{kit_id}/download")
    assert redirected.status == 303, redirected.text
    link = urlsplit(redirected.location)
    assert link.path.startswith("/dl/")
    async with world.app.http.get(f"{link.path}?{link.query}") as response:
        assert response.status == 200
        assert hashlib.sha256(await response.read()).hexdigest() == hashlib.sha256(content).hexdigest()

    # The update plan: the chain, next to the form.
    form = await browser.get(f"/releases/{configuration}/plan")
    assert form.status == 200 and labelled(form)
    plan = await browser.post(
        f"/releases/{configuration}/plan", {"version": "3.0.40.10", "platform_version": "8.3.24.1342"}
    )
    assert plan.status == 200, plan.text
    assert re.findall(rf'<h3>\d+\. <a href="/releases/{configuration}/([0-9.]+)"', plan.text) == ["3.0.42.5"]
    assert f"/kits/{kit_id}/download" in plan.text and "3.0.40.10" in plan.text

    # Bad versions: each error next to its field.
    bad = await browser.post(f"/releases/{configuration}/plan", {"version": "3.0.x", "platform_version": "8,3"})
    assert bad.status == 422
    assert bad.error_of("version") and bad.error_of("platform_version")

    # No chain: the reason and what can be reached.
    stuck = await browser.post(
        f"/releases/{configuration}/plan", {"version": "2.0.0.1", "platform_version": "8.3.24.1342"}
    )
    assert stuck.status == 422 and 'id="no-chain"' in stuck.text

    # The platform's releases (UPD-2) and the articles pages (UPD-6).
    await world.platform_released("8.3.99.1001")
    platforms = await browser.get("/releases/platform")
    assert platforms.status == 200 and 'href="/releases/platform/8.3.99.1001"' in platforms.text
    platform = await browser.get("/releases/platform/8.3.99.1001")
    assert platform.status == 200, platform.text
    for section in ("differences", "migration-notes", "fixed-bugs", "readme", "known-problems", "kits"):
        assert f'id="{section}"' in platform.text
    assert "Slow report on Linux" in platform.text and "&lt;b&gt;plain text&lt;/b&gt;" in platform.text
    assert len(re.findall(r'href="/kits/[0-9a-f-]+/download"', platform.text)) == 2
    for path in (f"/releases/{configuration}/articles", "/releases/platform/articles"):
        articles = await browser.get(path)
        assert articles.status == 200, (path, articles.text)

    # Russian too.
    await browser.get("/language?lang=ru&next=/releases")
    ru = await browser.get(f"/releases/{configuration}/3.0.42.5")
    assert "Скачать" in ru.text and "Что нового" in ru.text


async def test_not_entitled_and_other_subscribers_see_why_and_the_offer(
    browser: Browser, releases_portal: RunningApp, identity: RunningApp, world: World
) -> None:
    configuration = await world.configuration()
    lapsed = await world.customer()
    await world.register(lapsed, [configuration], purchase_date=date(2020, 1, 15))  # free period long over
    await world.released(configuration, "1.0.0.1")
    await as_member(browser, releases_portal, identity, world, lapsed)

    page = await browser.get(f"/releases/{configuration}/1.0.0.1")
    assert page.status == 200, page.text
    words = text_of(page.text)
    assert "You cannot download these kits." in words
    assert "No ITS contract or free period covers the current month." in words
    assert 'id="offer-title"' in page.text and "Subscribe to ITS for the current month" in words
    [kit_id] = re.findall(r'"/kits/([0-9a-f-]+)/download"', page.text) or [None]
    assert kit_id is None  # no button that would fail

    async with world.pool.acquire() as conn:
        kit = await conn.fetchval(
            "SELECT k.id FROM kits k JOIN releases r ON r.id = k.release_id WHERE r.configuration = $1", configuration
        )
    refused = await browser.get(f"/kits/{kit}/download")
    assert refused.status == 402 and "Subscribe to ITS for the current month" in text_of(refused.text)

    # Another subscriber following a link to this configuration: the offer, not the releases.
    stranger = await world.customer()
    other = Browser(releases_portal.url)
    try:
        await as_member(other, releases_portal, identity, world, stranger)
        paths = (f"/releases/{configuration}", f"/releases/{configuration}/1.0.0.1", f"/releases/{configuration}/plan")
        for path in paths:
            refusal = await other.get(path)
            assert refusal.status == 403, (path, refusal.text)
            assert "1.0.0.1</a>" not in refusal.text and "How to get access" in refusal.text
        refusal = await other.get(f"/kits/{kit}/download")
        assert refusal.status == 403 and "How to get access" in refusal.text
        index = await other.get("/releases")
        assert index.status == 200 and configuration not in index.text
    finally:
        await other.close()
