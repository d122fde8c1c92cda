"""The portal's support pages (issue 18, SUP-1) against a real support app (and identity for logins and the partner
cabinet), real PostgreSQL and RabbitMQ: a customer asks with a file, the partner answers in its cabinet, the customer
rates and the thread shows it all; the download is streamed as an attachment; a refusal is said in words with its
offer; the operators' consulting line and feedback inbox."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from services.portal.app import PortalSettings, create_app
from services.portal.sessions import Tokens, _id_hash, _seal, _unb64
from services.support.app import SupportSettings
from services.support.app import create_app as create_support
from shared.keys import POOL
from tests.infra import RunningApp, TestStack
from tests.integration.identity_fixtures import identity
from tests.integration.support_fixtures import Customer, Partner, World, attachments_dir, pool, publisher, world
from tests.integration.test_portal_pages import Browser, labelled, portal_schema, registered
from tests.integration.test_portal_partner import new_partner, open_cabinet
from tests.integration.test_portal_software import BothKeys
from tests.tokens import TestKeys

__all__ = ["attachments_dir", "identity", "pool", "portal_schema", "publisher", "world"]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000


@pytest.fixture(scope="module")
def keys() -> TestKeys:
    return TestKeys()


@pytest.fixture(scope="module")
async def support(
    migrated: TestStack, keys: TestKeys, identity: RunningApp, attachments_dir: Path
) -> AsyncIterator[RunningApp]:
    """support trusting the test's key (customers' and operators' tokens) and identity's (a partner cabinet's)."""
    jwks = f"{identity.url}/.well-known/jwks.json"
    settings = SupportSettings(attachments_dir=attachments_dir, jwks_url=jwks)
    async with RunningApp(create_support(settings, keys=BothKeys(keys, jwks))) as running:
        yield running


@pytest.fixture(scope="module")
async def portal(portal_schema: TestStack, identity: RunningApp, support: RunningApp) -> AsyncIterator[RunningApp]:
    settings = PortalSettings(identity_url=identity.url, support_url=support.url, trusted_proxies=["127.0.0.1"])
    async with RunningApp(create_app(settings)) as running:
        yield running


@pytest.fixture
async def browser(portal: RunningApp) -> AsyncIterator[Browser]:
    browser = Browser(portal.url)
    yield browser
    await browser.close()


async def acting_as(browser: Browser, portal: RunningApp, identity: RunningApp, headers: dict[str, str]) -> None:
    """A logged-in portal session whose access token is the test's (support trusts the test key)."""
    account = await registered(identity)
    page = await browser.log_in(account["login"], account["password"])
    assert page.status == 303, page.text
    raw = _unb64(browser.session_id or "")
    assert raw is not None
    access = headers["Authorization"].removeprefix("Bearer ")
    async with portal.app[POOL].acquire() as conn:
        sealed = _seal(raw, _id_hash(raw), Tokens(access=access, refresh="unused"))
        await conn.execute("UPDATE sessions SET tokens = $2 WHERE id_hash = $1", _id_hash(raw), sealed)


async def post_multipart(
    browser: Browser, path: str, fields: dict[str, str], files: list[tuple[str, bytes, str]]
) -> int:
    """A multipart form as a browser sends it: the CSRF token first, the texts, then the files."""
    form = aiohttp.FormData()
    form.add_field("csrf_token", browser.csrf)
    for name, value in fields.items():
        form.add_field(name, value)
    for filename, content, content_type in files:
        form.add_field("file", content, filename=filename, content_type=content_type)
    async with browser.http.post(path, data=form, allow_redirects=False) as response:
        browser.last_location = response.headers.get("Location", "")  # type: ignore[attr-defined]
        return response.status


async def test_ask_with_a_file_the_partner_answers_in_its_cabinet_the_customer_rates(
    browser: Browser, portal: RunningApp, identity: RunningApp, world: World, migrated: TestStack
) -> None:
    # A partner known to identity (its cabinet) and to support (from identity's event), accompanying the product.
    partner_doc, staff = await new_partner(identity, migrated)
    partner = Partner(uuid.UUID(partner_doc["id"]), partner_doc["name"])
    await world.wait_for_row("SELECT 1 FROM partners WHERE id = $1", partner.id)
    customer = world.customer()
    number = await world.register(customer)
    await world.contract([number], partner)
    await acting_as(browser, portal, identity, world.owner(customer))

    home = await browser.get("/support")
    assert home.status == 200 and 'href="/support/ask"' in home.text and "You have asked no questions yet." in home.text
    form = await browser.get("/support/ask?configuration=Accounting&version=3.0.42.5")
    assert form.status == 200 and labelled(form)
    assert 'value="Accounting"' in form.text and 'value="3.0.42.5"' in form.text  # a release page's context
    assert 'enctype="multipart/form-data"' in form.text

    fields = {
        "kind": "consulting",
        "registration_number": number,
        "configuration": "Accounting",
        "subject": "VAT return does not post",
        "body": "The **VAT return** stops. <script>alert(1)</script>",
    }
    status = await post_multipart(browser, "/support/ask", fields, [("экран 1.png", PNG, "image/png")])
    location = browser.last_location  # type: ignore[attr-defined]
    assert status == 303 and location.startswith("/support/questions/"), location
    question_id = location.split("/")[3].split("?")[0]

    thread = await browser.get(location)
    assert thread.status == 200 and "Your question has been sent." in thread.text
    assert "<strong>VAT return</strong>" in thread.text and "<script>alert" not in thread.text
    assert partner.name in thread.text and question_id not in re.sub(r'(href|action)="[^"]*"', "", thread.text)
    [link] = re.findall(r'href="(/support/questions/[^"]+/attachments/[^"]+)"', thread.text)
    async with browser.http.get(link) as response:
        assert response.status == 200 and await response.read() == PNG
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert response.headers["X-Content-Type-Options"] == "nosniff"

    # The partner's staff: the queue in its cabinet, take, answer with the minutes spent.
    staff_browser = Browser(portal.url)
    try:
        await open_cabinet(staff_browser, staff, str(partner.id))
        queue = await staff_browser.get(f"/partner/{partner.id}/support")
        assert queue.status == 200 and "VAT return does not post" in queue.text and customer.code in queue.text
        overdue = await staff_browser.get(f"/partner/{partner.id}/support?overdue=true&subscriber={customer.code}")
        assert overdue.status == 200 and "No questions match." in overdue.text
        page = await staff_browser.get(f"/partner/{partner.id}/support/{question_id}")
        assert page.status == 200 and labelled(page) and "Take the question" in page.text
        assert (await staff_browser.post(f"/partner/{partner.id}/support/{question_id}/take", {})).status == 303
        refused = await staff_browser.post(
            f"/partner/{partner.id}/support/{question_id}/write", {"body": "Check the period.", "minutes_spent": "x"}
        )
        assert refused.status == 422 and refused.error_of("minutes_spent") and "Check the period." in refused.text
        answered = await staff_browser.post(
            f"/partner/{partner.id}/support/{question_id}/write",
            {"body": "Close the *period* first.", "minutes_spent": "25"},
        )
        assert answered.status == 303
        figures = await staff_browser.get(f"/partner/{partner.id}/support/figures")
        assert figures.status == 200 and customer.code in figures.text
    finally:
        await staff_browser.close()

    # The customer sees the answer, closes, rates; the thread shows the rating.
    thread = await browser.get(f"/support/questions/{question_id}")
    assert "Close the <em>period</em> first." in thread.text and "Answered" in thread.text
    assert (await browser.post(f"/support/questions/{question_id}/close", {})).status == 303
    thread = await browser.get(f"/support/questions/{question_id}")
    no_score = await browser.post(f"/support/questions/{question_id}/rate", {"comment": "Quick"})
    assert no_score.status == 422 and no_score.error_of("score") and "Quick" in no_score.text
    assert (
        await browser.post(f"/support/questions/{question_id}/rate", {"score": "5", "comment": "Quick"})
    ).status == 303
    thread = await browser.get(f"/support/questions/{question_id}")
    assert "rated 5 of 5: Quick" in thread.text and "Rate the answer" not in thread.text
    twice = await browser.post(f"/support/questions/{question_id}/rate", {"score": "4"})
    assert twice.status == 409 and twice.form_error == "The question is rated already: a rating is given once."

    # The knowledge-base search: the empty form; with words, whatever support says, a page (never a 500).
    search = await browser.get("/support/search")
    assert search.status == 200 and labelled(search) and 'role="search"' in search.text
    found = await browser.get("/support/search?q=" + "VAT%20" * 100)
    assert found.status in (200, 422), found.text[-1500:]

    listing = await browser.get("/support?state=closed")
    assert listing.status == 200 and "VAT return does not post" in listing.text
    owner_figures = await browser.get("/support/figures")
    assert owner_figures.status == 200 and partner.name in owner_figures.text


async def test_refusals_are_said_in_words_with_the_offer_and_what_was_typed_stays(
    browser: Browser, portal: RunningApp, identity: RunningApp, world: World
) -> None:
    customer = world.customer()
    number = await world.register(customer, purchase_date=world.clock.now().date().replace(year=2000))
    await acting_as(browser, portal, identity, world.owner(customer))
    await browser.get("/support/ask")
    fields = {"kind": "consulting", "registration_number": number, "subject": "Kept subject", "body": "Kept body"}
    refused = await browser.post("/support/ask", fields)
    assert refused.status == 402, refused.text[-1500:]
    assert refused.form_error == "The consulting line answers products whose ITS covers the current month."
    assert 'id="offer-title"' in refused.text and number in refused.text
    assert 'value="Kept subject"' in refused.text and "Kept body" in refused.text

    empty = await browser.post("/support/ask", {"kind": "consulting", "registration_number": number, "subject": " "})
    assert empty.status == 422 and empty.error_of("subject") and empty.error_of("body")

    missing = await browser.get(f"/support/questions/{uuid.uuid4()}")
    assert missing.status == 404
    assert (await browser.get("/support/questions/not-a-uuid")).status == 404

    # Feedback needs no contract: it goes to the vendor, whose operators find it in their inbox.
    fields = {"kind": "feedback", "subject": "Portal wish", "body": "A dark theme, please."}
    sent = await browser.post("/support/ask", fields)
    assert sent.status == 303, sent.text[-1500:]

    operator = Browser(portal.url)
    try:
        await acting_as(operator, portal, identity, world.operator())
        inbox = await operator.get("/operator/support?kind=feedback")
        assert inbox.status == 200 and "Portal wish" in inbox.text and 'href="/operator/support"' in inbox.text
        line = await operator.get("/operator/support?kind=consulting")
        assert line.status == 200 and "Portal wish" not in line.text
        bad = await operator.get("/operator/support?subscriber=nobody&configuration=1x")
        assert bad.status == 200 and bad.text.count('class="error"') == 2
        figures = await operator.get("/operator/support/figures?month=2999-99")
        assert figures.status == 200
    finally:
        await operator.close()
    customer_page = await browser.get("/operator/support")
    assert customer_page.status == 403


async def test_a_customer_without_the_right_is_refused_and_another_subscriber_sees_nothing(
    browser: Browser, portal: RunningApp, identity: RunningApp, world: World
) -> None:
    customer = world.customer()
    number = await world.register(customer)
    headers = world.member(customer, uuid.uuid4(), rights=())
    await acting_as(browser, portal, identity, headers)
    await browser.get("/support/ask")
    refused = await browser.post(
        "/support/ask", {"kind": "consulting", "registration_number": number, "subject": "S", "body": "B"}
    )
    assert refused.status == 403 and "has not given you access to ITS" in (refused.form_error or "")
    status, asked = await world.ask(world.owner(customer), number)
    assert status == 201
    other = Browser(portal.url)
    try:
        await acting_as(other, portal, identity, world.owner(Customer(uuid.uuid4(), "CL-0000001", uuid.uuid4())))
        assert (await other.get(f"/support/questions/{asked['id']}")).status == 404
        async with other.http.get(f"/support/questions/{asked['id']}/attachments/x.png") as response:
            assert response.status == 404
    finally:
        await other.close()
    await asyncio.sleep(0)
