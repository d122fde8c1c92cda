"""The partner cabinet against real identity, registration and contracts apps: ITS-1, ITS-2, ITS-6, REG-5.

A partner's staff member (invited by an operator, as identity's tests do) logs in to the portal, confirms
the password to open the cabinet, and works there with the cabinet's own partner token.
"""

from __future__ import annotations

import html
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import jwt
import pytest

from rules.months import Month
from services.portal import store as portal_store
from services.portal.keys import SESSIONS
from services.portal.sessions import Session, _id_hash, _unb64, _unseal
from shared.clock import TestClock
from shared.keys import POOL
from tests.infra import RunningApp, TestStack, wait_for
from tests.integration.identity_fixtures import identity
from tests.integration.registration_fixtures import World
from tests.integration.test_identity_partners import (
    client_token,
    create_partner,
    operator_token,
    partner_invitation_link,
    staff_token,
)
from tests.integration.test_identity_subscribers import Person, person
from tests.integration.test_portal_pages import Browser, Page, labelled, portal_schema
from tests.integration.test_portal_software import (
    browser,
    contracts,
    keys,
    owner_known_to_registration,
    portal,
    registration,
    world,
)

__all__ = ["browser", "contracts", "identity", "keys", "portal", "portal_schema", "registration", "world"]

VALID_TIN, VALID_KPP = "7707083893", "773601001"
MOSCOW = ZoneInfo("Europe/Moscow")


# ---- people and data ---------------------------------------------------------------------------


async def staff_of(identity: RunningApp, operator: str, partner: dict[str, Any], *, admin: bool = True) -> Person:
    """A person on the partner's staff: invited by an operator, accepted with their own account."""
    someone = await person(identity)
    async with identity.http.post(
        f"/v1/partners/{partner['id']}/invitations",
        headers={"Authorization": f"Bearer {operator}"},
        json={"full_name": "Pavel Partner", "email": someone.account["email"], "admin": admin},
    ) as r:
        assert r.status == 201, await r.text()
        invitation = await r.json()
    link = await partner_invitation_link(identity, invitation["id"])
    status, accepted = await someone.call("POST", f"{link}/accept")
    assert status == 200, accepted
    return someone


async def new_partner(identity: RunningApp, stack: TestStack, *, admin: bool = True) -> tuple[dict[str, Any], Person]:
    operator = await operator_token(identity, stack)
    partner = await create_partner(identity, operator)
    return partner, await staff_of(identity, operator, partner, admin=admin)


async def open_cabinet(browser: Browser, someone: Person, partner_id: str) -> None:
    """Log in to the portal, then confirm the password for the partner's cabinet."""
    page = await browser.log_in(someone.account["login"], someone.account["password"])
    assert page.status == 303
    page = await browser.get(f"/partner/{partner_id}")
    assert page.status == 303 and page.location == f"/partner/{partner_id}/login?next=%2Fpartner%2F{partner_id}"
    page = await browser.get(page.location)
    assert page.status == 200
    page = await browser.post(
        f"/partner/{partner_id}/login", {"password": someone.account["password"], "next": f"/partner/{partner_id}"}
    )
    assert page.status == 303 and page.location == f"/partner/{partner_id}", page.text[-2000:]


async def catalogue_numbers(world: World, contracts: RunningApp, count: int = 2) -> list[str]:
    """Registration numbers of a new PROF product, once contracts has learnt them from registration's events."""
    issued = await world.issue(await world.product("PROF"), count=count)
    numbers = [str(i["registration_number"]) for i in issued]

    async def known() -> bool:
        async with contracts.app[POOL].acquire() as conn:
            found: int = await conn.fetchval("SELECT count(*) FROM numbers WHERE number = ANY($1::text[])", numbers)
            return found == len(numbers)

    await wait_for(known, timeout=20, what="contracts to learn the catalogue's numbers")
    return numbers


def this_month(stack: TestStack) -> Month:
    return Month.of(TestClock(stack.var_dir).now().astimezone(MOSCOW).date())


def contract_form(stack: TestStack, numbers: list[str], key: str, **overrides: str) -> dict[str, str]:
    start = this_month(stack)
    return {
        "idempotency_key": key,
        "number": f"ITS-{uuid.uuid4().hex[:10]}",
        "org_name": "Romashka LLC",
        "tin": VALID_TIN,
        "kpp": VALID_KPP,
        "main_registration_number": numbers[0],
        "additional_registration_numbers": "\n".join(numbers[1:]),
        "period_from": str(start),
        "period_to": str(start.plus(11)),
        "kind": "ITS PROF",
        **overrides,
    }


def idempotency_key(page: Page) -> str:
    found = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
    assert found, page.text[-2000:]
    return found.group(1)


def row(text: str, element_id: str) -> str:
    found = re.search(rf'<tr id="{element_id}"[^>]*>(.*?)</tr>', text, re.S)
    assert found, element_id
    return found.group(1)


async def partner_contracts(contracts: RunningApp, partner_id: str) -> list[dict[str, Any]]:
    async with contracts.app[POOL].acquire() as conn:
        rows = await conn.fetch(
            "SELECT id, number, org_name, tin, kpp, state, processing_on FROM contracts WHERE partner_id = $1",
            uuid.UUID(partner_id),
        )
    return [dict(r) for r in rows]


async def set_cabinet_token(portal: RunningApp, browser: Browser, token: str | None) -> None:
    """The session's partner token replaced through the portal's own Sessions (as after 15 minutes)."""
    raw = _unb64(browser.session_id or "")
    assert raw is not None
    async with portal.app[POOL].acquire() as conn:
        row = await portal_store.live_session(conn, _id_hash(raw), datetime.now(UTC))
    assert row is not None
    await portal.app[SESSIONS].set_partner_token(Session(raw, row, None), token)


async def cabinet_token(portal: RunningApp, browser: Browser) -> str | None:
    raw = _unb64(browser.session_id or "")
    assert raw is not None
    async with portal.app[POOL].acquire() as conn:
        sealed = await conn.fetchval("SELECT tokens FROM sessions WHERE id_hash = $1", _id_hash(raw))
    return _unseal(raw, _id_hash(raw), sealed).partner


def forged_token(partner_id: str, *, expires_in: float) -> str:
    """A token that reads like the cabinet's (the portal does not verify) but no service accepts."""
    claims = {
        "sub": str(uuid.uuid4()),
        "scope": "partner",
        "partner": {"id": partner_id, "admin": True},
        "exp": int(time.time() + expires_in),
    }
    return jwt.encode(claims, "not-the-identity-key-not-the-identity-key", algorithm="HS256")


# ---- the cabinets and the password ------------------------------------------------------------


async def test_the_cabinet_asks_for_the_password_and_lists_only_ones_own_partners(
    browser: Browser, identity: RunningApp, migrated: TestStack
) -> None:
    partner, someone = await new_partner(identity, migrated)
    await browser.log_in(someone.account["login"], someone.account["password"])
    home = await browser.get("/")
    assert '<a href="/partner">' in home.text  # the nav offers the cabinet to partner staff
    page = await browser.get("/partner")
    assert page.status == 200 and labelled(page)
    assert partner["name"] in row(page.text, f"partner-{partner['id']}")

    page = await browser.get(f"/partner/{partner['id']}/contracts/new")
    assert page.status == 303 and page.location.startswith(f"/partner/{partner['id']}/login?next=")
    page = await browser.get(page.location)
    assert page.status == 200 and labelled(page)
    assert f"Confirm your password to open the cabinet of {partner['name']}" in page.text
    assert "asks for your password again after 15 minutes" in page.text
    assert someone.account["login"] in page.text and 'name="login"' not in page.text  # only the password is typed

    next_path = f"/partner/{partner['id']}/contracts/new"
    page = await browser.post(f"/partner/{partner['id']}/login", {"password": "wrong-password", "next": next_path})
    assert page.status == 401 and page.error_of("password") == "The password is wrong."
    page = await browser.post(
        f"/partner/{partner['id']}/login", {"password": someone.account["password"], "next": next_path}, csrf=""
    )
    assert page.status == 403
    page = await browser.post(
        f"/partner/{partner['id']}/login", {"password": someone.account["password"], "next": "//evil.example/"}
    )
    assert page.status == 303 and page.location == f"/partner/{partner['id']}"  # only a path of this site
    page = await browser.get(next_path)
    assert page.status == 200 and labelled(page)

    # Closing the cabinet drops its token; the user stays logged in.
    page = await browser.post(f"/partner/{partner['id']}/logout", {})
    assert page.status == 303 and page.location == "/partner?closed=1"
    page = await browser.get(page.location)
    assert page.status == 200 and "The partner cabinet is closed" in page.text
    assert (await browser.get(f"/partner/{partner['id']}")).status == 303


async def test_too_many_wrong_passwords_say_when_to_try_again(
    browser: Browser, identity: RunningApp, migrated: TestStack
) -> None:
    partner, someone = await new_partner(identity, migrated)
    await browser.log_in(someone.account["login"], someone.account["password"])
    path = f"/partner/{partner['id']}/login"
    await browser.get(path)
    for _ in range(5):
        page = await browser.post(path, {"password": "wrong-password"})
        assert page.status == 401
    page = await browser.post(path, {"password": someone.account["password"]})
    error = page.error_of("password") or ""
    assert page.status == 429 and re.fullmatch(r"Too many wrong passwords\. Please try again in \d+ min\.", error), (
        error
    )
    assert (await browser.get(f"/partner/{partner['id']}")).status == 303  # the cabinet stays closed


async def test_someone_on_no_partners_staff_gets_a_friendly_refusal(browser: Browser, identity: RunningApp) -> None:
    someone = await person(identity)
    await browser.log_in(someone.account["login"], someone.account["password"])
    home = await browser.get("/")
    assert '<a href="/partner">' not in home.text
    page = await browser.get("/partner")
    assert page.status == 403 and "not on the staff of any partner" in page.text
    page = await browser.get(f"/partner/{uuid.uuid4()}/login")
    assert page.status == 404
    page = await browser.get("/partner/not-an-id")
    assert page.status == 404


async def test_an_expired_or_refused_cabinet_token_asks_for_the_password_again(
    browser: Browser, identity: RunningApp, portal: RunningApp, migrated: TestStack
) -> None:
    partner, someone = await new_partner(identity, migrated)
    await open_cabinet(browser, someone, partner["id"])
    assert (await browser.get(f"/partner/{partner['id']}")).status == 200

    # 15 minutes later the token has expired: the password page, and back to the page afterwards.
    await set_cabinet_token(portal, browser, forged_token(partner["id"], expires_in=-60))
    page = await browser.get(f"/partner/{partner['id']}/authorise")
    assert page.status == 303
    assert page.location == f"/partner/{partner['id']}/login?next=%2Fpartner%2F{partner['id']}%2Fauthorise"

    # A token the services refuse (revoked, forged) is dropped from the session, and the password asked.
    await set_cabinet_token(portal, browser, forged_token(partner["id"], expires_in=600))
    page = await browser.get(f"/partner/{partner['id']}")
    assert page.status == 303 and page.location.startswith(f"/partner/{partner['id']}/login?next=")
    assert await cabinet_token(portal, browser) is None
    page = await browser.get(page.location)
    page = await browser.post(
        f"/partner/{partner['id']}/login",
        {"password": someone.account["password"], "next": f"/partner/{partner['id']}/authorise"},
    )
    assert page.status == 303 and page.location == f"/partner/{partner['id']}/authorise"
    assert (await browser.get(page.location)).status == 200


# ---- contracts (ITS-1, ITS-2, ITS-6) ----------------------------------------------------------------


async def test_a_partner_posts_a_contract_once_and_sees_it_in_processing(
    browser: Browser, identity: RunningApp, contracts: RunningApp, world: World, migrated: TestStack
) -> None:
    partner, someone = await new_partner(identity, migrated)
    numbers = await catalogue_numbers(world, contracts)
    await open_cabinet(browser, someone, partner["id"])
    page = await browser.get(f"/partner/{partner['id']}")
    assert page.status == 200 and labelled(page) and "No contracts have been posted yet." in page.text

    page = await browser.get(f"/partner/{partner['id']}/contracts/new")
    assert page.status == 200 and labelled(page)
    key = idempotency_key(page)

    # Bad fields: each refusal next to its field, nothing stored (ITS-1).
    bad = contract_form(
        migrated,
        numbers,
        key,
        tin="7707083894",
        kpp="",
        main_registration_number="1234567",
        period_to=str(this_month(migrated).plus(-1)),
    )
    page = await browser.post(f"/partner/{partner['id']}/contracts/new", bad)
    assert page.status == 422, page.text[-3000:]
    assert page.error_of("tin") == "The TIN's check digit is wrong: please check the number for typos."
    assert page.error_of("kpp") == "An organisation (10-digit TIN) must give its KPP: 9 characters, e.g. 773601001."
    assert page.error_of("main_registration_number") == "1234567 is not a registration number of the catalogue."
    assert page.error_of("period_to") == "The period ends before it starts."
    assert page.error_of("org_name") is None and 'value="Romashka LLC"' in page.text  # what was typed stays
    assert idempotency_key(page) == key  # nothing was stored under the key: the form keeps it
    page = await browser.post(f"/partner/{partner['id']}/contracts/new", {**bad, "number": "!"})
    assert page.status == 422 and page.error_of("number") is not None
    assert await partner_contracts(contracts, partner["id"]) == []

    form = contract_form(migrated, numbers, key)
    page = await browser.post(f"/partner/{partner['id']}/contracts/new", form, csrf="wrong")
    assert page.status == 403 and await partner_contracts(contracts, partner["id"]) == []

    page = await browser.post(f"/partner/{partner['id']}/contracts/new", form)
    assert page.status == 303 and page.location.startswith(f"/partner/{partner['id']}?received="), page.text[-2000:]
    first = page.location
    # A double submit (the same form, the same Idempotency-Key): the same answer, one contract.
    page = await browser.post(f"/partner/{partner['id']}/contracts/new", form)
    assert page.status == 303 and page.location == first
    [stored] = await partner_contracts(contracts, partner["id"])
    assert stored["number"] == form["number"] and stored["state"] == "processing"

    # ITS-2: received, processed on the next business day.
    processing_on = stored["processing_on"]
    day = f"{processing_on.day} {processing_on:%B %Y}"  # issue 17: `7 December 2026`, as e-mails write it
    page = await browser.get(first)
    assert page.status == 200
    assert f"Contract {form['number']} is received. It is processed on {day} (the next business day)." in page.text
    listed = row(page.text, f"contract-{stored['id']}")
    assert f"In processing until {day}" in listed and numbers[0] in listed and numbers[1] in listed
    period = " \N{EN DASH} ".join(
        f"{datetime.strptime(form[end], '%Y-%m'):%B %Y}" for end in ("period_from", "period_to")
    )
    assert "Romashka LLC" in listed and period in listed

    # The same key with other values: a new form (key), nothing stored.
    page = await browser.post(f"/partner/{partner['id']}/contracts/new", {**form, "number": "ITS-OTHER-1"})
    assert page.status == 422 and "already sent with other values" in (page.form_error or "")
    assert idempotency_key(page) != key
    # A new form with a number posted before: said next to the number.
    page = await browser.get(f"/partner/{partner['id']}/contracts/new")
    page = await browser.post(
        f"/partner/{partner['id']}/contracts/new", {**form, "idempotency_key": idempotency_key(page)}
    )
    assert page.status == 409 and page.error_of("number") == "You have posted a contract with this number already."
    assert len(await partner_contracts(contracts, partner["id"])) == 1

    # In Russian.
    await browser.get(f"/language?lang=ru&next=/partner/{partner['id']}/contracts/new")
    page = await browser.get(f"/partner/{partner['id']}/contracts/new")
    assert page.lang == "ru" and labelled(page) and "Регистрация договора ИТС" in page.text
    page = await browser.post(
        f"/partner/{partner['id']}/contracts/new", {**bad, "idempotency_key": idempotency_key(page)}
    )
    assert page.status == 422 and page.error_of("tin") == "Неверная контрольная цифра ИНН: проверьте номер на опечатки."
    page = await browser.get(f"/partner/{partner['id']}")
    assert f"В обработке до {processing_on:%d.%m.%Y}" in page.text


async def test_home_lists_the_open_cabinets_contracts_in_processing_and_otherwise_links_the_cabinet(
    browser: Browser, identity: RunningApp, contracts: RunningApp, world: World, migrated: TestStack
) -> None:
    partner, someone = await new_partner(identity, migrated)
    numbers = await catalogue_numbers(world, contracts)
    await browser.log_in(someone.account["login"], someone.account["password"])
    home = await browser.get("/")
    assert "Contracts in processing" not in home.text  # no cabinet opened: home does not ask for the password
    assert '<a href="/partner">Open the partner cabinet</a>' in home.text

    await open_cabinet(browser, someone, partner["id"])
    home = await browser.get("/")
    assert "No contract is waiting to be processed." in home.text and "No contract ends within 60 days." in home.text
    page = await browser.get(f"/partner/{partner['id']}/contracts/new")
    form = contract_form(migrated, numbers, idempotency_key(page))
    assert (await browser.post(f"/partner/{partner['id']}/contracts/new", form)).status == 303
    home = await browser.get("/")
    processing = home.text.split("Contracts in processing", 1)[1].split("Contracts ending within 60 days", 1)[0]
    assert f"Contract {form['number']}" in html.unescape(processing) and "processed on" in processing

    await browser.post(f"/partner/{partner['id']}/logout", {})
    home = await browser.get("/")
    assert "Contracts in processing" not in home.text and "Open the partner cabinet" in home.text


async def test_a_partner_corrects_the_organisation_data(
    browser: Browser, identity: RunningApp, contracts: RunningApp, world: World, migrated: TestStack
) -> None:
    """ITS-6: the partner of the contract corrects the name, TIN and KPP."""
    partner, someone = await new_partner(identity, migrated)
    numbers = await catalogue_numbers(world, contracts, count=1)
    await open_cabinet(browser, someone, partner["id"])
    page = await browser.get(f"/partner/{partner['id']}/contracts/new")
    page = await browser.post(
        f"/partner/{partner['id']}/contracts/new", contract_form(migrated, numbers, idempotency_key(page))
    )
    assert page.status == 303
    [stored] = await partner_contracts(contracts, partner["id"])
    path = f"/partner/{partner['id']}/contracts/{stored['id']}/organisation"
    page = await browser.get(f"/partner/{partner['id']}")
    assert f'href="{path}"' in page.text

    page = await browser.get(path)
    assert page.status == 200 and labelled(page) and 'value="Romashka LLC"' in page.text
    page = await browser.post(path, {"org_name": "Romashka JSC", "tin": "500100732259", "kpp": VALID_KPP})
    assert page.status == 422 and page.error_of("kpp") == "An individual (12-digit TIN) has no KPP: leave it empty."
    page = await browser.post(path, {"org_name": "", "tin": VALID_TIN, "kpp": VALID_KPP})
    assert page.status == 422 and page.error_of("org_name") == "Fill this in."
    page = await browser.post(path, {"org_name": "Romashka JSC", "tin": "12", "kpp": VALID_KPP})
    assert page.status == 422 and page.error_of("tin") == "A TIN has 10 digits (an organisation) or 12 (an individual)."
    page = await browser.post(path, {"org_name": "Romashka JSC", "tin": VALID_TIN, "kpp": "7736AB001"}, csrf="")
    assert page.status == 403
    [unchanged] = await partner_contracts(contracts, partner["id"])
    assert unchanged["org_name"] == "Romashka LLC"

    page = await browser.post(path, {"org_name": "Romashka JSC", "tin": VALID_TIN, "kpp": "7736AB001"})
    assert page.status == 303 and page.location == f"/partner/{partner['id']}?corrected={stored['id']}"
    page = await browser.get(page.location)
    assert f"The organisation data of contract {stored['number']} are corrected." in page.text
    assert "Romashka JSC" in row(page.text, f"contract-{stored['id']}")
    [corrected] = await partner_contracts(contracts, partner["id"])
    assert (corrected["org_name"], corrected["kpp"]) == ("Romashka JSC", "7736AB001")


# ---- product authorisation (REG-5) -------------------------------------------------------------------


async def test_a_partner_authorises_a_product_for_a_subscriber_code(
    browser: Browser, identity: RunningApp, registration: RunningApp, world: World, migrated: TestStack
) -> None:
    partner, someone = await new_partner(identity, migrated)
    owner = await owner_known_to_registration(identity, world)
    other = await owner_known_to_registration(identity, world)
    code, other_code = owner.claims["subscriber"]["code"], other.claims["subscriber"]["code"]
    article = await world.product("PROF", pin_envelope=False)
    [issued] = await world.issue(article, with_pin=False)
    number = issued["registration_number"]
    await open_cabinet(browser, someone, partner["id"])
    path = f"/partner/{partner['id']}/authorise"
    page = await browser.get(path)
    assert page.status == 200 and labelled(page)

    form = {"registration_number": number, "subscriber_code": "CL-12", "purchase_date": "2026-01-15"}
    page = await browser.post(path, form)
    assert page.status == 422
    assert page.error_of("subscriber_code") == "A subscriber code is CL- and 7 digits, e.g. CL-1234567."
    page = await browser.post(path, {**form, "subscriber_code": "CL-0000000"})
    assert page.status == 422 and page.error_of("subscriber_code") == "No subscriber has this code."
    page = await browser.post(path, {**form, "subscriber_code": code}, csrf="")
    assert page.status == 403

    page = await browser.post(path, {**form, "subscriber_code": code})
    assert page.status == 303, page.text[-2000:]
    page = await browser.get(page.location)
    assert page.status == 200
    done = page.text.split('id="authorised"', 1)[1].split("</div>", 1)[0]
    assert f"Product {number} is authorised for subscriber {code}." in done
    assert f"Product {article}" in done and "It is active at once" in done

    # The subscriber has it, active at once, from this partner.
    async with registration.http.get(
        "/v1/registrations", headers={"Authorization": f"Bearer {owner.tokens['access_token']}"}
    ) as r:
        [mine] = (await r.json())["items"]
    assert (mine["registration_number"], mine["state"], mine["registered_by"]) == (number, "active", "partner")

    # Registered to one subscriber, it cannot be authorised for another.
    page = await browser.post(path, {**form, "subscriber_code": other_code})
    assert page.status == 409
    assert "registered to another subscriber" in (page.error_of("registration_number") or "")


# ---- API clients and staff ----------------------------------------------------------------------------


async def test_an_admin_creates_an_api_client_sees_the_secret_once_and_revokes_it(
    browser: Browser, identity: RunningApp, migrated: TestStack
) -> None:
    partner, admin = await new_partner(identity, migrated)
    await open_cabinet(browser, admin, partner["id"])
    path = f"/partner/{partner['id']}/clients"
    page = await browser.get(path)
    assert page.status == 200 and labelled(page) and "There are no API clients yet." in page.text

    page = await browser.post(path, {"name": ""})
    assert page.status == 422 and page.error_of("name") == "Fill this in."
    page = await browser.post(path, {"name": "1C back office"}, csrf="")
    assert page.status == 403

    page = await browser.post(path, {"name": "1C back office"})
    assert page.status == 201 and labelled(page)
    assert page.headers.get("Cache-Control") == "no-store"
    client_id = re.search(r'id="client-id">([^<]+)<', page.text)
    secret = re.search(r'id="client-secret">([^<]+)<', page.text)
    assert client_id and secret and "shown only this once" in page.text
    client_id_text, secret_text = client_id.group(1), secret.group(1)
    status, token = await client_token(identity, client_id_text, secret_text)
    assert status == 200, token  # the secret shown is the client's

    page = await browser.get(path)
    assert page.status == 200 and client_id_text in page.text and secret_text not in page.text
    assert "Active." in row(page.text, f"client-{client_id_text}")

    revoke = f"{path}/{client_id_text}/revoke"
    page = await browser.get(revoke)
    assert page.status == 200 and labelled(page) and "Revoke 1C back office" in page.text
    page = await browser.post(revoke, {}, csrf="wrong")
    assert page.status == 403
    assert (await client_token(identity, client_id_text, secret_text))[0] == 200
    page = await browser.post(revoke, {})
    assert page.status == 303 and page.location == f"{path}?revoked={client_id_text}"
    page = await browser.get(page.location)
    assert "The API client 1C back office is revoked" in page.text
    assert "Revoked at" in row(page.text, f"client-{client_id_text}")
    status, error = await client_token(identity, client_id_text, secret_text)
    assert (status, error["error"]) == (401, "invalid_client")
    assert (await browser.get(revoke)).status == 404  # revoked already: nothing to confirm


async def test_staff_who_are_not_admins_are_told_that_admins_manage_clients(
    browser: Browser, identity: RunningApp, migrated: TestStack
) -> None:
    partner, staff = await new_partner(identity, migrated, admin=False)
    await open_cabinet(browser, staff, partner["id"])
    path = f"/partner/{partner['id']}/clients"
    page = await browser.get(path)
    assert page.status == 403 and "Only the partner&#39;s administrators manage API clients." in page.text
    page = await browser.post(path, {"name": "sneaky"})
    assert page.status == 403 and "Only the partner&#39;s administrators manage API clients." in page.text

    page = await browser.get(f"/partner/{partner['id']}/staff")
    assert page.status == 200 and labelled(page) and staff.account["login"] in page.text
    page = await browser.post(
        f"/partner/{partner['id']}/staff/invite", {"full_name": "Nina New", "email": "nina@franchisee.example"}
    )
    assert page.status == 403 and page.form_error == "Only the partner's administrators invite staff."


async def test_an_admin_invites_a_colleague(browser: Browser, identity: RunningApp, migrated: TestStack) -> None:
    partner, admin = await new_partner(identity, migrated)
    await open_cabinet(browser, admin, partner["id"])
    path = f"/partner/{partner['id']}/staff"
    page = await browser.post(f"{path}/invite", {"full_name": "Nina New", "email": "not an address"})
    assert page.status == 422 and page.error_of("email") == "This is not a valid e-mail address."
    assert 'value="Nina New"' in page.text
    page = await browser.post(f"{path}/invite", {"full_name": "Nina New", "email": "nina@franchisee.example"})
    assert page.status == 303 and page.location == f"{path}?invited=1"
    page = await browser.get(page.location)
    assert "The invitation is sent" in page.text
    async with identity.app[POOL].acquire() as conn:
        sent = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE routing_key = 'identity.invitation.sent' "
            "AND envelope->'data'->>'partner_id' = $1 AND envelope->'data'->>'email' = 'nina@franchisee.example'",
            partner["id"],
        )
    assert sent == 1


async def test_an_admin_removes_a_colleague_whose_cabinet_closes_at_once(
    browser: Browser, identity: RunningApp, portal: RunningApp, migrated: TestStack
) -> None:
    partner, admin = await new_partner(identity, migrated)
    colleague = await staff_of(identity, await operator_token(identity, migrated), partner, admin=False)
    staff_path = f"/partner/{partner['id']}/staff"
    theirs = Browser(portal.url)
    try:
        await open_cabinet(theirs, colleague, partner["id"])
        page = await theirs.get(staff_path)
        assert page.status == 200 and "/remove" not in page.text  # staff who are not admins are offered nothing
        refused = await theirs.post(f"{staff_path}/{admin.account['id']}/remove", {})
        assert refused.status == 403 and "Only the partner&#39;s administrators remove staff." in refused.text

        await open_cabinet(browser, admin, partner["id"])
        page = await browser.get(staff_path)
        remove = f"{staff_path}/{colleague.account['id']}/remove"
        assert f'href="{remove}"' in page.text and f"{admin.account['id']}/remove" not in page.text  # not oneself
        confirm = await browser.get(remove)
        assert confirm.status == 200 and colleague.account["email"] in confirm.text
        assert "their partner tokens stop working" in confirm.text
        itself = await browser.post(f"{staff_path}/{admin.account['id']}/remove", {})
        assert itself.status == 409 and "You cannot remove yourself" in itself.text
        done = await browser.post(remove, {})
        assert done.status == 303 and done.location == f"{staff_path}?removed=1"
        page = await browser.get(done.location)
        assert "The person is removed from the staff" in page.text and colleague.account["login"] not in page.text

        # The colleague's open cabinet closes at once: identity refuses its token, and the partner is no longer
        # among the colleague's cabinets (its password page is not found).
        async def closed() -> bool:
            return (await theirs.get(staff_path)).status == 303

        await wait_for(closed, timeout=10, interval=0.05, what="the removed colleague's cabinet to close")
        assert await cabinet_token(portal, theirs) is None
        assert (await theirs.get(f"/partner/{partner['id']}/login")).status == 404
        page = await theirs.post(
            f"/partner/{partner['id']}/login", {"password": colleague.account["password"], "next": staff_path}
        )
        assert page.status == 404
        assert "not on the staff of any partner" in (await theirs.get("/partner")).text

        assert (await browser.get(f"{staff_path}/{uuid.uuid4()}/remove")).status == 404
        await browser.get(f"/language?lang=ru&next={staff_path}")
        ru = await browser.get(f"{staff_path}?removed=1")
        assert "Сотрудник исключён" in ru.text and "Доступ" in ru.text
    finally:
        await theirs.close()


async def test_a_deactivated_partners_cabinet_cannot_be_opened(
    browser: Browser, identity: RunningApp, migrated: TestStack
) -> None:
    operator = await operator_token(identity, migrated)
    partner = await create_partner(identity, operator)
    someone = await staff_of(identity, operator, partner)
    await open_cabinet(browser, someone, partner["id"])
    async with identity.http.post(
        f"/v1/partners/{partner['id']}/deactivate", headers={"Authorization": f"Bearer {operator}"}
    ) as r:
        assert r.status == 200

    async def closed() -> bool:
        return (await browser.get(f"/partner/{partner['id']}")).status == 303

    await wait_for(closed, timeout=10, interval=0.05, what="the deactivated partner's cabinet to close")
    page = await browser.post(
        f"/partner/{partner['id']}/login",
        {"password": someone.account["password"], "next": f"/partner/{partner['id']}"},
    )
    assert page.status == 403 and "This partner has been deactivated" in page.text
    listing = await browser.get("/partner")
    assert "Deactivated: the cabinet cannot be opened." in listing.text
    assert f'href="/partner/{partner["id"]}"' not in listing.text


# ---- another partner's ids -------------------------------------------------------------------------


async def test_another_partners_ids_show_nothing_of_it(
    browser: Browser, identity: RunningApp, contracts: RunningApp, world: World, migrated: TestStack
) -> None:
    partner, someone = await new_partner(identity, migrated)
    other, other_staff = await new_partner(identity, migrated)
    numbers = await catalogue_numbers(world, contracts, count=1)
    # The other partner's contract and API client, made through the services' APIs with its own tokens.
    status, token = await staff_token(
        identity, other_staff.account["login"], other_staff.account["password"], other["id"]
    )
    assert status == 200, token
    theirs = {"Authorization": f"Bearer {token['access_token']}"}
    body = {
        "number": f"ITS-{uuid.uuid4().hex[:10]}",
        "organisation": {"name": "Secret Client LLC", "tin": VALID_TIN, "kpp": VALID_KPP},
        "main_registration_number": numbers[0],
        "period": {"from": str(this_month(migrated)), "to": str(this_month(migrated).plus(11))},
        "kind": "ITS PROF",
    }
    async with contracts.http.post("/v1/contracts", json=body, headers={**theirs, "Idempotency-Key": "k1"}) as r:
        assert r.status == 202, await r.text()
        their_contract = (await r.json())["id"]
    async with identity.http.post(f"/v1/partners/{other['id']}/clients", headers=theirs, json={"name": "ERP"}) as r:
        assert r.status == 201
        their_client = (await r.json())["client_id"]

    await open_cabinet(browser, someone, partner["id"])
    # Their cabinet: the password page for it refuses (not on its staff), showing nothing of it.
    page = await browser.get(f"/partner/{other['id']}")
    assert page.status == 303 and page.location.startswith(f"/partner/{other['id']}/login")
    page = await browser.get(page.location)
    assert page.status == 404 and other["name"] not in page.text
    page = await browser.post(f"/partner/{other['id']}/login", {"password": someone.account["password"]})
    assert page.status == 404
    # Their ids in our cabinet's addresses: 404, nothing changed.
    page = await browser.get(f"/partner/{partner['id']}/contracts/{their_contract}/organisation")
    assert page.status == 404 and "Secret Client" not in page.text
    page = await browser.post(
        f"/partner/{partner['id']}/contracts/{their_contract}/organisation",
        {"org_name": "Hijacked", "tin": VALID_TIN, "kpp": VALID_KPP},
    )
    assert page.status == 404
    async with contracts.app[POOL].acquire() as conn:
        name = await conn.fetchval("SELECT org_name FROM contracts WHERE id = $1", uuid.UUID(their_contract))
    assert name == "Secret Client LLC"
    page = await browser.post(f"/partner/{partner['id']}/clients/{their_client}/revoke", {})
    assert page.status == 404
    page = await browser.get(f"/partner/{partner['id']}/clients/{their_client}/revoke")
    assert page.status == 404
    async with identity.http.get(f"/v1/partners/{other['id']}/clients", headers=theirs) as r:
        [client] = (await r.json())["items"]
    assert client["revoked_at"] is None
    # Ids that are not ids never reach a service.
    for path in (
        "/partner/x",
        f"/partner/{partner['id']}/contracts/not-an-id/organisation",
        f"/partner/{partner['id']}/clients/1/revoke",
    ):
        assert (await browser.get(path)).status == 404, path
    page = await browser.get(f"/partner/{partner['id']}")
    assert page.status == 200 and "Secret Client" not in page.text


async def test_the_contracts_list_pages_by_the_services_cursor(
    browser: Browser,
    identity: RunningApp,
    contracts: RunningApp,
    world: World,
    migrated: TestStack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """contracts pages by keyset: the page links carry its cursor; a cursor from an old or edited link starts again
    from the newest contracts rather than failing."""
    monkeypatch.setattr("services.portal.pages.listing.PAGE_SIZE", 2)
    partner, someone = await new_partner(identity, migrated)
    numbers = await catalogue_numbers(world, contracts, count=3)
    await open_cabinet(browser, someone, partner["id"])
    for number in numbers:
        page = await browser.get(f"/partner/{partner['id']}/contracts/new")
        form = contract_form(migrated, [number], idempotency_key(page))
        assert (await browser.post(f"/partner/{partner['id']}/contracts/new", form)).status == 303
    first = await browser.get(f"/partner/{partner['id']}")
    assert first.status == 200 and "First page" not in first.text
    found = re.search(rf'href="/partner/{partner["id"]}\?cursor=([^"]+)" rel="next">Next page<', first.text)
    assert found, first.text[-3000:]
    second = await browser.get(f"/partner/{partner['id']}?cursor={found.group(1)}")
    assert second.status == 200 and "First page" in second.text and "Next page" not in second.text
    listed = [n for n in numbers if n in first.text] + [n for n in numbers if n in second.text]
    assert sorted(listed) == sorted(numbers)  # each contract once, on one page or the other
    edited = await browser.get(f"/partner/{partner['id']}?cursor=bm90LW91cnM")
    assert edited.status == 200 and "Next page" in edited.text


async def test_the_contracts_list_searches_filters_and_sorts_in_one_get_form(
    browser: Browser,
    identity: RunningApp,
    contracts: RunningApp,
    world: World,
    migrated: TestStack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Portal issue 17: a search box, filter selects and an order in one GET form (no script); the next page's link
    keeps them; "nothing matches" when nothing does; a choice the form does not offer shows the whole list."""
    monkeypatch.setattr("services.portal.pages.listing.PAGE_SIZE", 1)
    partner, someone = await new_partner(identity, migrated)
    numbers = await catalogue_numbers(world, contracts, count=3)
    await open_cabinet(browser, someone, partner["id"])
    for n, number in enumerate(numbers):
        page = await browser.get(f"/partner/{partner['id']}/contracts/new")
        name = "Vasilek LLC" if n else "Romashka LLC"
        form = contract_form(migrated, [number], idempotency_key(page), org_name=name)
        assert (await browser.post(f"/partner/{partner['id']}/contracts/new", form)).status == 303
    path = f"/partner/{partner['id']}"

    page = await browser.get(path)
    assert page.status == 200 and labelled(page)
    assert re.search(r'<form method="get" action="[^"]+" class="list-form" role="search"', page.text)
    for field in ("q", "state", "ending_within_days", "configuration", "sort"):
        assert f'name="{field}"' in page.text, field
    assert "Romashka LLC" not in page.text  # the newest first, one a page: a Vasilek

    found = await browser.get(f"{path}?q=vasilek&state=processing&sort=ending")
    assert found.status == 200 and "Vasilek LLC" in found.text and "Romashka LLC" not in found.text
    assert 'value="vasilek"' in found.text and '<option value="ending" selected>' in found.text
    next_link = re.search(r'href="([^"]+)" rel="next">Next page<', found.text)
    assert next_link, found.text[-3000:]
    link = next_link.group(1).replace("&amp;", "&")
    assert "q=vasilek" in link and "state=processing" in link and "sort=ending" in link and "cursor=" in link
    second = await browser.get(link)
    assert second.status == 200 and "Vasilek LLC" in second.text and "First page" in second.text
    assert "Next page" not in second.text  # two Vasileks, one a page

    romashka = await browser.get(f"{path}?q={numbers[0]}")
    assert "Romashka LLC" in romashka.text and "Vasilek LLC" not in romashka.text
    nothing = await browser.get(f"{path}?q=no-such-organisation&state=expired")
    assert nothing.status == 200 and "No contracts match your search and filters." in nothing.text
    too_long = await browser.get(f"{path}?q={'x' * 101}")
    assert too_long.status == 422 and too_long.error_of("q"), too_long.text[-2000:]  # next to the box

    edited = await browser.get(f"{path}?state=bogus&ending_within_days=7&sort=oldest&configuration=no%20such")
    assert edited.status == 200 and "Vasilek LLC" in edited.text  # choices it does not offer: the whole list

    await browser.get(f"/language?lang=ru&next={path}")
    russian = await browser.get(f"{path}?q=no-such-organisation")
    assert "Нет договоров, подходящих под условия поиска." in russian.text and "Сначала новые" in russian.text
