"""The portal's reporting forms page (DAT-2) against in-process identity and updates apps, real PostgreSQL and
RabbitMQ: a configuration's forms with their versions, newest first, in English and Russian; another subscriber is
shown the offer, not the forms (UPD-3)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from services.portal.sessions import _id_hash, _unb64
from shared.keys import POOL
from tests.drawn import form_code
from tests.infra import RunningApp
from tests.integration.identity_fixtures import identity
from tests.integration.test_portal_pages import Browser
from tests.integration.test_portal_releases import as_member, browser, releases_portal, text_of
from tests.integration.test_updates_forms import act, published
from tests.integration.updates_fixtures import World, keys, kits_dir, pool, publisher, updates, world

__all__ = ["browser", "identity", "keys", "kits_dir", "pool", "publisher", "releases_portal", "updates", "world"]


async def test_dat2_a_configurations_forms_page_lists_each_form_with_its_versions(
    browser: Browser, releases_portal: RunningApp, identity: RunningApp, world: World
) -> None:
    configuration = await world.configuration()
    vat, payroll = form_code(), form_code()
    await published(world, vat, "5.01", [configuration])
    await published(world, vat, "5.02", [configuration])
    await published(world, payroll, "1.0", [configuration])
    withdrawn = await published(world, payroll, "1.1", [configuration])
    assert (await act(world, withdrawn["id"], "withdraw", json={"reason": "wrong"}))[0] == 200
    customer = await world.customer()
    await world.register(customer, [configuration], edition="BASIC")
    await as_member(browser, releases_portal, identity, world, customer)

    listing = await browser.get(f"/releases/{configuration}")
    assert f'href="/releases/{configuration}/forms"' in listing.text
    page = await browser.get(f"/releases/{configuration}/forms")
    assert page.status == 200, page.text
    assert re.findall(r'<section id="form-([0-9]+)"', page.text) == sorted([vat, payroll])
    versions = re.findall(r"<h3>Version ([0-9.]+)", page.text)
    vat_first = vat < payroll
    assert versions == (["5.02", "5.01", "1.0"] if vat_first else ["1.0", "5.02", "5.01"])  # withdrawn 1.1 absent
    words = text_of(page.text)
    assert "order ED-7-3/1093@ of 5 October 2026" in words and "1 January 2027" in words
    assert "<strong>agents</strong>" in page.text  # what changed, Markdown as safe HTML

    # Each version's file through the signed link (303), as a kit's.
    [newest_id] = re.findall(r'href="/forms/([0-9a-f-]+)/download">Download version 5.02<', page.text)
    redirected = await browser.get(f"/forms/{newest_id}/download")
    assert redirected.status == 303 and urlsplit(redirected.location).path.startswith("/dl/"), redirected.text

    # In Russian.
    raw = _unb64(browser.session_id or "")
    assert raw is not None
    async with releases_portal.app[POOL].acquire() as conn:
        await conn.execute("UPDATE sessions SET language = 'ru' WHERE id_hash = $1", _id_hash(raw))
    russian = text_of((await browser.get(f"/releases/{configuration}/forms")).text)
    assert f"Регламентированные формы Configuration {configuration}" in russian and "Версия 5.02" in russian
    assert "приказ ED-7-3/1093@ от 05.10.2026" in russian

    # Another subscriber: the offer, not the forms (UPD-3).
    stranger = await world.customer()
    other = Browser(releases_portal.url)
    try:
        await as_member(other, releases_portal, identity, world, stranger)
        refusal = await other.get(f"/releases/{configuration}/forms")
        assert refusal.status == 403 and "How to get access" in refusal.text and vat not in refusal.text
        refused = await other.get(f"/forms/{newest_id}/download")
        assert refused.status == 403 and "How to get access" in refused.text
    finally:
        await other.close()
