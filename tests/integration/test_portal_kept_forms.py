"""Forms kept across an expired session or the partner cabinet's password (issue 17), against real identity,
registration and contracts apps and PostgreSQL: after logging in again the person is back on the form with what
they typed and a notice that nothing was saved yet; nothing is sent for them, no secret is kept, another account
sees nothing, and a form from another site is refused as before."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.portal import kept_forms, sealing
from services.portal.keys import KEPT_FORMS
from services.portal.sessions import _id_hash, _unb64
from shared.keys import POOL
from tests.infra import RunningApp, TestStack
from tests.integration.identity_fixtures import identity
from tests.integration.registration_fixtures import World
from tests.integration.test_identity_subscribers import Person, person
from tests.integration.test_portal_pages import Browser, Page, portal_schema
from tests.integration.test_portal_partner import (
    catalogue_numbers,
    contract_form,
    forged_token,
    idempotency_key,
    new_partner,
    open_cabinet,
    partner_contracts,
    set_cabinet_token,
)
from tests.integration.test_portal_software import browser, card_form, contracts, keys, portal, registration, world

__all__ = ["browser", "contracts", "identity", "keys", "portal", "portal_schema", "registration", "world"]

SIGNED_OUT = "You were signed out; nothing was saved yet — check and send again."
CABINET = "The cabinet asked for your password again; nothing was saved yet — check and send again."


async def send(browser: Browser, path: str, form: dict[str, str], *, page: str, origin: str | None = "") -> Page:
    """A form sent from `page` of the portal as a browser sends it: its Origin and Referer (`origin=None`: none)."""
    headers = {} if origin is None else {"Origin": origin or browser.url, "Referer": f"{origin or browser.url}{page}"}
    data = {"csrf_token": browser.csrf, **form}
    async with browser.http.post(path, data=data, headers=headers, allow_redirects=False) as response:
        return Page(response.status, await response.text(), response.headers)


def kept_cookie(browser: Browser) -> str | None:
    return next((c.value for c in browser.http.cookie_jar if c.key == kept_forms.PLAIN_COOKIE and c.value), None)


async def kept_rows(portal: RunningApp) -> list[dict[str, Any]]:
    async with portal.app[POOL].acquire() as conn:
        return [dict(r) for r in await conn.fetch("SELECT * FROM kept_forms")]


async def kept_row(portal: RunningApp, browser: Browser) -> dict[str, Any] | None:
    raw = _unb64(kept_cookie(browser) or "")
    assert raw is not None
    async with portal.app[POOL].acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM kept_forms WHERE id_hash = $1", sealing.derive("kept-form-id", raw))
    return dict(row) if row else None


def opened(browser: Browser, row: dict[str, Any]) -> dict[str, Any]:
    """The kept fields, opened with the browser's cookie as the portal does."""
    raw = _unb64(kept_cookie(browser) or "")
    assert raw is not None
    plain = sealing.unseal(sealing.derive("kept-form-fields", raw), row["fields"], row["id_hash"])
    result: dict[str, Any] = json.loads(plain)
    return result


async def session_sql(portal: RunningApp, browser: Browser, sql: str) -> None:
    raw = _unb64(browser.session_id or "")
    assert raw is not None
    async with portal.app[POOL].acquire() as conn:
        await conn.execute(sql, _id_hash(raw))


async def log_in_to(browser: Browser, someone: Person, next_path: str) -> Page:
    await browser.get(f"/login?next={next_path}")
    return await browser.post(
        "/login", {"login": someone.account["login"], "password": someone.account["password"], "next": next_path}
    )


async def test_a_registration_card_sent_after_the_session_was_deleted_comes_back_after_the_login(
    browser: Browser, identity: RunningApp, portal: RunningApp
) -> None:
    owner = await person(identity)
    await browser.log_in(owner.account["login"], owner.account["password"])
    assert (await browser.get("/software/register")).status == 200
    await session_sql(portal, browser, "DELETE FROM sessions WHERE id_hash = $1")  # e.g. signed out elsewhere

    company = f"Kept Company {uuid.uuid4().hex[:8]}"
    form = {**card_form("1234567890", "8642097531"), "company_name": company}
    page = await send(browser, "/software/register", form, page="/software/register")
    assert page.status == 303 and page.location == "/login?next=%2Fsoftware%2Fregister", page.text[-2000:]
    row = await kept_row(portal, browser)
    assert row is not None and row["path"] == "/software/register" and row["account_id"] is None
    assert company.encode() not in row["fields"]  # sealed
    kept = opened(browser, row)
    assert kept["fields"]["company_name"] == company and kept["reason"] == "signed_out"
    assert "pin" not in kept["fields"] and "csrf_token" not in kept["fields"]  # never a secret

    page = await log_in_to(browser, owner, "/software/register")
    assert page.status == 303 and page.location == "/software/register"
    row = await kept_row(portal, browser)
    assert row is not None and str(row["account_id"]) == owner.account["id"]  # the account that logged in

    page = await browser.get("/software/register")
    assert page.status == 200 and SIGNED_OUT in page.text
    assert f'value="{company}"' in page.text and 'value="1234567890"' in page.text
    assert "8642097531" not in page.text  # the PIN is typed again
    assert kept_cookie(browser) is None  # shown once, then forgotten
    assert row["id_hash"] not in [r["id_hash"] for r in await kept_rows(portal)]
    page = await browser.get("/software/register")
    assert SIGNED_OUT not in page.text and company not in page.text


async def test_a_kept_rename_is_shown_to_its_own_account_only(
    browser: Browser, identity: RunningApp, portal: RunningApp
) -> None:
    owner, other = await person(identity), await person(identity)
    await browser.log_in(owner.account["login"], owner.account["password"])
    assert (await browser.get("/subscriber")).status == 200
    await session_sql(
        portal, browser, "UPDATE sessions SET expires_at = now() - interval '1 minute' WHERE id_hash = $1"
    )

    name = f"Renamed {uuid.uuid4().hex[:8]}"
    page = await send(browser, "/subscriber/name", {"name": name}, page="/subscriber")
    assert page.status == 303 and page.location == "/login?next=%2Fsubscriber"
    row = await kept_row(portal, browser)
    assert row is not None and str(row["account_id"]) == owner.account["id"]  # the expired session's account

    # Someone else logs in in the same browser: nothing of it, and it stays for its owner.
    page = await log_in_to(browser, other, "/subscriber")
    page = await browser.get(page.location)
    assert page.status == 200 and name not in page.text and SIGNED_OUT not in page.text
    assert await kept_row(portal, browser) is not None
    # The cookie copied into another browser, logged in as someone else: nothing either.
    elsewhere = Browser(portal.url)
    try:
        await elsewhere.log_in(other.account["login"], other.account["password"])
        elsewhere.http.cookie_jar.update_cookies({kept_forms.PLAIN_COOKIE: kept_cookie(browser) or ""})
        page = await elsewhere.get("/subscriber")
        assert page.status == 200 and name not in page.text and SIGNED_OUT not in page.text
    finally:
        await elsewhere.close()

    page = await log_in_to(browser, owner, "/subscriber")
    page = await browser.get(page.location)
    assert page.status == 200 and SIGNED_OUT in page.text and f'value="{name}"' in page.text
    status, subscriber = await owner.call("GET", "/v1/subscriber")
    assert status == 200 and subscriber["name"] != name  # nothing was sent for them


async def test_a_form_of_a_session_replaced_by_a_login_elsewhere_comes_back_at_once(
    browser: Browser, identity: RunningApp
) -> None:
    owner = await person(identity)
    await browser.log_in(owner.account["login"], owner.account["password"])
    await browser.get("/subscriber")
    stale = browser.csrf
    await browser.log_in(owner.account["login"], owner.account["password"])  # another tab: a new session
    browser.csrf = stale
    name = f"Renamed {uuid.uuid4().hex[:8]}"
    page = await send(browser, "/subscriber/name", {"name": name}, page="/subscriber")
    assert page.status == 303 and page.location == "/subscriber"  # logged in already: straight to the form
    await browser.get("/language?lang=ru&next=/")  # in Russian too
    page = await browser.get("/subscriber")
    assert page.status == 200 and page.lang == "ru" and f'value="{name}"' in page.text
    assert "Вы вышли из системы; ничего ещё не сохранено — проверьте и отправьте снова." in page.text


async def test_a_form_from_another_site_or_a_visitors_form_is_refused_as_before(
    browser: Browser, identity: RunningApp, portal: RunningApp
) -> None:
    before = len(await kept_rows(portal))
    owner = await person(identity)
    await browser.log_in(owner.account["login"], owner.account["password"])
    await browser.get("/subscriber")
    await session_sql(portal, browser, "DELETE FROM sessions WHERE id_hash = $1")
    for origin in ("https://evil.example", None):
        page = await send(browser, "/subscriber/name", {"name": "Forged"}, page="/subscriber", origin=origin)
        assert page.status == 403 and "The form has expired" in page.text
    # The page's own form stripped of its token, or with something else in its place (not a token of a page).
    for forged in ("", "not-the-token"):
        page = await send(browser, "/subscriber/name", {"name": "Forged", "csrf_token": forged}, page="/subscriber")
        assert page.status == 403
    page = await send(browser, "/signup", {"login": "someone", "email": "a@example.com"}, page="/signup")
    assert page.status == 403
    # A visitor's session ended: its logout button is not a form to keep either.
    page = await send(browser, "/logout", {}, page="/")
    assert page.status == 403
    assert len(await kept_rows(portal)) == before and kept_cookie(browser) is None


async def test_a_contract_typed_when_the_cabinets_password_had_expired_comes_back_after_the_password(
    browser: Browser, identity: RunningApp, portal: RunningApp, contracts: RunningApp, world: World, migrated: TestStack
) -> None:
    partner, someone = await new_partner(identity, migrated)
    numbers = await catalogue_numbers(world, contracts)
    await open_cabinet(browser, someone, partner["id"])
    form_page = f"/partner/{partner['id']}/contracts/new"
    key = idempotency_key(await browser.get(form_page))
    await set_cabinet_token(portal, browser, forged_token(partner["id"], expires_in=-60))  # 15 minutes later

    form = contract_form(migrated, numbers, key)
    page = await send(browser, form_page, form, page=form_page)
    assert page.status == 303
    assert page.location == f"/partner/{partner['id']}/login?next=%2Fpartner%2F{partner['id']}%2Fcontracts%2Fnew"
    assert await partner_contracts(contracts, partner["id"]) == []
    row = await kept_row(portal, browser)
    assert row is not None and str(row["account_id"]) == someone.account["id"]

    await browser.get(page.location)
    page = await browser.post(
        f"/partner/{partner['id']}/login", {"password": someone.account["password"], "next": form_page}
    )
    assert page.status == 303 and page.location == form_page
    page = await browser.get(form_page)
    assert page.status == 200 and CABINET in page.text
    for name in ("number", "org_name", "tin", "kpp", "main_registration_number", "period_from", "period_to", "kind"):
        assert f'value="{form[name]}"' in page.text, name
    assert await partner_contracts(contracts, partner["id"]) == []  # nothing was sent for them

    # The person sends it again: received once.
    page = await browser.post(form_page, {**form, "idempotency_key": idempotency_key(page)})
    assert page.status == 303 and page.location.startswith(f"/partner/{partner['id']}?received="), page.text[-2000:]
    [stored] = await partner_contracts(contracts, partner["id"])
    assert stored["number"] == form["number"]


async def test_expired_kept_forms_are_purged(portal: RunningApp) -> None:
    now = datetime.now(UTC)
    async with portal.app[POOL].acquire() as conn:
        await conn.execute(
            "INSERT INTO kept_forms (id_hash, path, fields, created_at, expires_at) VALUES ($1, '/', '', $2, $3)",
            sealing.new_id(),
            now - timedelta(hours=2),
            now - timedelta(hours=1),
        )
    assert await portal.app[KEPT_FORMS].purge_expired() >= 1
