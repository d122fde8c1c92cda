"""The operator cabinet's safer actions (issue 17) against in-process identity, registration, updates and contracts
apps, real PostgreSQL and RabbitMQ: the releases list filtered, sorted and paged; publishing and withdrawing only
after a confirmation page; the new release forms' preview of the notes, rendered as the release page will show
them; maintenance activation codes issued from the cabinet."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from services.contracts.app import ContractsSettings
from services.contracts.app import create_app as create_contracts
from services.portal.app import PortalSettings, create_app
from shared.keys import POOL
from tests.infra import RunningApp, TestStack
from tests.integration.identity_fixtures import identity
from tests.integration.test_portal_operator import (
    Operator,
    catalogued,
    draft_form,
    jwks,
    notifications,
    operator,
    platform_form,
    platform_version,
    post_multipart,
    registration,
    release_at_updates,
    updates,
)
from tests.integration.test_portal_pages import Browser, labelled, portal_schema, registered
from tests.integration.updates_fixtures import kit_bytes, sha

__all__ = ["identity", "notifications", "operator", "portal_schema", "registration", "updates"]  # fixtures


@pytest.fixture(scope="module")
async def contracts(migrated: TestStack, identity: RunningApp) -> AsyncIterator[RunningApp]:
    app = create_contracts(ContractsSettings(jwks_url=f"{identity.url}/.well-known/jwks.json"), keys=jwks(identity))
    async with RunningApp(app) as running:
        yield running


@pytest.fixture(scope="module")
async def portal(
    portal_schema: TestStack,
    identity: RunningApp,
    registration: RunningApp,
    updates: RunningApp,
    contracts: RunningApp,
) -> AsyncIterator[RunningApp]:
    settings = PortalSettings(
        identity_url=identity.url,
        registration_url=registration.url,
        updates_url=updates.url,
        contracts_url=contracts.url,
        trusted_proxies=["127.0.0.1"],
    )
    async with RunningApp(create_app(settings)) as running:
        yield running


@pytest.fixture
async def browser(portal: RunningApp, operator: Operator) -> AsyncIterator[Browser]:
    browser = Browser(portal.url)
    page = await browser.log_in(operator.login, operator.password)
    assert page.status == 303, page.text
    yield browser
    await browser.close()


async def draft(updates: RunningApp, operator: Operator, configuration: str, version: str, day: str) -> str:
    """A draft whose one kit is uploaded: ready to publish."""
    content = kit_bytes(f"{configuration}-{version}", 1024)
    body = {
        "release_date": day,
        "its_issue": "ITS 2026/05",
        "kits": [{"name": "k.cf", "kind": "full", "size": len(content), "sha256": sha(content)}],
    }
    path = f"/v1/configurations/{configuration}/releases/{version}"
    async with updates.http.put(path, json=body, headers=operator.headers) as response:
        assert response.status == 201, await response.text()
        release_id: str = (await response.json())["id"]
    headers = {**operator.headers, "Content-Type": "application/octet-stream"}
    async with updates.http.put(f"/v1/releases/{release_id}/kits/k.cf/content", data=content, headers=headers) as r:
        assert r.status in (200, 201), await r.text()
    return release_id


def rows(text: str) -> list[str]:
    """The releases' row headers (label) in the list's order."""
    return [re.sub(r"<[^>]+>", "", m).strip() for m in re.findall(r'<th scope="row">(.*?)</th>', text, re.S)]


# ---- the list: filters, order, pages ---------------------------------------------------------------------


async def test_the_releases_list_filters_sorts_and_pages(
    browser: Browser, registration: RunningApp, updates: RunningApp, operator: Operator
) -> None:
    configuration = await catalogued(registration, updates, operator)
    days = {f"2.0.{n}.1": f"2026-0{1 + n % 9}-1{n % 10}" for n in range(30)}
    for version, day in days.items():
        await draft(updates, operator, configuration, version, day)

    page = await browser.get(f"/operator/releases?configuration={configuration}")
    assert page.status == 200 and labelled(page)
    shown = rows(page.text)
    assert len(shown) == 25 and shown[0] == f"{configuration} 2.0.29.1"  # newest version first
    assert f'<option value="{configuration}" selected>' in page.text  # the configuration is a choice
    assert len(page.text) < 60_000, len(page.text)
    # Row actions are links to a confirmation page, not buttons that act.
    assert "<button" not in page.text.split('<table class="stacked"')[1]
    assert 'data-label="State"' in page.text
    # The one list form of every list page: the version search with its hint, the filters, the page links.
    assert 'class="list-form" role="search"' in page.text and 'aria-describedby="h-q"' in page.text
    assert "A version or its first numbers, e.g. 3.0.41." in page.text and 'inputmode="decimal"' in page.text
    following = re.search(r'<a href="(/operator/releases\?[^"]*cursor=[^"]+)" rel="next">Next page</a>', page.text)
    assert following is not None
    nxt = await browser.get(following.group(1).replace("&amp;", "&"))
    assert nxt.status == 200 and len(rows(nxt.text)) == 5 and "Next page" not in nxt.text
    assert set(rows(nxt.text)).isdisjoint(shown)
    assert f'<a href="/operator/releases?configuration={configuration}">First page</a>' in nxt.text
    # A cursor from an old or edited link starts the list again from its first page.
    stale = await browser.get(f"/operator/releases?configuration={configuration}&cursor=zz")
    assert stale.status == 200 and rows(stale.text) == shown

    newest = await browser.get(f"/operator/releases?configuration={configuration}&sort=newest")
    dates = [days[label.split()[-1]] for label in rows(newest.text)]
    assert dates == sorted(dates, reverse=True) and len(dates) == 25

    found = await browser.get(f"/operator/releases?configuration={configuration}&q=2.0.1")
    assert rows(found.text) == [f"{configuration} 2.0.1.1"]
    none = await browser.get(f"/operator/releases?configuration={configuration}&state=published")
    assert rows(none.text) == [] and "No releases." in none.text
    bad = await browser.get(f"/operator/releases?configuration={configuration}&q=2.x")
    assert bad.status == 422 and bad.error_of("q") == "Numbers separated by dots, e.g. 3.0 or 3.0.41.20."
    assert 'aria-describedby="h-q e-q"' in bad.text
    assert 'value="2.x"' in bad.text
    hostile = await browser.get("/operator/releases?configuration=%3Cscript%3E&kind=nope&sort=x&cursor=zz")
    assert hostile.status == 422 and "<script>" not in hostile.text
    assert hostile.error_of("configuration") == "Choose a configuration from the list."

    await browser.get("/language?lang=ru&next=/operator/releases")
    ru = await browser.get(f"/operator/releases?configuration={configuration}&sort=newest")
    assert "Сначала новые по дате выпуска" in ru.text and labelled(ru)


# ---- publishing and withdrawing: a confirmation page first -------------------------------------------------


async def test_publishing_and_withdrawing_need_their_confirmation(
    browser: Browser, registration: RunningApp, updates: RunningApp, operator: Operator
) -> None:
    configuration = await catalogued(registration, updates, operator)
    release_id = await draft(updates, operator, configuration, "4.0.0.1", "2026-05-05")

    confirm = await browser.get(f"/operator/releases/{release_id}/publish")
    assert confirm.status == 200 and labelled(confirm)
    assert f"Publish {configuration} 4.0.0.1?" in confirm.text and configuration in confirm.text
    assert "are told by e-mail" in confirm.text and 'name="confirm" value="yes"' in confirm.text
    assert f'href="/operator/releases#release-{release_id}"' in confirm.text  # cancel

    # Without the confirmation field nothing is published: the page is shown again.
    for form in ({}, {"confirm": "no"}):
        unconfirmed = await browser.post(f"/operator/releases/{release_id}/publish", form)
        assert unconfirmed.status == 422 and unconfirmed.form_error == (
            "Nothing was done: confirm with the button on this page."
        )
    [release] = await release_at_updates(updates, operator, configuration)
    assert release["state"] == "draft"
    published = await browser.post(f"/operator/releases/{release_id}/publish", {"confirm": "yes"})
    assert published.status == 303
    [release] = await release_at_updates(updates, operator, configuration)
    assert release["state"] == "published"
    told = await browser.get(published.location)  # the list says it
    assert told.status == 200 and '<p class="notice" role="status">The release is published.</p>' in told.text

    confirm = await browser.get(f"/operator/releases/{release_id}/withdraw")
    assert confirm.status == 200 and "Downloads of its kits stop at once" in confirm.text and labelled(confirm)
    unconfirmed = await browser.post(f"/operator/releases/{release_id}/withdraw", {"reason": "Broken"})
    assert unconfirmed.status == 422 and 'value="Broken"' in unconfirmed.text  # what was typed is kept
    [release] = await release_at_updates(updates, operator, configuration)
    assert release["state"] == "published"
    withdrawn = await browser.post(f"/operator/releases/{release_id}/withdraw", {"reason": "Broken", "confirm": "yes"})
    assert withdrawn.status == 303
    told = await browser.get(withdrawn.location)
    assert '<p class="notice" role="status">The release is withdrawn.</p>' in told.text
    [release] = await release_at_updates(updates, operator, configuration)
    assert release["state"] == "withdrawn"
    again = await browser.get(f"/operator/releases/{release_id}/withdraw")
    assert "there is nothing to confirm" in again.text and 'name="confirm"' not in again.text

    await browser.get("/language?lang=ru&next=/operator/releases")
    ru = await browser.get(f"/operator/releases/{release_id}/publish")
    assert f"Опубликовать {configuration} 4.0.0.1?" in ru.text and labelled(ru)
    for path in (
        "/operator/releases/not-an-id/publish",
        "/operator/releases/00000000-0000-0000-0000-000000000000/withdraw",
    ):
        assert (await browser.get(path)).status == 404


# ---- the new release forms: a preview of the notes -------------------------------------------------------


async def test_the_preview_renders_the_notes_safely_and_keeps_the_form(
    browser: Browser, registration: RunningApp, updates: RunningApp, operator: Operator
) -> None:
    configuration = await catalogued(registration, updates, operator)
    page = await browser.get("/operator/releases/new")
    assert page.status == 200 and labelled(page) and 'name="action" value="preview"' in page.text
    form = draft_form(
        configuration,
        "5.0.0.1",
        whats_new="New **VAT** form <script>alert(1)</script>",
        changes="* [link](javascript:alert(1))",
        action="preview",
    )
    preview = await post_multipart(browser, "/operator/releases", form)  # no file: a preview needs none
    assert preview.status == 200, preview.text
    assert "<strong>VAT</strong>" in preview.text and "<script>alert" not in preview.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in preview.text and 'href="javascript' not in preview.text
    assert "Preview of the notes" in preview.text and labelled(preview)
    # Every typed value is kept in the form.
    assert 'value="5.0.0.1"' in preview.text and "New **VAT** form &lt;script&gt;" in preview.text
    assert 'value="2026-02-10"' in preview.text and "VAT return 2026\nFaster closing of the month" in preview.text
    assert await release_at_updates(updates, operator, configuration) == []  # nothing stored

    version = platform_version()
    platform = await post_multipart(
        browser,
        "/operator/releases?kind=platform",
        {**platform_form(version, differences="Faster <b>reports</b>"), "action": "preview"},
    )
    assert platform.status == 200 and "Faster &lt;b&gt;reports&lt;/b&gt;" in platform.text
    assert "10185634" in platform.text and f'value="{version}"' in platform.text
    ru_page = await browser.get("/language?lang=ru&next=/operator/releases/new")
    assert ru_page.status in (200, 303)
    ru = await post_multipart(browser, "/operator/releases", form)
    assert ru.status == 200 and "Предпросмотр описания" in ru.text and labelled(ru)


async def test_new_release_pages_are_for_operators_only(portal: RunningApp, identity: RunningApp) -> None:
    account = await registered(identity)
    user = Browser(portal.url)
    try:
        assert (await user.log_in(account["login"], account["password"])).status == 303
        for path in ("/operator/releases/new", "/operator/releases/new-platform", "/operator/codes"):
            page = await user.get(path)
            assert page.status == 403 and "Operators only" in page.text, path
        await user.get("/")
        page = await post_multipart(user, "/operator/releases", {**draft_form("X1", "1.0.0.1"), "action": "preview"})
        assert page.status == 403
        page = await user.post("/operator/codes", {"category": "1", "months": "12", "count": "2"})
        assert page.status == 403
    finally:
        await user.close()


# ---- maintenance activation codes, issued in the cabinet ----------------------------------------------------


async def test_an_operator_issues_activation_codes_shown_once(browser: Browser, contracts: RunningApp) -> None:
    index = await browser.get("/operator")
    assert 'href="/operator/codes"' in index.text
    page = await browser.get("/operator/codes")
    assert page.status == 200 and labelled(page) and "First category" in page.text

    refused = await browser.post("/operator/codes", {"category": "3", "months": "0", "count": "5000"})
    assert refused.status == 422
    assert refused.error_of("category") == "Choose a category from the list."
    assert refused.error_of("months") == "A whole number of months from 1 to 36."
    assert refused.error_of("count") == "A whole number from 1 to 1000."
    assert 'value="5000"' in refused.text  # what was typed is kept

    issued = await browser.post("/operator/codes", {"category": "2", "months": "12", "count": "3"})
    assert issued.status == 201, issued.text
    codes = re.findall(r'<code class="secret">([^<]+)</code>', issued.text)
    assert len(codes) == 3 and len(set(codes)) == 3
    assert "Copy them now" in issued.text and "Second category, 12 months" in issued.text
    assert issued.headers.get("Cache-Control") == "no-store"
    # Issued by contracts, which keeps only their hashes.
    async with contracts.app[POOL].acquire() as conn:
        stored = await conn.fetchval("SELECT count(*) FROM activation_codes WHERE category = 2 AND months = 12")
    assert stored >= 3
    assert codes[0] not in (await browser.get("/operator/codes")).text  # shown once: not on the page again

    await browser.get("/language?lang=ru&next=/operator/codes")
    ru = await browser.post("/operator/codes", {"category": "1", "months": "6", "count": "1"})
    assert ru.status == 201 and "Скопируйте их сейчас" in ru.text and labelled(ru)
