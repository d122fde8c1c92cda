"""Every page fits a phone and a desktop (issue 17, "Reaches people wherever they are — Phones"; "Menus by role").

Each page a customer (the subscriber's owner), a user who is not the owner, a partner's staff member and an operator
can reach is opened at 390x844 and at 1280x800: the page never scrolls sideways (`scrollWidth <= innerWidth`; wide
tables scroll inside their own region), and at 390 px axe-core finds no serious or critical violation and every
control a finger uses (buttons, fields, menu links) is at least 44 px each way. The main menu folds behind one
button on a phone (no JavaScript: `<details>`) and is a plain row on a desktop; it shows what the person's role
needs: no "Users" for a non-owner, the partner cabinet first for partner staff, the operator cabinet first for
operators. A configuration's name is one 120-character word, as a fuzzer would make it: it must wrap.

The desktop menu keeps its lists to one row each at 1280 px in English and in Russian for an owner, a partner's staff
member and an operator (the pages on a row of their own, the person's own links on the brand's row).

With ITS_SCREENSHOTS_DIR set (`make screenshots`), each page is saved at each width (`width-390-…`, `width-1280-…`),
and the menu in each language (`menu-1280-…`, `menu-360-…` opened).
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from services.portal import i18n
from tests.e2e.browser import browser_fixture, snap  # noqa: F401  (fixtures)
from tests.e2e.browser_stack import portal_fixture, site_fixture  # noqa: F401  (fixtures `portal`, `site`)
from tests.e2e.contracts_flows import Contracts, contract_body, contracts_db, flow, registration_db
from tests.e2e.flows import Customer, Portal, months_ahead
from tests.e2e.test_browser_cabinets import CABINET_PAGES, open_cabinet, partner_staff
from tests.e2e.test_browser_journey import (
    ACCOUNT_PAGES,
    AXE,
    AXE_INSTALL,
    PUBLIC_PAGES,
    api,
    log_in,
    publish_form,
    publish_release,
    serious_violations,
)
from tests.infra import ServiceProcess, wait_for

__all__ = ["api", "contracts_db", "flow", "registration_db"]  # fixtures

# The support pages of a subscriber's users (issue 18), beside the account's pages.
SUPPORT_PAGES = ["/support", "/support/ask", "/support/search", "/support/search?q=VAT", "/support/figures"]

PHONE: ViewportSize = {"width": 390, "height": 844}
SMALL_PHONE: ViewportSize = {"width": 360, "height": 740}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
TOUCH = 44  # px, each way (WCAG 2.5.5)
LONG_NAME = "Enterprise" * 12  # one unbroken word

# What a finger taps: buttons, button-like links, fields, the menu's summary and the links of every menu.
TOO_SMALL = """() => [...document.querySelectorAll(
    'button, a.button, summary, select, textarea, input:not([type=hidden]):not([type=checkbox]):not([type=radio]),'
    + ' nav a, nav [aria-current]')]
  .filter(element => element.checkVisibility({visibilityProperty: true}))
  .map(element => [element, element.getBoundingClientRect()])
  .filter(([, box]) => box.width < 43.5 || box.height < 43.5)
  .map(([element, box]) => `${element.outerHTML.slice(0, 90)} ${Math.round(box.width)}x${Math.round(box.height)}`)"""


def page_name(path: str) -> str:
    """The page's path with its ids as `ID` and the configuration as `CFG` (a failure and a screenshot name the
    page, not the test's data)."""
    path = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "ID", path)
    return re.sub(r"Cfg[0-9a-f]{8}", "CFG", path)


class Widths:
    """Opens pages at both widths and keeps what did not fit."""

    def __init__(self, site: str) -> None:
        self.site = site
        self.problems: dict[str, list[str]] = {}
        self.widest: dict[int, tuple[int, str]] = {PHONE["width"]: (0, ""), DESKTOP["width"]: (0, "")}

    def note(self, page_label: str, problem: str) -> None:
        self.problems.setdefault(page_label, []).append(problem)

    async def visit(self, page: Page, who: str, path: str) -> None:
        await page.set_viewport_size(PHONE)
        await page.goto(f"{self.site}{path}")
        await self.check(page, who, path)

    async def check(self, page: Page, who: str, path: str) -> None:
        """The page open now, at the phone's width and then at the desktop's."""
        label = f"{who} {page_name(path)}"
        await page.set_viewport_size(PHONE)
        await self.fits(page, label)
        await page.add_script_tag(path=str(AXE))
        for violation in await serious_violations(page):
            targets = [node["target"] for node in violation["nodes"]]
            self.note(label, f"axe at 390 px: {violation['id']} ({violation['help']}) {targets}")
        for small in await page.evaluate(TOO_SMALL):
            self.note(label, f"smaller than {TOUCH} px at 390 px: {small}")
        await page.set_viewport_size(DESKTOP)
        await self.fits(page, label)
        await page.set_viewport_size(PHONE)

    async def fits(self, page: Page, label: str) -> None:
        await page.wait_for_load_state()
        scroll, inner = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        if scroll > self.widest[inner][0]:
            self.widest[inner] = (scroll, label)
        if scroll > inner:
            self.note(label, f"{scroll} px wide at {inner} px (scrolls sideways)")
        await snap(page, f"width-{inner}-{label}")


async def menu_links(page: Page) -> list[str]:
    """The names of the main menu's links, on the desktop (a plain row: no button to open it)."""
    await page.set_viewport_size(DESKTOP)
    menu = page.get_by_role("navigation", name="Main")
    await expect(menu.get_by_role("link").first).to_be_visible()
    assert await menu.locator("summary").is_hidden(), "the menu is a plain row on a desktop"
    names = [name.strip() for name in await menu.get_by_role("link").all_inner_texts()]
    await page.set_viewport_size(PHONE)
    return names


# Each list of the main menu (the pages; the person's own links) that wrapped onto a second row: the items below
# the first item's row. "Поддержка" once pushed "Выйти" onto a second row at 1280 px (issue 18).
WRAPPED = """() => [...document.querySelectorAll('nav.menu ul')].flatMap(list => {
    const first = list.children[0].getBoundingClientRect();
    return [...list.children].filter(item => item.getBoundingClientRect().top >= first.bottom)
        .map(item => item.innerText.trim());
})"""


async def the_menu_keeps_one_row(page: Page, site: str, who: str) -> None:
    """In each language: at 1280 px each list of the main menu is one row; at 360 px the menu opened fits. Saved at
    both widths (`menu-1280-…`, `menu-360-…`, the menu open). The page is left in English at the phone's width."""
    for language in i18n.LANGUAGES:
        await page.goto(f"{site}/language?{urlencode({'lang': language, 'next': '/'})}")
        await page.set_viewport_size(DESKTOP)
        wrapped = await page.evaluate(WRAPPED)
        assert wrapped == [], f"{who} in {language}: {wrapped} wrap onto a second row at {DESKTOP['width']} px"
        await snap(page, f"menu-{DESKTOP['width']}-{who}-{language}")
        await page.set_viewport_size(SMALL_PHONE)
        summary = page.get_by_role("navigation", name=i18n.translate(language, "nav.main")).locator("summary")
        await summary.click()
        scroll, inner = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{who} in {language}: the open menu is {scroll} px wide at {inner} px"
        await snap(page, f"menu-{SMALL_PHONE['width']}-{who}-{language}")
        await summary.click()
    await page.goto(f"{site}/language?{urlencode({'lang': 'en', 'next': '/'})}")
    await page.set_viewport_size(PHONE)


async def the_menu_folds_on_a_phone(page: Page) -> None:
    await page.set_viewport_size(PHONE)
    menu = page.get_by_role("navigation", name="Main")
    home = menu.get_by_role("link", name="Home")
    await expect(home).to_be_hidden()
    await menu.locator("summary").click()
    await expect(home).to_be_visible()
    box = await home.bounding_box()
    assert box is not None and box["height"] >= TOUCH, box
    await menu.locator("summary").click()
    await expect(home).to_be_hidden()


async def test_every_page_fits_a_phone_and_a_desktop(
    site: str, browser: Browser, api: Portal, flow: Contracts, services: dict[str, ServiceProcess], mail_dir: Path
) -> None:
    if not await asyncio.to_thread(AXE.is_file):
        pytest.fail(f"no axe-core at {AXE}: `make test` installs it (scripts/ensure-infra.sh: {AXE_INSTALL})")
    # The data the pages show: an owner with a colleague, an active product of a configuration with a long name
    # and a published release, a partner whose contract for it is in processing, a staff member of the partner.
    operator_login, operator = await api.operator_account()
    owner = await api.customer(verified_through=mail_dir)
    user = await api.invited_user(owner, mail_dir)
    partner = await flow.partner(operator)
    staff = await partner_staff(api, operator, partner, mail_dir)
    configuration = await api.configuration(operator, name=LONG_NAME)
    article = await api.product(operator, [configuration], edition="PROF", pin_envelope=False)
    [issued] = await api.issue(operator, article, 1, with_pin=False)
    await flow.authorise(partner, issued.number, owner)
    today = datetime.now(UTC).date()
    body = contract_body(issued.number, (months_ahead(today, 0), months_ahead(today, 11)))
    contract = await flow.post_contract(partner, body)
    await publish_release(api, services["updates"].url, operator, configuration)
    await publish_form(api, services["updates"].url, operator, configuration)
    forms = await api.call("GET", f"{services['updates'].url}/v1/forms?configuration={configuration}", operator)
    [form_code] = [f["code"] for f in forms.body["items"]]
    users = await api.call("GET", f"{api.identity}/v1/subscriber/users", owner.token)
    [user_id] = [u["account_id"] for u in users.body["items"] if u["login"] == user.login]
    staff_list = await api.call("GET", f"{api.identity}/v1/partners/{partner.id}/users", operator)
    [staff_id] = [u["account_id"] for u in staff_list.body["items"] if u["login"] == staff.login]

    widths = Widths(site)

    async def as_person(who: str, person: Customer | str) -> tuple[Page, Any]:
        context = await browser.new_context(ignore_https_errors=True, viewport=PHONE, locale="en-US", bypass_csp=True)
        context.set_default_timeout(15_000)
        page = await context.new_page()
        await log_in(page, site, person if isinstance(person, str) else person.login)
        return page, context

    # Anyone.
    context = await browser.new_context(ignore_https_errors=True, viewport=PHONE, locale="en-US", bypass_csp=True)
    try:
        page = await context.new_page()
        for path in ["/", *PUBLIC_PAGES, "/reset-password?token=unknown", "/no-such-page"]:
            await widths.visit(page, "visitor", path)
    finally:
        await context.close()

    # The subscriber's owner: every page of the account, a configuration's releases and a release.
    page, context = await as_person("owner", owner)
    try:
        await the_menu_folds_on_a_phone(page)
        assert "Users" in await menu_links(page)
        await the_menu_keeps_one_row(page, site, "owner")

        async def listed() -> bool:
            await page.goto(f"{site}/releases")
            return await page.get_by_role("link", name=configuration, exact=True).count() > 0

        await wait_for(listed, timeout=20, interval=0.5, what="updates to learn the registration")
        releases = [f"/releases/{configuration}", f"/releases/{configuration}/3.0.50.1"]
        releases += [f"/releases/{configuration}/articles", f"/releases/{configuration}/plan", "/releases/platform"]
        releases += [f"/releases/{configuration}/forms"]  # DAT-2
        extra = ["/software/configurations", f"/users/{user_id}/exclude"]
        # A question of the owner's (feedback needs no contract), for its thread's page.
        await page.set_viewport_size(DESKTOP)
        await page.goto(f"{site}/support/ask?kind=feedback")
        await page.get_by_label("Subject", exact=True).fill(LONG_NAME)
        await page.get_by_label("Your question", exact=True).fill(f"**{LONG_NAME}** in the release notes")
        await page.get_by_role("button", name="Send", exact=True).click()
        await expect(page.get_by_text("Your question has been sent.")).to_be_visible()
        thread = page.url.removeprefix(site).split("?")[0]
        for path in ACCOUNT_PAGES + releases + extra + SUPPORT_PAGES + [thread]:
            await widths.visit(page, "owner", path)
    finally:
        await context.close()

    # A user who is not the owner: no "Users" in the menu; the pages of the account.
    page, context = await as_person("user", user)
    try:
        assert "Users" in await menu_links(page)  # at first acting for the subscriber registering made for them
        await page.goto(f"{site}/subscriber")
        await page.get_by_label("Subscriber", exact=True).select_option(owner.code)
        await page.get_by_role("button", name="Switch").click()
        await expect(page.get_by_text(f"You are now acting for subscriber {owner.code}")).to_be_visible()
        assert "Users" not in await menu_links(page)
        for path in ACCOUNT_PAGES + SUPPORT_PAGES:
            await widths.visit(page, "user", path)
    finally:
        await context.close()

    # A partner's staff member: the partner cabinet first; its pages, the password page on the way in.
    page, context = await as_person("partner", staff)
    try:
        assert (await menu_links(page))[0] == "Partner cabinet"
        await the_menu_keeps_one_row(page, site, "partner")
        await widths.visit(page, "partner", "/partner")
        await widths.visit(page, "partner", f"/partner/{partner.id}/login")
        await page.set_viewport_size(DESKTOP)
        await page.goto(f"{site}/")
        cabinet = (await open_cabinet(page, site, partner)).removeprefix(site)
        paths = ["", "/contracts/new", "/authorise", "/clients", "/staff", "/staff/invite"]
        paths += [f"/staff/{staff_id}/remove", f"/contracts/{contract.body['id']}/organisation"]
        paths += [f"/clients/{partner.client_id}/revoke", "/support", "/support/figures"]
        for path in paths:
            await widths.visit(page, "partner", f"{cabinet}{path}")
    finally:
        await context.close()

    # An operator: the operator cabinet first; its pages.
    page, context = await as_person("operator", operator_login)
    try:
        assert (await menu_links(page))[0] == "Operator cabinet"
        await the_menu_keeps_one_row(page, site, "operator")
        paths = [f"/operator{path}" for path in CABINET_PAGES]
        paths += [f"/operator/partners/{partner.id}", f"/operator/partners/{partner.id}/deactivate"]
        paths += [f"/operator/partners/{partner.id}/staff/{staff_id}/remove"]
        paths += [f"/operator/catalogue/products/{article}", "/operator/support", "/operator/support/figures"]
        paths += [f"/operator/forms/{form_code}/5.01/withdraw"]  # a reporting form's confirmation page (DAT-2)
        paths += ["/operator/support?kind=feedback", f"/operator/support/{thread.rsplit('/', 1)[-1]}"]
        for path in paths:
            await widths.visit(page, "operator", path)
    finally:
        await context.close()

    print(f"\nthe widest pages: {widths.widest}")  # seen with -s: the numbers for a report
    assert not widths.problems, "\n".join(
        f"{label}: {problem}" for label, problems in widths.problems.items() for problem in problems
    )


async def test_the_operators_releases_fit_a_phone_as_stacked_rows(
    site: str, browser: Browser, api: Portal, services: dict[str, ServiceProcess]
) -> None:
    """The releases list at 390 px: no sideways scrolling, not even inside a region; each release is a stacked row
    whose cells are labelled; its actions are links to a confirmation page, which fits too."""
    operator_login, operator = await api.operator_account()
    configuration = await api.configuration(operator, name=LONG_NAME)
    await publish_release(api, services["updates"].url, operator, configuration)
    context = await browser.new_context(ignore_https_errors=True, viewport=PHONE, locale="en-US")
    try:
        page = await context.new_page()
        await log_in(page, site, operator_login)
        await page.goto(f"{site}/operator/releases?configuration={configuration}")
        widths = Widths(site)
        await widths.fits(page, "operator releases")
        assert not widths.problems, widths.problems
        row = page.locator("table.stacked tbody tr").first
        assert await row.evaluate("r => getComputedStyle(r).display") == "block"
        assert await page.locator("table.stacked thead").bounding_box() is not None
        cell_box = await row.locator("td").first.bounding_box()
        assert cell_box is not None and cell_box["x"] + cell_box["width"] <= PHONE["width"]
        scrollers = await page.evaluate(
            "() => [...document.querySelectorAll('main *:not(thead, thead *)')]"
            ".filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible')"
            ".map(e => e.outerHTML.slice(0, 80))"
        )
        assert scrollers == [], scrollers
        await page.get_by_role("link", name=re.compile("^Withdraw ")).first.click()
        await expect(page.get_by_role("button", name=re.compile("^Withdraw "))).to_be_visible()
        await widths.fits(page, "operator withdraw confirmation")
        assert not widths.problems, widths.problems
    finally:
        await context.close()
