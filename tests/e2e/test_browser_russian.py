"""Issue 17: every page in Russian, in a real browser through the gateway. A customer (a subscriber's owner with a
registered product and a published release), a user of that subscriber, a partner's staff member (in the cabinet)
and an operator each choose Russian (the browser's language) and visit every page their links lead to; the
visible text must hold none of the portal's English messages, no rule id (`REG-6`) and no page must be a 500.
A release that does not exist is a 404 page that says so, in Russian.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, expect

from services.portal import i18n
from tests.e2e.browser import VIEWPORT, browser_fixture, page_fixture  # noqa: F401  (fixtures)
from tests.e2e.browser_stack import portal_fixture, site_fixture  # noqa: F401  (fixtures `portal`, `site`)
from tests.e2e.contracts_flows import Contracts, contracts_db, flow, registration_db
from tests.e2e.flows import PASSWORD, Portal
from tests.e2e.test_browser_cabinets import partner_staff
from tests.e2e.test_browser_journey import api
from tests.infra import ServiceProcess

__all__ = ["api", "contracts_db", "flow", "registration_db"]  # fixtures

RULE_ID = re.compile(r"\b[A-Z]{2,3}-\d\b")
# Four lower-case English words in a row: a service's own words (its `detail`), which no dictionary of ours holds.
ENGLISH_WORDS = re.compile(r"\b[a-z]{2,}(?:[ ,]+[a-z]{2,}){3,}\b")
# Where a link leads away from the pages (a download, the other language, static files), not a page to read.
NOT_A_PAGE = re.compile(r"^/(logout|language|kits/|dl/|static/)")
SAME_PAGE_KIND = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+")


def english_phrases() -> list[str]:
    """Every English message's wording of three words or more (the parts between its `{placeholders}`), unless
    the Russian messages say it too (a product's own name)."""
    russian = "\n".join(i18n.RU.values()).lower()
    phrases = set()
    for text in i18n.EN.values():
        for part in re.split(r"\{[^}]*\}", text):
            phrase = " ".join(part.split()).strip(" .,:;()!?-\N{EM DASH}")
            if len(re.findall(r"[A-Za-z']+", phrase)) >= 3 and phrase.lower() not in russian:
                phrases.add(phrase.lower())
    return sorted(phrases)


ENGLISH = english_phrases()


def test_the_dictionary_of_english_messages_finds_english() -> None:
    """The check can fail: an English page is full of them, a Russian one has none."""
    assert len(ENGLISH) > 200
    assert "there is no page at this address" in ENGLISH
    assert not any(phrase in i18n.RU["error.404"].lower() for phrase in ENGLISH)


# The page's visible text, less what is marked as another language's (an English letter's subject in the
# operator's list of deliveries: the letter as it was sent) and what the vendor wrote (`data-authored`: articles,
# in whatever language their author chose; other tests publish English platform articles into this stack).
RUSSIAN_TEXT = """() => [...document.body.querySelectorAll('[lang]:not([lang="ru"]), [data-authored]')].reduce(
    (text, other) => text.replace(other.innerText, ' '), document.body.innerText)"""


async def english_on(page: Page, *, any_english: bool = True) -> list[str]:
    """What on the page (its title and visible text) is left in English, or is a rule id. With `any_english`,
    any run of English words too (not on the operator's pages: they list what every test wrote, in English)."""
    text = " ".join(f"{await page.title()}\n{await page.evaluate(RUSSIAN_TEXT)}".split())
    lower = text.lower()
    found = [f"English: {p!r}" for p in ENGLISH if p in lower] + [f"rule id: {r}" for r in RULE_ID.findall(text)]
    return found + [f"English words: {w!r}" for w in ENGLISH_WORDS.findall(text)] if any_english else found


async def crawl(
    page: Page, site: str, starts: list[str], *, limit: int = 70, any_english: bool = True
) -> tuple[set[str], dict[str, list[str]]]:
    """Every page the links lead to from `starts` (at most two of a kind: `/partners/<id>` once per two ids):
    the paths visited, and what each has left in English."""
    queue, visited, kinds = list(starts), set[str](), dict[str, int]()
    problems: dict[str, list[str]] = {}
    while queue and len(visited) < limit:
        path = queue.pop(0)
        if path in visited:
            continue
        visited.add(path)
        response = await page.goto(f"{site}{path}")
        status = response.status if response is not None else 0
        found = await english_on(page, any_english=any_english)
        if status >= 500:
            found.append(f"status {status}")
        if found:
            problems[path] = found
        # A link marked `download` (a question's attachment) saves a file: there is no page to read behind it.
        hrefs: list[str] = await page.eval_on_selector_all(
            "a[href]:not([download])", "links => links.map(a => a.getAttribute('href'))"
        )
        for href in hrefs:
            href = href.split("#")[0]
            if not href.startswith("/") or href.startswith("//") or NOT_A_PAGE.match(href) or href in visited:
                continue
            kind = SAME_PAGE_KIND.sub("#", href.split("?")[0])
            if kinds.get(kind, 0) < 2:
                kinds[kind] = kinds.get(kind, 0) + 1
                queue.append(href)
    return visited, problems


async def russian_context(browser: Browser) -> BrowserContext:
    """A browser whose language is Russian: the portal's pages (and a session started here) are in Russian."""
    context = await browser.new_context(ignore_https_errors=True, viewport=VIEWPORT, locale="ru-RU")
    context.set_default_timeout(10_000)
    return context


async def log_in(page: Page, site: str, login: str) -> None:
    await page.goto(f"{site}/login")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    # Logged in as this login (home greets by the full name).
    await expect(page.locator("form[action='/logout'] button")).to_contain_text(f"({login})")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Здравствуйте")


async def publish_russian_release(api: Portal, updates_url: str, operator: str, configuration: str) -> None:
    """A release whose texts the operator wrote in Russian (the operator's words are shown as written)."""
    content = hashlib.sha256(uuid.uuid4().bytes).digest() * 1250  # 39,1 КБ
    name = f"{configuration}_3_0_50_1.cfu"
    draft = await api.call(
        "PUT",
        f"{updates_url}/v1/configurations/{configuration}/releases/3.0.50.1",
        operator,
        json={
            "release_date": "2026-11-20",
            "its_issue": "ИТС 2026/11",
            "prerelease": False,
            "whats_new": "Ускорено закрытие месяца",
            "changes": "- закрытие месяца",
            "major_changes": [],
            "update_procedure": "Сделайте резервную копию и примените пакет.",
            "min_platform": "8.3.24.1342",
            "updates_from": [],
            "kits": [
                {"name": name, "kind": "update", "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
            ],
        },
    )
    assert draft.status in (200, 201), draft.body
    release_id = str(draft.body["id"])
    uploaded = await api.call(
        "PUT",
        f"{updates_url}/v1/releases/{release_id}/kits/{name}/content",
        operator,
        data=content,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert uploaded.status in (200, 201), uploaded.body
    published = await api.call("POST", f"{updates_url}/v1/releases/{release_id}/publish", operator)
    assert published.status == 200, published.body


async def test_every_page_is_in_russian_for_customers_users_partners_and_operators(
    site: str, browser: Browser, api: Portal, flow: Contracts, mail_dir: Path, services: dict[str, ServiceProcess]
) -> None:
    operator_login, operator = await api.operator_account()
    configuration = await api.configuration(operator)
    unregistered = await api.configuration(operator)
    article = await api.product(operator, [configuration], edition="BASIC", pin_envelope=False)
    [issued] = await api.issue(operator, article, 1, with_pin=False)
    partner = await flow.partner(operator)
    owner = await api.customer(verified_through=mail_dir)
    await flow.authorise(partner, issued.number, owner)  # active at once
    await publish_russian_release(api, services["updates"].url, operator, configuration)
    user = await api.invited_user(owner, mail_dir, its_access=True)
    staff = await partner_staff(api, operator, partner, mail_dir)

    visited: dict[str, set[str]] = {}
    problems: dict[str, dict[str, list[str]]] = {}
    context = await russian_context(browser)
    try:
        page = await context.new_page()
        seen, problems["visitor"] = await crawl(page, site, ["/", "/login", "/signup", "/forgot-password"])
        visited["visitor"] = seen

        await log_in(page, site, owner.login)
        extra = [f"/releases/{configuration}", f"/releases/{configuration}/3.0.50.1", f"/releases/{configuration}/plan"]
        seen, problems["customer"] = await crawl(page, site, ["/", *extra, f"/releases/{unregistered}"])
        visited["customer"] = seen
        # A release that does not exist: a 404 page that says so; an unknown page: the portal's 404.
        missing = await page.goto(f"{site}/releases/{configuration}/9.9.9.9")
        assert missing is not None and missing.status == 404
        await expect(page.get_by_role("heading", name="Релиз не найден")).to_be_visible()
        if found := await english_on(page):
            problems["customer"][f"/releases/{configuration}/9.9.9.9"] = found
        # Formats: the release's date and its kit's size as Russian writes them.
        await page.goto(f"{site}/releases/{configuration}/3.0.50.1")
        words = await page.evaluate("() => document.body.innerText")
        assert "20.11.2026" in words and "39,1 КБ" in words, words
        await context.clear_cookies()

        await log_in(page, site, user.login)
        visited["user"], problems["user"] = await crawl(page, site, ["/"])
        await context.clear_cookies()

        await log_in(page, site, staff.login)
        await page.goto(f"{site}/partner/{partner.id}/login")
        await page.fill("input[name=password]", PASSWORD)
        await page.click(f"form[action='/partner/{partner.id}/login'] button[type=submit]")
        await page.wait_for_url(re.compile(rf"/partner/{partner.id}$"))
        visited["partner staff"], problems["partner staff"] = await crawl(page, site, ["/", f"/partner/{partner.id}"])
        await context.clear_cookies()

        await log_in(page, site, operator_login)
        visited["operator"], problems["operator"] = await crawl(
            page, site, ["/", "/operator", "/operator/forms", "/operator/forms/new"], limit=90, any_english=False
        )
    finally:
        await context.close()

    # The crawl reached the pages of each role (a crawl that read nothing would find nothing).
    assert {"/software", "/contracts", "/maintenance", "/users", f"/releases/{configuration}"} <= visited["customer"]
    assert any(path.startswith(f"/partner/{partner.id}/") for path in visited["partner staff"]), visited
    assert {"/operator/partners", "/operator/catalogue", "/operator/releases"} <= visited["operator"], visited
    assert {"/operator/forms", "/operator/forms/new"} <= visited["operator"], visited
    left = {role: found for role, pages in problems.items() for found in [pages] if found}
    assert not left, left
