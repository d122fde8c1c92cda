"""The operator cabinet against in-process identity, registration, updates and notifications apps, real
PostgreSQL and RabbitMQ: partners and their API clients, the catalogue and registration numbers (REG-1, REG-2),
release drafts with kits uploaded through the portal and published (UPD-1), platform release drafts the same
way (UPD-2), the delivery log; and that nobody but an operator gets anything done there."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from services.notifications.app import SCHEMA as NOTIFICATIONS_SCHEMA
from services.notifications.app import NotificationsSettings
from services.notifications.app import create_app as create_notifications
from services.notifications.delivery import DeliveryStatus
from services.portal.app import PortalSettings, create_app
from services.registration.app import RegistrationSettings
from services.registration.app import create_app as create_registration
from services.updates.app import UpdatesSettings
from services.updates.app import create_app as create_updates
from services.updates.store import release_by_version
from shared.auth import JwksKeySource
from shared.db import Pool, close_pool, create_pool
from shared.keys import POOL
from tests.infra import RunningApp, TestStack, wait_for
from tests.integration.identity_fixtures import identity, unique
from tests.integration.registration_fixtures import ean13
from tests.integration.test_identity_partners import (
    client_token,
    create_client,
    create_partner,
    operator_account,
    password_token,
)
from tests.integration.test_identity_revocations import staff_member
from tests.integration.test_notifications import seed
from tests.integration.test_portal_pages import Browser, Page, labelled, portal_schema, registered
from tests.integration.updates_fixtures import kit_bytes, sha

__all__ = ["identity", "portal_schema"]

MAX_KIT_BYTES = 4 * 1024 * 1024


def jwks(identity: RunningApp) -> JwksKeySource:
    return JwksKeySource(f"{identity.url}/.well-known/jwks.json")


# registration issues up to 10 numbers in a request, more as a deferred batch in chunks of 7.
AT_ONCE, CHUNK = 10, 7


@pytest.fixture(scope="module")
async def registration(migrated: TestStack, identity: RunningApp) -> AsyncIterator[RunningApp]:
    settings = RegistrationSettings(
        jwks_url=f"{identity.url}/.well-known/jwks.json",
        issue_at_once=AT_ONCE,
        issue_chunk=CHUNK,
        jobs_poll_seconds=0.05,
    )
    async with RunningApp(create_registration(settings, keys=jwks(identity))) as running:
        yield running


@pytest.fixture(scope="module")
async def updates(
    migrated: TestStack, identity: RunningApp, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningApp]:
    settings = UpdatesSettings(kits_dir=tmp_path_factory.mktemp("operator-kits"), max_kit_bytes=MAX_KIT_BYTES)
    async with RunningApp(create_updates(settings, keys=jwks(identity))) as running:
        yield running


@pytest.fixture(scope="module")
async def notifications(migrated: TestStack, identity: RunningApp, smtp_sink: int) -> AsyncIterator[RunningApp]:
    settings = NotificationsSettings(smtp_port=smtp_sink, smtp_timeout=5)
    async with RunningApp(create_notifications(settings, keys=jwks(identity))) as running:
        yield running


@pytest.fixture(scope="module")
async def portal(
    portal_schema: TestStack,
    identity: RunningApp,
    registration: RunningApp,
    updates: RunningApp,
    notifications: RunningApp,
) -> AsyncIterator[RunningApp]:
    settings = PortalSettings(
        identity_url=identity.url,
        registration_url=registration.url,
        updates_url=updates.url,
        notifications_url=notifications.url,
        trusted_proxies=["127.0.0.1"],
    )
    async with RunningApp(create_app(settings)) as running:
        yield running


@pytest.fixture(scope="module")
async def deliveries_pool(migrated: TestStack) -> AsyncIterator[Pool]:
    pool = await create_pool(migrated.database_url, NOTIFICATIONS_SCHEMA, min_size=1, max_size=2)
    yield pool
    await close_pool(pool)


class Operator:
    def __init__(self, login: str, password: str, token: str) -> None:
        self.login, self.password, self.token = login, password, token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
async def operator(migrated: TestStack, identity: RunningApp) -> Operator:
    login, password = await operator_account(migrated)
    return Operator(login, password, await password_token(identity, login, password))


@pytest.fixture
async def browser(portal: RunningApp, operator: Operator) -> AsyncIterator[Browser]:
    """The operator, logged in through the portal."""
    browser = Browser(portal.url)
    page = await browser.log_in(operator.login, operator.password)
    assert page.status == 303, page.text
    yield browser
    await browser.close()


def tin() -> str:
    return str(uuid.uuid4().int)[:10]


def article() -> str:
    return ean13(f"461{uuid.uuid4().int % 10**9:09d}")


def code() -> str:
    return f"Op{uuid.uuid4().hex[:8]}"


async def catalogued(registration: RunningApp, updates: RunningApp, operator: Operator) -> str:
    """A new configuration in registration's catalogue, known to updates (its releases are refused otherwise)."""
    configuration = code()
    body = {"name": f"Accounting {configuration}", "maintenance_category": 1, "vendor": "1C"}
    async with registration.http.put(f"/v1/configurations/{configuration}", json=body, headers=operator.headers) as r:
        assert r.status == 201, await r.text()

    async def known() -> bool:
        async with updates.app[POOL].acquire() as conn:
            return bool(await conn.fetchval("SELECT 1 FROM configurations WHERE code = $1", configuration))

    await wait_for(known, what="updates to learn the configuration from registration's event")
    return configuration


async def post_multipart(
    browser: Browser,
    path: str,
    fields: dict[str, str] | list[tuple[str, str]],
    file: tuple[str, bytes] | None = None,
    *,
    csrf: bool = True,
) -> Page:
    """What a browser sends for a form with a file: the CSRF token first, the file last (`fields` as pairs: a name
    repeated, as checkboxes send it)."""
    form = aiohttp.FormData()
    if csrf:
        form.add_field("csrf_token", browser.csrf)
    for name, value in fields.items() if isinstance(fields, dict) else fields:
        form.add_field(name, value)
    if file is not None:
        form.add_field("file", io.BytesIO(file[1]), filename=file[0], content_type="application/octet-stream")
    async with browser.http.post(path, data=form, allow_redirects=False) as response:
        return Page(response.status, await response.text(), response.headers)


async def service_get(app: RunningApp, path: str, operator: Operator) -> Any:
    async with app.http.get(path, headers=operator.headers) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def release_at_updates(updates: RunningApp, operator: Operator, configuration: str) -> list[dict[str, Any]]:
    answer = await service_get(updates, f"/v1/releases?configuration={configuration}", operator)
    items: list[dict[str, Any]] = answer["items"]
    return items


def text_of(page: Page) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))


async def platform_at_updates(updates: RunningApp, operator: Operator, version: str) -> list[dict[str, Any]]:
    answer = await service_get(updates, f"/v1/releases?kind=platform&version={version}", operator)
    items: list[dict[str, Any]] = answer["items"]
    return items


def platform_version() -> str:
    """A platform version of its own: the database (and its platform releases) is shared with other tests."""
    return f"8.3.{secrets.randbelow(10**9)}.{secrets.randbelow(10**9)}"


PLATFORM_DRAFT = "/operator/releases?kind=platform"


def platform_form(version: str, **overrides: str) -> dict[str, str]:
    """The platform draft form as a browser sends it: every field prefixed with `platform_`."""
    fields = {
        "version": version,
        "release_date": "2026-04-15",
        "its_issue": "ITS 2026/04",
        "grade": "mandatory",
        "differences": "Faster **dynamic lists**.",
        "migration_notes": "Update the server cluster first.",
        "fixed_bugs": "10185634: The report hung on export\n\n  ITS:77: Dates were shown in UTC  \n",
        "readme": "Read me <first>.\nInstall the server, then the clients.",
        "kit_kind": "platform",
        "kit_os": "linux",
        "kit_arch": "x86_64",
        "kit_name": "",
        **overrides,
    }
    return {f"platform_{name}": value for name, value in fields.items()}


def draft_form(configuration: str, version: str, **overrides: str) -> dict[str, str]:
    return {
        "configuration": configuration,
        "version": version,
        "release_date": "2026-02-10",
        "its_issue": "ITS 2026/02",
        "whats_new": "New **VAT return** form.",
        "changes": "* Fixed posting of invoices",
        "major_changes": "VAT return 2026\nFaster closing of the month",
        "update_procedure": "1. Back up the infobase.\n2. Apply the update.",
        "min_platform": "8.3.24.1342",
        "updates_from": "",
        "kit_kind": "full",
        "kit_name": "",
        **overrides,
    }


# ---- partners and their API clients ------------------------------------------------------------------


async def test_an_operator_creates_a_partner_an_api_client_and_revokes_it(
    browser: Browser, identity: RunningApp, operator: Operator
) -> None:
    index = await browser.get("/operator")
    assert index.status == 200 and 'href="/operator/partners"' in index.text and 'aria-current="page"' in index.text

    page = await browser.get("/operator/partners")
    assert page.status == 200 and labelled(page)
    taken = tin()
    name, other = unique("Franchisee One "), unique("Franchisee Two ")  # the database is shared with other tests
    form = {"name": name, "tin": taken, "city": "Kazan", "contact_email": "office@franchisee.example"}
    created = await browser.post("/operator/partners", form)
    assert created.status == 303, created.text
    partner_id = re.fullmatch(r"/operator/partners/([0-9a-f-]{36})\?done=created", created.location)
    assert partner_id is not None
    partner = f"/operator/partners/{partner_id.group(1)}"

    again = await browser.post("/operator/partners", {**form, "name": other})
    assert again.status == 409 and again.error_of("tin") == "A partner with this TIN exists already."
    assert f'value="{other}"' in again.text and labelled(again)
    bad = await browser.post("/operator/partners", {**form, "tin": "123", "contact_email": "nope"})
    assert bad.status == 422 and bad.error_of("tin") == "A TIN is 10 or 12 digits."
    assert bad.error_of("contact_email") == "This is not an e-mail address."
    listing = await browser.get("/operator/partners")
    assert listing.text.count(name) == 1 and other not in listing.text

    details = await browser.get(partner)
    assert details.status == 200 and labelled(details) and "Kazan" in details.text and taken in details.text

    # The secret: in the answer to the POST (201), never again.
    made = await browser.post(f"{partner}/clients", {"client_name": "1C back office"})
    assert made.status == 201 and labelled(made), made.text
    client_id = re.search(r"<dd><code>([0-9a-f-]{36})</code></dd>", made.text)
    secret = re.search(r'<code class="secret">([^<]+)</code>', made.text)
    assert client_id is not None and secret is not None
    assert secret.group(1) not in made.headers.get("Location", "")
    later = await browser.get(partner)
    assert client_id.group(1) in later.text and secret.group(1) not in later.text and 'class="secret"' not in later.text

    status, answer = await client_token(identity, client_id.group(1), secret.group(1))
    assert status == 200 and answer["access_token"], answer

    revoked = await browser.post(f"{partner}/clients/{client_id.group(1)}/revoke", {})
    assert revoked.status == 303 and revoked.location == f"{partner}?done=revoked"
    status, answer = await client_token(identity, client_id.group(1), secret.group(1))
    assert status in (400, 401), answer
    assert "revoked" in text_of(await browser.get(partner))

    # Staff: the invitation, with the admin right; errors next to their fields.
    wrong = await browser.post(f"{partner}/invitations", {"full_name": "", "email": "not-an-address"})
    assert wrong.status == 422 and wrong.error_of("email") == "This is not an e-mail address."
    assert wrong.error_of("full_name")
    invited = await browser.post(
        f"{partner}/invitations",
        {"full_name": "Pavel Partner", "email": f"{unique()}@franchisee.example", "admin": "yes"},
    )
    assert invited.status == 303 and invited.location == f"{partner}?done=invited"

    # Russian.
    await browser.get(f"/language?lang=ru&next={partner}")
    ru = await browser.get(partner)
    assert ru.status == 200 and "Сотрудники" in ru.text and "API-клиенты" in ru.text and labelled(ru)
    taken_ru = await browser.post("/operator/partners", form)
    assert taken_ru.error_of("tin") == "Партнёр с этим ИНН уже есть."


async def test_an_operator_removes_staff_and_deactivates_then_reactivates_a_partner(
    browser: Browser, identity: RunningApp, operator: Operator
) -> None:
    """Each after a confirmation page; identity ends the tokens concerned at once (shared.revocations)."""
    partner = await create_partner(identity, operator.token)
    client = await create_client(identity, operator.token, partner["id"])
    sveta = await staff_member(identity, operator.token, partner["id"])
    path = f"/operator/partners/{partner['id']}"
    page = await browser.get(path)
    assert page.status == 200 and 'id="partner-state"' in page.text and "active" in text_of(page)
    remove = f"{path}/staff/{sveta['id']}/remove"
    assert f'href="{remove}"' in page.text and f'href="{path}/deactivate"' in page.text

    confirm = await browser.get(remove)
    assert confirm.status == 200 and sveta["email"] in confirm.text and "partner tokens stop working" in confirm.text
    done = await browser.post(remove, {})
    assert done.status == 303 and done.location == f"{path}?done=removed"
    assert "removed from the partner&#39;s staff" in (await browser.get(done.location)).text
    await revoked_at_identity(identity, f"/v1/partners/{partner['id']}", sveta["token"])
    assert (await browser.post(remove, {})).status == 404  # not on the staff any more

    _, issued = await client_token(identity, client["client_id"], client["client_secret"])
    confirm = await browser.get(f"{path}/deactivate")
    assert confirm.status == 200 and "none of its API clients or staff can get or use tokens" in text_of(confirm)
    done = await browser.post(f"{path}/deactivate", {})
    assert done.status == 303 and done.location == f"{path}?done=deactivated"
    page = await browser.get(done.location)
    assert "The partner is deactivated" in text_of(page) and f'href="{path}/reactivate"' in page.text
    await revoked_at_identity(identity, f"/v1/partners/{partner['id']}", issued["access_token"])
    assert (await client_token(identity, client["client_id"], client["client_secret"]))[0] == 401
    listing = await browser.get("/operator/partners")
    assert re.search(rf'id="partner-{partner["id"]}">.*?deactivated', listing.text, re.S)
    assert (await browser.get(f"{path}/deactivate")).location == path  # deactivated already: nothing to confirm

    await browser.get(f"/language?lang=ru&next={path}/reactivate")
    ru = await browser.get(f"{path}/reactivate")
    assert ru.status == 200 and "Повторная активация партнёра" in ru.text
    await browser.get(f"/language?lang=en&next={path}")
    done = await browser.post(f"{path}/reactivate", {})
    assert done.status == 303 and done.location == f"{path}?done=reactivated"
    assert (await client_token(identity, client["client_id"], client["client_secret"]))[0] == 200


async def revoked_at_identity(identity: RunningApp, path: str, token: str) -> None:
    async def refused() -> bool:
        async with identity.http.get(path, headers={"Authorization": f"Bearer {token}"}) as response:
            return response.status == 401

    await wait_for(refused, timeout=10, interval=0.05, what=f"identity to refuse the token on {path}")


async def test_unknown_or_malformed_ids_are_not_found(browser: Browser) -> None:
    for path in ("/operator/partners/not-a-uuid", f"/operator/partners/{uuid.uuid4()}"):
        page = await browser.get(path)
        assert page.status == 404, (path, page.text)
    page = await browser.post(f"/operator/partners/{uuid.uuid4()}/clients/x/revoke", {})
    assert page.status == 404
    page = await browser.get("/operator/catalogue/products/..%2F..%2Fv1%2Fpartners")
    assert page.status == 404


# ---- the catalogue and registration numbers (REG-1, REG-2) --------------------------------------------


async def test_an_operator_adds_a_configuration_and_a_product_and_issues_numbers(
    browser: Browser, registration: RunningApp, operator: Operator
) -> None:
    page = await browser.get("/operator/catalogue")
    assert page.status == 200 and labelled(page)
    configuration = code()
    form = {
        "configuration_code": configuration,
        "configuration_name": "Accounting",
        "configuration_vendor": "1C",
        "configuration_maintenance_category": "1",
    }
    saved = await browser.post("/operator/catalogue/configurations", form)
    assert saved.status == 303, saved.text
    bad = await browser.post("/operator/catalogue/configurations", {**form, "configuration_code": "9 bad"})
    assert bad.status == 422 and bad.error_of("configuration_code"), bad.text
    changed = await browser.post("/operator/catalogue/configurations", {**form, "configuration_name": "Accounting 3"})
    assert changed.status == 303
    listed = await service_get(registration, f"/v1/configurations?q={configuration}", operator)
    assert {"code": configuration, "name": "Accounting 3", "maintenance_category": 1, "vendor": "1C"} in listed["items"]
    prefilled = await browser.get(f"/operator/catalogue?configuration={configuration}")
    assert 'value="Accounting 3"' in prefilled.text

    number = article()
    product = {
        "article": number,
        "name": "Accounting BASIC",
        "edition": "BASIC",
        "configurations": configuration,
        "pin_envelope": "yes",
    }
    missing = await browser.post("/operator/catalogue/products", {**product, "configurations": ""})
    assert missing.status == 422 and missing.error_of("configurations")
    wrong = await browser.post("/operator/catalogue/products", {**product, "article": "4601546041800"})
    assert wrong.status == 422 and wrong.error_of("article") == "An article is an EAN-13 code: 13 digits."
    added = await browser.post("/operator/catalogue/products", product)
    assert added.status == 303 and added.location == f"/operator/catalogue/products/{number}?done=saved", added.text
    page = await browser.get(added.location)
    assert page.status == 200 and labelled(page) and "Accounting BASIC" in page.text

    # Three numbers with their PINs, shown once (201).
    issued = await browser.post(f"/operator/catalogue/products/{number}/numbers", {"count": "3", "action": "page"})
    assert issued.status == 201, issued.text
    numbers = re.findall(r'<td class="number">(\d{11})</td><td class="pin">(\d+)</td>', issued.text)
    assert len(numbers) == 3 and len({n for n, _ in numbers}) == 3
    again = await browser.get(f"/operator/catalogue/products/{number}")
    assert all(pin not in again.text for _, pin in numbers)
    async with registration.app[POOL].acquire() as conn:
        stored = await conn.fetch("SELECT number, pin_hash FROM registration_numbers WHERE article = $1", number)
    assert {r["number"] for r in stored} == {n for n, _ in numbers}
    assert all(r["pin_hash"] and pin not in r["pin_hash"] for r, (_, pin) in zip(stored, numbers, strict=False))

    # The same, as a CSV file (another batch of three).
    async with browser.http.post(
        f"/operator/catalogue/products/{number}/numbers",
        data={"csrf_token": browser.csrf, "count": "3", "action": "csv"},
        allow_redirects=False,
    ) as response:
        assert response.status == 200 and response.content_type == "text/csv"
        assert response.headers["Content-Disposition"].startswith('attachment; filename="numbers-')
        rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert rows[0] == ["article", "product", "edition", "registration_number", "pin"] and len(rows) == 4
    assert all(row[0] == number and re.fullmatch(r"\d{11}", row[3]) and row[4].isdigit() for row in rows[1:])

    for count in ("0", "100001", "three"):
        refused = await browser.post(f"/operator/catalogue/products/{number}/numbers", {"count": count})
        assert refused.status == 422 and refused.error_of("count") == "A whole number from 1 to 100000."
    async with registration.app[POOL].acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM registration_numbers WHERE article = $1", number) == 6


async def test_the_catalogue_searches_filters_sorts_and_pages_each_list(
    browser: Browser, registration: RunningApp, operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Portal issue 17: one GET form (search, order, the products' edition and configuration); each list pages on
    its own by registration's cursor, its link keeping the search and the other list's page."""
    monkeypatch.setattr("services.portal.pages.listing.PAGE_SIZE", 1)
    tag = f"Tag{uuid.uuid4().hex[:6]}"
    codes = [f"{tag}A", f"{tag}B"]
    for configuration in codes:
        body = {"name": f"Catalogue {configuration}", "maintenance_category": 1, "vendor": "1C"}
        async with registration.http.put(
            f"/v1/configurations/{configuration}", json=body, headers=operator.headers
        ) as r:
            assert r.status == 201
    articles = {}
    for name, edition in (("Bravo", "PROF"), ("Alpha", "BASIC")):
        articles[name] = article()
        body = {"name": f"{name} {tag}", "edition": edition, "configurations": codes[:1], "pin_envelope": True}
        async with registration.http.put(f"/v1/products/{articles[name]}", json=body, headers=operator.headers) as r:
            assert r.status == 201

    page = await browser.get(f"/operator/catalogue?q={tag}")
    assert page.status == 200 and labelled(page)
    assert re.search(r'<form method="get" action="/operator/catalogue" class="list-form" role="search"', page.text)
    assert f'id="configuration-{codes[0]}"' in page.text and f'id="configuration-{codes[1]}"' not in page.text
    assert f"Alpha {tag}" in page.text and f"Bravo {tag}" not in page.text  # by name
    more = re.search(r'<a href="([^"]+)" rel="next">More products</a>', page.text)
    assert more is not None, page.text[-3000:]
    link = more.group(1).replace("&amp;", "&")
    assert f"q={tag}" in link and "products=" in link
    second = await browser.get(link)
    assert f"Bravo {tag}" in second.text and f'id="configuration-{codes[0]}"' in second.text  # its page kept
    assert "First page" in second.text
    assert 'rel="next">More products' not in second.text

    prof = await browser.get(f"/operator/catalogue?q={tag}&edition=PROF&of_configuration={codes[0]}")
    assert f"Bravo {tag}" in prof.text and f"Alpha {tag}" not in prof.text
    by_code = await browser.get(f"/operator/catalogue?q={tag}&sort=code")
    assert min(articles.values()) in by_code.text and max(articles.values()) not in by_code.text
    none = await browser.get(f"/operator/catalogue?q={tag}&of_configuration={codes[1]}")
    assert 'id="no-products"' in none.text and "No products match your search and filters." in none.text
    edited = await browser.get(f"/operator/catalogue?q={tag}&products=bm90LW91cnM&edition=GOLD")
    assert edited.status == 200 and f"Alpha {tag}" in edited.text  # an edited link: its list from the start

    await browser.get("/language?lang=ru&next=/operator/catalogue")
    ru = await browser.get(f"/operator/catalogue?q=nothing-{tag}")
    assert "Нет конфигураций, подходящих под условия поиска." in ru.text and "По названию" in ru.text and labelled(ru)
    await browser.get("/language?lang=en&next=/operator/catalogue")


async def catalogue_product(registration: RunningApp, operator: Operator, *, pin_envelope: bool = True) -> str:
    """A product of a new configuration, put into the catalogue through registration's API."""
    configuration, number = code(), article()
    body = {"name": "Accounting", "maintenance_category": 1, "vendor": "1C"}
    async with registration.http.put(f"/v1/configurations/{configuration}", json=body, headers=operator.headers) as r:
        assert r.status == 201
    body = {"name": "Accounting BASIC", "edition": "BASIC", "configurations": [configuration]}
    async with registration.http.put(
        f"/v1/products/{number}", json={**body, "pin_envelope": pin_envelope}, headers=operator.headers
    ) as r:
        assert r.status == 201
    return number


async def until_done(browser: Browser, location: str) -> Page:
    """The batch's page, reloaded (as its refresh does) until the batch is issued."""
    for _ in range(300):
        page = await browser.get(location)
        assert page.status == 200, page.text
        if '<meta http-equiv="refresh"' not in page.text:
            return page
        assert "issued" in page.text
        await asyncio.sleep(0.05)
    raise AssertionError(f"the batch at {location} was not issued in time")


async def test_a_large_batch_shows_its_progress_then_its_numbers_once(
    browser: Browser, portal: RunningApp, registration: RunningApp, operator: Operator
) -> None:
    """REG-1, REG-2: more numbers than registration issues at once: the batch's page shows its progress
    (reloading itself, no JavaScript) and, when it is done, the numbers with their PINs, once."""
    number = await catalogue_product(registration, operator)
    assert (await browser.get(f"/operator/catalogue/products/{number}")).status == 200  # its form
    asked = await browser.post(f"/operator/catalogue/products/{number}/numbers", {"count": "25", "action": "page"})
    assert asked.status == 303, asked.text
    found = re.fullmatch(r"/operator/catalogue/batches/([0-9a-f-]{36})", asked.location)
    assert found is not None, asked.location
    batch_id = found.group(1)
    cookie = asked.headers["Set-Cookie"]
    assert f"its_batch_{uuid.UUID(batch_id).hex}=" in cookie and f"Path={asked.location}" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie

    done = await until_done(browser, asked.location)
    assert labelled(done) and "25 of 25 issued" in done.text
    assert 'action="/operator/catalogue/batches/' in done.text
    shown = await browser.post(f"{asked.location}/numbers", {"action": "page"})
    assert shown.status == 200, shown.text
    numbers = re.findall(r'<td class="number">(\d{11})</td><td class="pin">(\d{12})</td>', shown.text)
    assert len(numbers) == 25 and len({n for n, _ in numbers}) == 25
    assert "25 registration numbers issued" in shown.text and "the only time the PINs are shown" in shown.text

    # Once: the same button again shows nothing, nor does the page.
    again = await browser.post(f"{asked.location}/numbers", {"action": "page"})
    assert again.status == 410 and "were shown once already" in again.text, again.text
    assert all(pin not in again.text for _, pin in numbers)
    page = await browser.get(asked.location)
    assert "Shown once already" in page.text and all(pin not in page.text for _, pin in numbers)
    async with registration.app[POOL].acquire() as conn:
        stored = await conn.fetch("SELECT number FROM registration_numbers WHERE article = $1", number)
    assert {r["number"] for r in stored} == {n for n, _ in numbers}


async def test_a_large_batch_as_a_csv_file_and_only_for_the_browser_that_asked(
    browser: Browser, portal: RunningApp, registration: RunningApp, operator: Operator
) -> None:
    number = await catalogue_product(registration, operator)
    assert (await browser.get(f"/operator/catalogue/products/{number}")).status == 200  # its form
    asked = await browser.post(f"/operator/catalogue/products/{number}/numbers", {"count": "12", "action": "csv"})
    assert asked.status == 303 and asked.location.endswith("?as=csv"), asked.text
    page_path = asked.location.removesuffix("?as=csv")

    # Another operator's browser sees the progress, but cannot show the PINs: the key is not there.
    other = Browser(portal.url)
    try:
        assert (await other.log_in(operator.login, operator.password)).status == 303
        done = await until_done(other, page_path)
        assert "Only the browser that asked for this batch can show its PINs" in done.text
        refused = await other.post(f"{page_path}/numbers", {"action": "csv"})
        assert refused.status == 403 and "Only the browser that asked for this batch" in refused.text
    finally:
        await other.close()

    await until_done(browser, asked.location)
    async with browser.http.post(
        f"{page_path}/numbers", data={"csrf_token": browser.csrf, "action": "csv"}, allow_redirects=False
    ) as response:
        assert response.status == 200 and response.content_type == "text/csv"
        rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert rows[0] == ["article", "product", "edition", "registration_number", "pin"] and len(rows) == 13
    assert all(row[0] == number and row[4].isdigit() for row in rows[1:])


async def test_a_batch_being_issued_reloads_its_page(
    browser: Browser, registration: RunningApp, operator: Operator
) -> None:
    from datetime import UTC, datetime

    from services.registration import batches, store

    number = await catalogue_product(registration, operator)
    async with registration.app[POOL].acquire() as conn, conn.transaction():
        product = await store.product(conn, number)
        assert product is not None
        # Its first chunk due in the far future: it stays "issuing" while the page is looked at.
        pending = await batches.start(
            conn, product, with_pin=True, count=40, requested_by=uuid.uuid4(), now=datetime(2100, 1, 1, tzinfo=UTC)
        )
    page = await browser.get(f"/operator/catalogue/batches/{pending.batch_id}")
    assert page.status == 200 and labelled(page)
    assert '<meta http-equiv="refresh" content="2">' in page.text
    assert "0 of 40 issued" in page.text and '<progress max="40" value="0">' in page.text
    assert "/numbers" not in page.text  # nothing to show yet
    for path in (f"/operator/catalogue/batches/{uuid.uuid4()}", "/operator/catalogue/batches/not-an-id"):
        assert (await browser.get(path)).status == 404, path


# ---- releases: a draft, its kits uploaded through the portal, published (UPD-1) ------------------------


async def test_a_release_is_drafted_its_kits_uploaded_and_published(
    browser: Browser, registration: RunningApp, updates: RunningApp, operator: Operator
) -> None:
    configuration = await catalogued(registration, updates, operator)
    page = await browser.get("/operator/releases/new")
    assert page.status == 200 and labelled(page)
    assert re.search(r'<script src="/static/upload\.[0-9a-f]{12}\.js" defer></script>', page.text)
    assert "<script>" not in page.text
    assert 'enctype="multipart/form-data"' in page.text

    full = kit_bytes(f"{configuration}-full", 300 * 1024 + 17)
    no_file = await post_multipart(browser, "/operator/releases", draft_form(configuration, "3.0.41.20"))
    assert no_file.status == 422 and no_file.error_of("file") == "Choose the kit's file."
    bad = await post_multipart(
        browser, "/operator/releases", draft_form(configuration, "3.0.x"), (f"{configuration}.cf", full)
    )
    assert bad.status == 422 and bad.error_of("version"), bad.text
    assert await release_at_updates(updates, operator, configuration) == []

    saved = await post_multipart(
        browser, "/operator/releases", draft_form(configuration, "3.0.41.20"), (f"{configuration}.cf", full)
    )
    assert saved.status == 303, saved.text
    [draft] = await release_at_updates(updates, operator, configuration)
    assert draft["state"] == "draft" and saved.location.endswith(f"#release-{draft['id']}")
    assert [(k["name"], k["size"], k["sha256"], k["uploaded"]) for k in draft["kits"]] == [
        (f"{configuration}.cf", len(full), hashlib.sha256(full).hexdigest(), True)
    ]
    assert draft["min_platform"] == "8.3.24.1342" and draft["its_issue"] == "ITS 2026/02"

    # A second kit: the same form again for the same version keeps the first kit.
    update = kit_bytes(f"{configuration}-update", 120 * 1024)
    form = draft_form(configuration, "3.0.41.20", kit_kind="update", kit_name=f"{configuration}.cfu")
    second = await post_multipart(browser, "/operator/releases", form, ("whatever.bin", update))
    assert second.status == 303, second.text
    [draft] = await release_at_updates(updates, operator, configuration)
    assert {k["name"]: (k["kind"], k["sha256"], k["uploaded"]) for k in draft["kits"]} == {
        f"{configuration}.cf": ("full", sha(full), True),
        f"{configuration}.cfu": ("update", sha(update), True),
    }

    listing = await browser.get(f"/operator/releases?configuration={configuration}")
    assert f'id="release-{draft["id"]}"' in listing.text and labelled(listing)
    published = await browser.post(f"/operator/releases/{draft['id']}/publish", {"confirm": "yes"})
    assert published.status == 303, published.text
    [release] = await release_at_updates(updates, operator, configuration)
    assert release["state"] == "published"
    listing = await browser.get(f"/operator/releases?configuration={configuration}")
    row = re.search(rf'<tr id="release-{release["id"]}".*?</tr>', listing.text, re.S)
    assert row is not None and "published" in row.group(0) and "Withdraw" in row.group(0)

    # Published: the same version never changes; withdrawing needs a reason.
    frozen = await post_multipart(
        browser, "/operator/releases", draft_form(configuration, "3.0.41.20"), ("other.cf", b"other")
    )
    assert frozen.status == 409 and "never changes" in (frozen.error_of("version") or "")
    empty = await browser.post(f"/operator/releases/{release['id']}/withdraw", {"reason": " ", "confirm": "yes"})
    assert empty.status == 422 and empty.error_of("reason") == "Say why the release is withdrawn."
    withdrawn = await browser.post(
        f"/operator/releases/{release['id']}/withdraw", {"reason": "Broken VAT form", "confirm": "yes"}
    )
    assert withdrawn.status == 303
    [release] = await release_at_updates(updates, operator, configuration)
    assert release["state"] == "withdrawn" and release["withdrawn_reason"] == "Broken VAT form"

    # Russian.
    await browser.get("/language?lang=ru&next=/operator/releases")
    ru = await browser.get(f"/operator/releases?configuration={configuration}")
    assert "Новый релиз конфигурации" in ru.text and "отозван" in ru.text and labelled(ru)


async def test_publishing_waits_for_missing_kits_which_the_portal_uploads(
    browser: Browser, registration: RunningApp, updates: RunningApp, operator: Operator
) -> None:
    configuration = await catalogued(registration, updates, operator)
    content = kit_bytes(f"{configuration}-late", 200 * 1024)
    name = f"{configuration}_late.cf"
    body = {
        "release_date": "2026-03-01",
        "its_issue": "ITS 2026/03",
        "kits": [{"name": name, "kind": "full", "size": len(content), "sha256": sha(content)}],
    }
    async with updates.http.put(
        f"/v1/configurations/{configuration}/releases/1.0.0.1", json=body, headers=operator.headers
    ) as response:
        assert response.status == 201, await response.text()
        release_id = (await response.json())["id"]

    await browser.get("/operator/releases")
    refused = await browser.post(f"/operator/releases/{release_id}/publish", {"confirm": "yes"})
    assert refused.status == 409
    assert refused.form_error == f"Not published: upload these kits first: {name}."
    page = await browser.get(f"/operator/releases/{release_id}/kits")
    assert f'<option value="{name}">' in page.text and f'<label for="p-{release_id}">' in page.text

    wrong = await post_multipart(browser, f"/operator/releases/{release_id}/kits", {"kit": name}, (name, content[:-1]))
    assert wrong.status == 422 and "Nothing was stored" in (wrong.form_error or ""), wrong.text
    uploaded = await post_multipart(browser, f"/operator/releases/{release_id}/kits", {"kit": name}, ("x.cf", content))
    assert uploaded.status == 303, uploaded.text
    [draft] = await release_at_updates(updates, operator, configuration)
    assert draft["missing_kits"] == [] and draft["kits"][0]["uploaded"]

    published = await browser.post(f"/operator/releases/{release_id}/publish", {"confirm": "yes"})
    assert published.status == 303
    [release] = await release_at_updates(updates, operator, configuration)
    assert release["state"] == "published"


# ---- platform releases: a draft with its kits through the portal, published (UPD-2) --------------------


async def test_a_platform_release_is_drafted_its_kits_uploaded_and_published(
    browser: Browser, updates: RunningApp, operator: Operator
) -> None:
    page = await browser.get("/operator/releases/new-platform")
    assert page.status == 200 and labelled(page)
    opening = re.search(r'<form method="post" action="/operator/releases\?kind=platform"[^>]*>', page.text)
    assert opening is not None and 'enctype="multipart/form-data"' in opening.group(0)
    assert 'data-upload="p-platform-draft"' in opening.group(0) and '<label for="p-platform-draft">' in page.text
    for name in ("version", "grade", "differences", "migration_notes", "fixed_bugs", "readme", "kit_os", "kit_arch"):
        assert f'<label for="f-platform_{name}">' in page.text, name

    version = platform_version()
    name = f"platform_{version.replace('.', '_')}_linux_x86_64.tar.gz"
    content = kit_bytes(f"platform-{version}", 200 * 1024 + 11)
    saved = await post_multipart(browser, PLATFORM_DRAFT, platform_form(version), (name, content))
    assert saved.status == 303, saved.text
    [draft] = await platform_at_updates(updates, operator, version)
    assert saved.location == f"/operator/releases?done=draft&release={draft['id']}#release-{draft['id']}"
    assert (draft["kind"], draft["state"], draft["configuration"], draft["grade"]) == (
        "platform",
        "draft",
        None,
        "mandatory",
    )
    assert (draft["release_date"], draft["its_issue"]) == ("2026-04-15", "ITS 2026/04")
    assert [
        (k["name"], k["kind"], k["os"], k["arch"], k["size"], k["sha256"], k["uploaded"]) for k in draft["kits"]
    ] == [(name, "platform", "linux", "x86_64", len(content), hashlib.sha256(content).hexdigest(), True)]
    async with updates.app[POOL].acquire() as conn:
        stored = await release_by_version(conn, None, version)
    assert stored is not None
    assert list(stored.fixed_bugs) == [
        {"id": "10185634", "title": "The report hung on export"},
        {"id": "ITS:77", "title": "Dates were shown in UTC"},
    ]
    assert stored.readme == "Read me <first>.\nInstall the server, then the clients."
    assert (stored.differences, stored.migration_notes) == (
        "Faster **dynamic lists**.",
        "Update the server cluster first.",
    )

    # The ReadMe as a second kit: the same form again for the same version keeps the first kit.
    readme = f"Platform {version}: install the server first.".encode()
    form = platform_form(version, kit_kind="readme", kit_os="", kit_arch="", kit_name=f"readme_{version}.txt")
    second = await post_multipart(browser, PLATFORM_DRAFT, form, ("ReadMe.txt", readme))
    assert second.status == 303, second.text
    [draft] = await platform_at_updates(updates, operator, version)
    assert {k["name"]: (k["kind"], k["os"], k["arch"], k["sha256"], k["uploaded"]) for k in draft["kits"]} == {
        name: ("platform", "linux", "x86_64", sha(content), True),
        f"readme_{version}.txt": ("readme", None, None, sha(readme), True),
    }

    published = await browser.post(f"/operator/releases/{draft['id']}/publish", {"confirm": "yes"})
    assert published.status == 303, published.text
    [release] = await platform_at_updates(updates, operator, version)
    assert release["state"] == "published"
    listing = await browser.get(f"/operator/releases?kind=platform&q={version}")
    row = re.search(rf'<tr id="release-{release["id"]}".*?</tr>', listing.text, re.S)
    assert row is not None and f"Platform {version}" in row.group(0) and "published" in row.group(0)

    # Published: the version never changes; said next to the platform form's version, not the other form's.
    frozen = await post_multipart(browser, PLATFORM_DRAFT, platform_form(version), ("other.tar.gz", b"other"))
    assert frozen.status == 409 and "never changes" in (frozen.error_of("platform_version") or ""), frozen.text
    assert frozen.error_of("version") is None and f'value="{version}"' in frozen.text
    [release] = await platform_at_updates(updates, operator, version)
    assert release["state"] == "published" and len(release["kits"]) == 2

    await browser.get("/language?lang=ru&next=/operator/releases")
    ru = await browser.get("/operator/releases/new-platform")
    assert "Новый релиз платформы" in ru.text and "Исправленные ошибки" in ru.text and labelled(ru)


async def test_platform_draft_errors_are_shown_next_to_their_fields_and_nothing_is_stored(
    browser: Browser, updates: RunningApp, operator: Operator
) -> None:
    await browser.get("/operator/releases")
    version = platform_version()
    kit = (f"platform_{version}.tar.gz", kit_bytes(f"platform-bad-{version}", 4096))

    # Told by the portal: the shape of the form.
    cases: list[tuple[dict[str, str], str, str]] = [
        ({"fixed_bugs": "10185634: Fine\nno colon here"}, "fixed_bugs", "Line 2 is not “ID: description”"),
        ({"fixed_bugs": "1: One\n2: Two\n\n1: One again"}, "fixed_bugs", "Line 4 repeats the bug 1 of line 1."),
        ({"fixed_bugs": "10185634:no space"}, "fixed_bugs", "Line 1 is not"),
        ({"kit_os": ""}, "kit_os", "Choose the operating system of the platform distribution."),
        ({"kit_arch": ""}, "kit_arch", "Choose the architecture of the platform distribution."),
        ({"its_issue": " "}, "its_issue", ""),
        # Told by updates (422), next to the field it names.
        ({"version": "8.3.x"}, "version", "A version is numbers separated by dots"),
        ({"grade": "urgent"}, "grade", "Choose one of the offered values."),
        ({"release_date": "someday"}, "release_date", "Enter a date."),
        ({"fixed_bugs": "1: Fine\nBUG/2: Slash in the ID"}, "fixed_bugs", "Line 2: A bug's ID is letters"),
        ({"kit_name": "../escape.tar.gz"}, "kit_name", "Letters, digits, . _ + -"),
        ({"kit_os": "Linux!"}, "kit_os", "This value has the wrong form."),
    ]
    for overrides, field, message in cases:
        page = await post_multipart(browser, PLATFORM_DRAFT, platform_form(**{"version": version, **overrides}), kit)
        shown = page.error_of(f"platform_{field}")
        assert page.status == 422 and shown is not None and shown.startswith(message), (overrides, page.status, shown)
        assert page.error_of(field) is None and page.form_error is None, overrides  # not at the other form
        assert labelled(page) and 'aria-describedby="h-platform_' in page.text
        assert html_value(overrides.get("fixed_bugs", "10185634: The report hung on export")) in page.text
    no_file = await post_multipart(browser, PLATFORM_DRAFT, platform_form(version))
    assert no_file.status == 422 and no_file.error_of("platform_file") == "Choose the kit's file."
    assert no_file.error_of("file") is None
    unknown = await post_multipart(browser, "/operator/releases?kind=tables", platform_form(version), kit)
    assert unknown.status == 404
    assert await platform_at_updates(updates, operator, version) == []

    await browser.get("/language?lang=ru&next=/operator/releases")
    ru = await post_multipart(browser, PLATFORM_DRAFT, platform_form(version, fixed_bugs="без номера"), kit)
    assert ru.status == 422 and (ru.error_of("platform_fixed_bugs") or "").startswith("Строка 1 не в виде")
    assert await platform_at_updates(updates, operator, version) == []


def html_value(text: str) -> str:
    """How a textarea's text appears in the page (Jinja escapes it)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")


# ---- the delivery log ---------------------------------------------------------------------------------


async def test_the_delivery_log_filters_and_pages(browser: Browser, deliveries_pool: Pool) -> None:
    recipient = f"{unique()}@example.com"
    empty = await browser.get("/operator/deliveries?" + f"recipient={recipient}")
    assert empty.status == 200 and 'id="no-deliveries"' in empty.text and labelled(empty)

    pending: list[DeliveryStatus] = ["pending"] * 51
    statuses: list[DeliveryStatus] = ["sent", *pending]  # oldest first
    await seed(deliveries_pool, recipient, statuses)
    first = await browser.get(f"/operator/deliveries?recipient={recipient.upper()}")
    assert first.status == 200 and first.text.count('<tr id="delivery-') == 50
    following = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert following is not None
    second = await browser.get(following.group(1).replace("&amp;", "&"))
    assert second.status == 200 and second.text.count('<tr id="delivery-') == 2
    assert 'rel="next"' not in second.text and "Newest deliveries" in second.text

    sent = await browser.get(f"/operator/deliveries?recipient={recipient}&status=sent")
    assert sent.text.count('<tr id="delivery-') == 1 and "Subject" in sent.text
    assert "E-mail verification" in sent.text and "email_verification" not in sent.text  # the letter in words

    # A failed send says why in words; the mail server's own text only inside a <details>.
    [failed_id] = await seed(deliveries_pool, recipient, ["failed"])
    failed = await browser.get(f"/operator/deliveries?recipient={recipient}&status=failed")
    cell = re.search(rf'<tr id="delivery-{failed_id}">(.*?)</tr>', failed.text, re.S)
    assert cell is not None, failed.text[-3000:]
    assert "The mail server could not be reached." in cell.group(1)
    raw = re.search(r"<details><summary>[^<]+</summary><pre lang=\"en\">([^<]+)</pre></details>", cell.group(1))
    assert raw is not None and raw.group(1) == "SMTPConnectError: test"

    bad = await browser.get("/operator/deliveries?status=lost")
    assert bad.status == 422 and bad.error_of("status"), bad.text
    bad = await browser.get("/operator/deliveries?cursor=not-ours")
    assert bad.status == 422 and 'class="error form-error"' in bad.text

    await browser.get("/language?lang=ru&next=/operator/deliveries")
    ru = await browser.get(f"/operator/deliveries?recipient={recipient}&status=pending")
    assert "Журнал рассылки" in ru.text and "ожидает отправки" in ru.text and labelled(ru)
    assert "Подтверждение адреса электронной почты" in ru.text
    assert re.search(r"<td>\d\d\.\d\d\.\d{4}", ru.text), ru.text[-3000:]  # dates as Russian writes them
    ru_failed = await browser.get(f"/operator/deliveries?recipient={recipient}&status=failed")
    assert "Не удалось связаться с почтовым сервером." in ru_failed.text


# ---- nobody else -------------------------------------------------------------------------------------


async def test_a_user_without_the_operator_scope_gets_a_friendly_refusal_everywhere(
    portal: RunningApp, identity: RunningApp, registration: RunningApp, updates: RunningApp, operator: Operator
) -> None:
    account = await registered(identity)
    user = Browser(portal.url)
    try:
        assert (await user.log_in(account["login"], account["password"])).status == 303
        home = await user.get("/")
        assert 'href="/operator"' not in home.text
        partner, release = uuid.uuid4(), uuid.uuid4()
        number, configuration, taken, version = article(), code(), tin(), platform_version()
        for path in (
            "/operator",
            "/operator/partners",
            f"/operator/partners/{partner}",
            "/operator/catalogue",
            f"/operator/catalogue/products/{number}",
            "/operator/releases",
            "/operator/deliveries",
        ):
            page = await user.get(path)
            assert page.status == 403 and "Operators only" in page.text, (path, page.status, page.text[-500:])
        await user.get("/")
        posts = {
            "/operator/partners": {"name": "Mine", "tin": taken, "city": "Kazan", "contact_email": "a@b.example"},
            f"/operator/partners/{partner}/clients": {"client_name": "mine"},
            f"/operator/partners/{partner}/clients/{uuid.uuid4()}/revoke": {},
            f"/operator/partners/{partner}/invitations": {"full_name": "Me", "email": "me@example.com"},
            "/operator/catalogue/configurations": {
                "configuration_code": configuration,
                "configuration_name": "Mine",
                "configuration_vendor": "me",
                "configuration_maintenance_category": "1",
            },
            "/operator/catalogue/products": {
                "article": number,
                "name": "Mine",
                "edition": "BASIC",
                "configurations": configuration,
            },
            f"/operator/catalogue/products/{number}/numbers": {"count": "3"},
            f"/operator/releases/{release}/publish": {},
            f"/operator/releases/{release}/withdraw": {"reason": "because"},
        }
        for path, form in posts.items():
            page = await user.post(path, form)
            assert page.status == 403 and "Operators only" in page.text, (path, page.status, page.text[-500:])
        kit = (f"{configuration}.cf", b"kit")
        for path in ("/operator/releases", f"/operator/releases/{release}/kits"):
            page = await post_multipart(user, path, {**draft_form(configuration, "1.0.0.1"), "kit": "x.cf"}, kit)
            assert page.status == 403 and "Operators only" in page.text, (path, page.status, page.text[-500:])
        page = await post_multipart(user, PLATFORM_DRAFT, platform_form(version), ("platform.tar.gz", b"kit"))
        assert page.status == 403 and "Operators only" in page.text, (page.status, page.text[-500:])
    finally:
        await user.close()

    partners = await service_get(identity, f"/v1/partners?q={taken}", operator)
    assert taken not in {p["tin"] for p in partners["items"]}
    configurations = await service_get(registration, f"/v1/configurations?q={configuration}", operator)
    assert configuration not in {c["code"] for c in configurations["items"]}
    assert await release_at_updates(updates, operator, configuration) == []
    assert await platform_at_updates(updates, operator, version) == []


async def test_a_form_without_its_csrf_token_changes_nothing(
    browser: Browser, identity: RunningApp, updates: RunningApp, operator: Operator
) -> None:
    await browser.get("/operator/partners")
    taken, configuration = tin(), code()
    form = {"name": "No token", "tin": taken, "city": "Kazan", "contact_email": "office@franchisee.example"}
    for csrf in ("", "wrong"):
        page = await browser.post("/operator/partners", form, csrf=csrf)
        assert page.status == 403, page.text
    partners = await service_get(identity, f"/v1/partners?q={taken}", operator)
    assert taken not in {p["tin"] for p in partners["items"]}

    await browser.get("/operator/releases")
    page = await post_multipart(
        browser, "/operator/releases", draft_form(configuration, "1.0.0.1"), ("k.cf", b"kit"), csrf=False
    )
    assert page.status == 403
    assert await release_at_updates(updates, operator, configuration) == []

    version = platform_version()
    kit = ("platform.tar.gz", kit_bytes(f"platform-{version}", 1024))
    page = await post_multipart(browser, PLATFORM_DRAFT, platform_form(version), kit, csrf=False)
    assert page.status == 403
    late = aiohttp.FormData()  # a token, but not the first part: the streamed form is refused all the same
    for name, value in platform_form(version).items():
        late.add_field(name, value)
    late.add_field("csrf_token", browser.csrf)
    late.add_field("file", io.BytesIO(kit[1]), filename=kit[0], content_type="application/octet-stream")
    async with browser.http.post(PLATFORM_DRAFT, data=late, allow_redirects=False) as response:
        assert response.status == 403
    assert await platform_at_updates(updates, operator, version) == []


def test_the_upload_script_is_a_static_file_that_reports_progress() -> None:
    script = (Path(__file__).parents[2] / "services/portal/static/upload.js").read_text()
    assert "upload.onprogress" in script and "XMLHttpRequest" in script and "form[data-upload]" in script
