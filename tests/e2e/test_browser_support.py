"""The support desk in a real browser, through the gateway (issue 18: "a Playwright journey of ask → answer → rate →
search"): a customer asks the consulting line from the portal about one of the subscriber's products (first one no
contract covers: the refusal says why, with the offer, and keeps what was typed), the question goes to the partner
accompanying the product's ITS contract; a member of the partner's staff, told by e-mail, opens the partner cabinet's
support queue, takes the question and answers it with the minutes spent; the customer, told by e-mail, reads the
answer in the thread, closes the question and rates it, then searches the knowledge base from the header's search
box with a word in another grammatical form and finds the question, the word highlighted; in Russian too.

Each page of the journey must fit a 360 px phone and a 1280 px desktop (no sideways scrolling); with
ITS_SCREENSHOTS_DIR set (`make screenshots`) each is saved at both widths (`support-360-…`, `support-1280-…`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from playwright.async_api import Browser, Page, ViewportSize, expect

from shared.db import Pool
from tests.e2e.browser import VIEWPORT, browser_fixture, page_fixture, snap  # noqa: F401  (fixtures)
from tests.e2e.browser_stack import portal_fixture, site_fixture  # noqa: F401  (fixtures `portal`, `site`)
from tests.e2e.conftest import read_mail
from tests.e2e.contracts_flows import MOSCOW, Contracts, contract_body, contracts_db, flow, moscow, registration_db
from tests.e2e.flows import Portal, unique
from tests.e2e.test_browser_cabinets import open_cabinet, partner_staff
from tests.e2e.test_browser_journey import api, log_in, open_every_link
from tests.e2e.test_browser_russian import english_on
from tests.e2e.test_support_flow import support_db, support_knows
from tests.e2e.test_updates_flow import LONG_AGO
from tests.infra import wait_for

__all__ = ["api", "contracts_db", "flow", "registration_db", "support_db"]  # fixtures

PHONE: ViewportSize = {"width": 360, "height": 740}
SEARCHED = "договора"  # the answer says "договор" and "договоре"


async def shots(page: Page, name: str) -> None:
    """The page open now fits a phone and a desktop; saved at both widths. Left at the desktop's."""
    for viewport in (PHONE, VIEWPORT):
        await page.set_viewport_size(viewport)
        scroll, inner = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{name}: the page is {scroll} px wide on a {inner} px screen"
        await snap(page, f"support-{inner}-{name}")


async def letter(mail_dir: Path, to: str, subject: str) -> EmailMessage:
    def found() -> list[EmailMessage]:
        return [m for m in read_mail(mail_dir, to) if subject in str(m["Subject"])]

    messages: list[EmailMessage] = await wait_for(found, timeout=30, what=f"the e-mail {subject!r} to {to}")
    [message] = messages
    return message


async def test_a_customer_asks_the_partner_answers_in_its_cabinet_the_customer_rates_and_finds_it(
    site: str, page: Page, browser: Browser, api: Portal, flow: Contracts, support_db: Pool, mail_dir: Path
) -> None:
    # A partner with a staff member; a customer with two PROF products bought long ago (no free period, ITS-7), the
    # partner's ITS contract for one of them, processed on the next business day (ITS-2): 09:00 on that day.
    operator = await api.operator()
    partner = await flow.partner(operator)
    staff = await partner_staff(api, operator, partner, mail_dir)
    configuration, [covered, uncovered] = await flow.product(operator, edition="PROF", count=2)
    owner = await flow.customer("Olga Owner")
    for issued in (covered, uncovered):
        await flow.authorise(partner, issued.number, owner, LONG_AGO)
    today = datetime.now(MOSCOW).date()
    this_month, next_month = today.strftime("%Y-%m"), (today.replace(day=28) + timedelta(days=5)).strftime("%Y-%m")
    posted = await flow.post_contract(partner, contract_body(covered.number, (this_month, next_month)))
    async with flow.clock_at(moscow(f"{posted.body['processing_on']} 09:00")):
        await flow.wait_state(partner, str(posted.body["id"]), "active")
        await support_knows(support_db, [covered.number, uncovered.number], str(posted.body["id"]))

        # The customer asks from the portal: Support in the menu, then "Ask a question".
        await log_in(page, site, owner.login)
        await page.get_by_role("navigation", name="Main").get_by_role("link", name="Support").click()
        await expect(page.get_by_text("You have asked no questions yet.")).to_be_visible()
        await shots(page, "home")
        await page.get_by_role("link", name="Ask a question", exact=True).click()
        product = page.get_by_label("Product", exact=True)
        for issued in (covered, uncovered):  # the subscriber's products to choose from
            await expect(product.locator("option", has_text=issued.number)).to_have_count(1)
        subject = f"Поступление не проводится {unique('')}"
        await product.select_option(uncovered.number)
        await page.get_by_label("Configuration", exact=True).fill(configuration)
        await page.get_by_label("Version (optional)", exact=True).fill("3.0.150.1")
        await page.get_by_label("Subject", exact=True).fill(subject)
        await page.get_by_label("Your question", exact=True).fill("Документ **Поступление** не проводится.")
        await shots(page, "ask")
        await page.get_by_role("button", name="Send", exact=True).click()
        # No contract covers that one: said in words, with the offer; what was typed stays.
        await expect(page.get_by_text("The consulting line answers products whose ITS covers")).to_be_visible()
        await expect(page.locator("#offer-title")).to_be_visible()
        await expect(page.get_by_label("Subject", exact=True)).to_have_value(subject)
        await shots(page, "ask-refused")
        await product.select_option(covered.number)
        await page.get_by_role("button", name="Send", exact=True).click()
        await expect(page.get_by_text("Your question has been sent.")).to_be_visible()
        facts = page.locator("dl.facts")
        await expect(facts).to_contain_text(partner.name)  # who answers: the accompanying partner
        await expect(facts).to_contain_text("First answer due")
        await expect(page.locator(".markdown strong")).to_have_text("Поступление")
        await shots(page, "thread-asked")
        thread = page.url.split("?")[0]

        # The partner's staff member, told by e-mail (its link is the cabinet's page of the question), opens the
        # cabinet's support queue, takes the question and answers with the minutes spent.
        context = await browser.new_context(ignore_https_errors=True, viewport=VIEWPORT, locale="en-US")
        context.set_default_timeout(10_000)
        try:
            desk = await context.new_page()
            told = await letter(mail_dir, staff.email, f"New question from subscriber {owner.code}: {subject}")
            [link] = await open_every_link(desk, site, told)
            assert link.startswith(f"{site}/partner/{partner.id}/support/"), link
            await log_in(desk, site, staff.login)
            await open_cabinet(desk, site, partner)
            await desk.get_by_role("navigation", name="Partner cabinet").get_by_role("link", name="Support").click()
            row = desk.get_by_role("row").filter(has_text=subject)
            await expect(row).to_contain_text(owner.code)
            await expect(row).to_contain_text("New")
            await shots(desk, "partner-queue")
            await row.get_by_role("link", name=subject).click()
            assert desk.url == link
            await desk.get_by_role("button", name="Take the question").click()
            await expect(desk.get_by_role("button", name="Take the question")).to_have_count(0)
            await expect(desk.locator("#state")).to_have_text("In progress")
            answer = "Ставку задаёт договор с поставщиком: исправьте её в договоре и проведите документ снова."
            await desk.get_by_role("textbox", name="Answer", exact=True).fill(answer)
            await desk.get_by_label("Minutes spent", exact=True).fill("25")
            await shots(desk, "partner-answer")
            await desk.get_by_role("button", name="Send", exact=True).click()
            await expect(desk.locator("#state")).to_have_text("Answered")
            staff_message = desk.locator("article.side-staff")
            await expect(staff_message).to_contain_text(answer)
            await expect(staff_message).to_contain_text("25 min spent")
            await shots(desk, "partner-answered")
        finally:
            await context.close()

        # The customer, told by e-mail, reads the answer in the thread, closes the question and rates the answer.
        told = await letter(mail_dir, owner.email, f"Your question is answered: {subject}")
        assert await open_every_link(page, site, told) == [thread]
        await expect(page.locator("#state")).to_have_text("Answered")
        await expect(page.locator("article.side-staff")).to_contain_text(answer)
        await expect(page.locator("article.side-staff")).not_to_contain_text("min spent")  # the staff's own figure
        await shots(page, "thread-answered")
        await page.get_by_role("button", name="Close the question").click()
        await expect(page.locator("#state")).to_have_text("Closed")
        await page.get_by_label("5: excellent", exact=True).check()
        await page.get_by_label("Comment (optional)", exact=True).fill("Быстро и понятно")
        await shots(page, "rate")
        await page.get_by_role("button", name="Rate", exact=True).click()
        await expect(page.locator("#rating")).to_have_text("rated 5 of 5: Быстро и понятно")
        await expect(page.get_by_role("heading", name="Rate the answer")).to_have_count(0)  # once
        await shots(page, "thread-rated")

        # The knowledge base, from the header's search box: another form of the answer's word finds the question.
        await page.get_by_label("Search your questions and the vendor's articles", exact=True).fill(SEARCHED)
        await page.get_by_label("Search your questions and the vendor's articles", exact=True).press("Enter")
        await expect(page.get_by_role("heading", name="Knowledge base")).to_be_visible()
        hit = page.locator("li.hit").filter(has=page.get_by_role("link", name=subject))
        await expect(hit).to_have_count(1)
        await expect(hit.locator("b")).to_have_text(["договор", "договоре"])
        await shots(page, "search")
        await hit.get_by_role("link", name=subject).click()
        assert page.url == thread

        # In Russian: the search and the thread hold none of the portal's English words.
        await page.go_back()
        await page.get_by_role("navigation", name="Language").get_by_role("link", name="Русский").click()
        await expect(page.get_by_role("heading", name="База знаний")).to_be_visible()
        assert await english_on(page) == []
        await shots(page, "search-ru")
        await page.goto(thread)
        await expect(page.locator("#rating")).to_have_text("оценка 5 из 5: Быстро и понятно")
        assert await english_on(page) == []
        await shots(page, "thread-ru")
