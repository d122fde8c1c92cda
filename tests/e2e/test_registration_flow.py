"""Registering products end to end (rules REG-1..7): HTTP into identity and registration, events between them
through the broker, contract events published onto the bus as the contracts service will, the partner's letter
through notifications and the real SMTP sink, and the shared test clock for REG-3's delay and REG-7's hour.

Every test makes its own accounts, partner, configurations and products, so the tests do not depend on each other.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import pytest

from services.registration import domain
from services.registration.app import SCHEMA as REGISTRATION_SCHEMA
from shared.bus import Bus
from shared.clock import TestClock
from shared.db import Pool, close_pool, create_pool
from shared.events import wrap
from shared.events.contracts import ContractActivated, Organisation
from tests.e2e.conftest import read_mail
from tests.e2e.flows import (
    MOSCOW,
    PROBLEMS,
    PURCHASED,
    Portal,
    Reply,
    body_text,
    card,
    clock_moved,
    months_ahead,
    new_article,
    problem_type,
    unique,
    unknown_number,
    wrong_pin,
)
from tests.infra import ServiceProcess, TestStack, wait_for


@pytest.fixture(scope="module")
async def registration_db(migrated: TestStack) -> AsyncIterator[Pool]:
    """registration's read models, only to wait until identity's events have reached them."""
    pool = await create_pool(migrated.database_url, REGISTRATION_SCHEMA, min_size=1, max_size=2)
    yield pool
    await close_pool(pool)


@pytest.fixture
async def portal(services: dict[str, ServiceProcess], registration_db: Pool) -> AsyncIterator[Portal]:
    async with aiohttp.ClientSession() as http:
        yield Portal(http, services, registration_db)


@pytest.fixture(scope="module")
async def contracts_bus(migrated: TestStack) -> AsyncIterator[Bus]:
    """Publishes contracts' events as the contracts service's outbox relay will."""
    bus = Bus(migrated.amqp_url, name="e2e-contracts-publisher", prefetch=1, delivery_limit=20)
    await bus.connect()
    yield bus
    await bus.close()


async def publish_contract(bus: Bus, *, main: str, additional: list[str]) -> None:
    today = datetime.now(MOSCOW).date()
    event = ContractActivated(
        contract_id=uuid.uuid4(),
        number=unique("ITS-"),
        partner_id=uuid.uuid4(),
        organisation=Organisation(name="Romashka LLC", tin="7707083893", kpp="770701001"),
        main_registration_number=main,
        additional_registration_numbers=additional,
        period_from=months_ahead(today, 0),
        period_to=months_ahead(today, 11),
        kind="ITS PROF",
        activated_at=datetime.now(UTC),
    )
    envelope = wrap(event, producer="contracts", occurred_at=datetime.now(UTC))
    await bus.publish(
        envelope.type, envelope.model_dump_json().encode(), message_id=str(envelope.id), message_type=envelope.type
    )


# ---- REG-1 ----------------------------------------------------------------------------------


async def test_reg1_operator_loads_the_catalogue_and_issues_unique_numbers(portal: Portal) -> None:
    operator = await portal.operator()
    configuration = await portal.configuration(operator, "Enterprise Accounting")
    again = await portal.reg(
        "PUT",
        f"/v1/configurations/{configuration}",
        operator,
        json={"name": "Enterprise Accounting 3.0", "maintenance_category": 1, "vendor": "1C"},
    )
    assert again.status == 200, again.body  # a PUT again changes it: the catalogue can be loaded again

    article = await portal.product(
        operator, [configuration], edition="BASIC", pin_envelope=True, article="4601546041807"
    )
    product = await portal.reg("GET", f"/v1/products/{article}", operator)
    assert product.status == 200, product.body
    assert (product.body["edition"], product.body["configurations"]) == ("BASIC", [configuration])
    assert product.body["its_required"] is False  # ITS-7: BASIC needs no contract for updates

    bad_article = await portal.reg(
        "PUT",
        "/v1/products/4601546041808",  # wrong check digit
        operator,
        json={"name": "x", "edition": "BASIC", "configurations": [configuration], "pin_envelope": True},
    )
    assert bad_article.status == 422, bad_article.body
    unknown_configuration = await portal.reg(
        "PUT",
        f"/v1/products/{new_article()}",
        operator,
        json={"name": "x", "edition": "PROF", "configurations": [unique("Nope")], "pin_envelope": True},
    )
    assert unknown_configuration.status == 422, unknown_configuration.body

    first, second = await portal.issue(operator, article, 25), await portal.issue(operator, article, 25)
    numbers = [i.number for i in first + second]
    assert len(set(numbers)) == 50, "a number was issued twice"
    assert not {i.number for i in first} & {i.number for i in second}
    for issued in first + second:
        assert len(issued.number) == 11 and issued.number.isdigit()
        assert domain.is_registration_number(issued.number)  # its last digit catches a typo
        assert issued.pin is not None and len(issued.pin) == 12 and issued.pin.isdigit()

    # A product delivered without PIN envelopes gets numbers without PINs.
    no_pin = await portal.product(operator, [configuration], edition="CORP", pin_envelope=False)
    [plain] = await portal.issue(operator, no_pin, 1)
    assert plain.pin is None and domain.is_registration_number(plain.number)
    refused = await portal.reg(
        "POST", f"/v1/products/{no_pin}/registration-numbers", operator, json={"count": 1, "with_pin": True}
    )
    assert refused.status == 422, refused.body

    # Only operators change the catalogue.
    customer = await portal.customer()
    for method, path, body in (
        ("PUT", f"/v1/configurations/{configuration}", {"name": "x", "maintenance_category": 2, "vendor": "x"}),
        ("POST", f"/v1/products/{article}/registration-numbers", {"count": 1}),
    ):
        reply = await portal.reg(method, path, customer.token, json=body)
        assert reply.status == 403, (path, reply.body)


# ---- REG-2, REG-3 ---------------------------------------------------------------------------


async def test_reg2_reg3_self_registration_with_pin_gives_access_15_minutes_later(
    portal: Portal, migrated: TestStack
) -> None:
    operator = await portal.operator()
    configuration = await portal.configuration(operator, "Small Business")
    article = await portal.product(operator, [configuration], edition="BASIC", pin_envelope=True)
    [issued] = await portal.issue(operator, article, 1)
    assert issued.pin is not None
    customer = await portal.customer()

    # REG-2: every field of the card is mandatory.
    incomplete = card(customer.email)
    del incomplete["head_of_organisation"]
    for bad_card in (incomplete, card(customer.email, phone=""), card(customer.email, workplaces=0)):
        reply = await portal.reg(
            "POST",
            "/v1/registrations/pin",
            customer.token,
            json={"registration_number": issued.number, "pin": issued.pin, "card": bad_card},
        )
        assert reply.status == 422, reply.body
        assert problem_type(reply.body) == PROBLEMS + "validation"

    # As printed: the number and the PIN with spaces between groups.
    spaced_pin = " ".join(issued.pin[i : i + 4] for i in range(0, 12, 4))
    registered_at = TestClock(migrated.var_dir).now()
    reply = await portal.reg(
        "POST",
        "/v1/registrations/pin",
        customer.token,
        json={"registration_number": issued.number, "pin": spaced_pin, "card": card(customer.email)},
    )
    assert reply.status == 202, reply.body
    assert reply.body["state"] == "pending" and reply.body["registered_by"] == "self"
    active_from = datetime.fromisoformat(reply.body["active_from"])
    assert abs(active_from - (registered_at + timedelta(minutes=15))) < timedelta(seconds=10)

    [mine] = (await portal.registrations(customer)).values()
    assert (mine["registration_number"], mine["state"]) == (issued.number, "pending")
    assert mine["product"]["article"] == article and mine["product"]["configurations"] == [configuration]
    seen = (await portal.access(customer))[configuration]
    assert seen["registered"] is False
    assert datetime.fromisoformat(seen["pending_from"]) == active_from

    async with clock_moved(migrated, timedelta(minutes=15)):
        await portal.relogin(customer)  # the old access token expired in the meantime

        async def active() -> bool:
            state = (await portal.registrations(customer))[issued.number]["state"]
            return bool(state == "active")

        await wait_for(active, timeout=10, interval=0.2, what="the product to become active 15 minutes later")
        seen = (await portal.access(customer))[configuration]
        assert seen["registered"] is True and seen["pending_from"] is None and seen["offer"] is None

    await portal.relogin(customer)
    assert (await portal.registrations(customer))[issued.number]["state"] == "active"


# ---- REG-4 ----------------------------------------------------------------------------------


async def test_reg4_prof_with_pin_needs_an_its_contract_listing_its_number(portal: Portal, contracts_bus: Bus) -> None:
    operator = await portal.operator()
    configuration = await portal.configuration(operator, "Trade Management")
    article = await portal.product(operator, [configuration], edition="PROF", pin_envelope=True)
    additional, main = await portal.issue(operator, article, 2)
    assert additional.pin is not None and main.pin is not None
    customer = await portal.customer()

    refused = await portal.register_with_pin(customer, additional.number, additional.pin)
    assert refused.status == 422, refused.body
    assert problem_type(refused.body).endswith("its-contract-required")
    assert refused.body["registration_number"] == additional.number

    # A contract made for another product lists this one as an additional product.
    await publish_contract(contracts_bus, main=main.number, additional=[additional.number])

    async def accepted() -> Reply | None:
        reply = await portal.register_with_pin(customer, additional.number, str(additional.pin))
        if reply.status == 422 and problem_type(reply.body).endswith("its-contract-required"):
            return None  # registration has not seen the contract yet
        return reply

    reply = await wait_for(accepted, timeout=15, interval=0.3, what="the contract to cover the number")
    assert reply.status == 202, reply.body
    assert reply.body["state"] == "pending" and reply.body["product"]["edition"] == "PROF"

    # The contract's main product is covered too.
    main_reply = await portal.register_with_pin(customer, main.number, main.pin)
    assert main_reply.status == 202, main_reply.body
    assert set(await portal.registrations(customer)) == {additional.number, main.number}


# ---- REG-5 ----------------------------------------------------------------------------------


async def test_reg5_partner_authorises_a_product_for_a_subscriber_code_and_the_owner_is_told(
    portal: Portal, mail_dir: Path
) -> None:
    operator = await portal.operator()
    partner = await portal.partner(operator)
    configuration = await portal.configuration(operator, "Payroll and HR")
    article = await portal.product(operator, [configuration], edition="CORP", pin_envelope=False)
    [issued] = await portal.issue(operator, article, 1)
    assert issued.pin is None
    owner = await portal.customer("Anna Romanova")
    other = await portal.customer("Boris Ivanov")

    # Without a PIN the customer cannot register it alone.
    alone = await portal.register_with_pin(owner, issued.number, "123456789012")
    assert alone.status == 422, alone.body
    assert problem_type(alone.body).endswith("pin-rejected")
    # Only partners authorise.
    not_partner = await portal.reg(
        "POST",
        "/v1/registrations/partner",
        owner.token,
        json={"registration_number": issued.number, "subscriber_code": owner.code, "purchase_date": str(PURCHASED)},
    )
    assert not_partner.status == 403, not_partner.body

    reply = await portal.authorise(partner, issued.number, owner.code)
    assert reply.status == 200, reply.body
    assert reply.body["state"] == "active" and reply.body["registered_by"] == "partner"
    assert reply.body["partner"] == partner.name
    again = await portal.authorise(partner, issued.number, owner.code)
    assert again.status == 200 and again.body["registration_number"] == issued.number  # a retry is safe

    mine = (await portal.registrations(owner))[issued.number]
    assert (mine["state"], mine["registered_by"], mine["partner"]) == ("active", "partner", partner.name)
    assert mine["purchase_date"] == PURCHASED.isoformat()
    assert (await portal.access(owner))[configuration]["registered"] is True  # active at once

    def letters() -> list[EmailMessage]:
        return [m for m in read_mail(mail_dir, owner.email) if partner.name in str(m["Subject"])]

    [letter] = await wait_for(letters, timeout=30, what="the partner's letter to the owner")
    text = body_text(letter)
    assert issued.number in text and f"CORP product {article}" in text and configuration in text
    assert owner.code in text and "Anna Romanova" in text

    # Another subscriber's partner cannot take it: moving it is the vendor's audited transfer.
    taken = await portal.authorise(partner, issued.number, other.code)
    assert taken.status == 409, taken.body
    assert problem_type(taken.body).endswith("registered-to-another-subscriber")

    moved = await portal.reg(
        "POST",
        f"/v1/registrations/{issued.number}/transfer",
        operator,
        json={"subscriber_code": other.code, "reason": "sold with the business, letter no. 17"},
    )
    assert moved.status == 200, moved.body
    assert issued.number in await portal.registrations(other)
    assert issued.number not in await portal.registrations(owner)
    assert (await portal.access(owner))[configuration]["registered"] is False
    customer_transfer = await portal.reg(
        "POST",
        f"/v1/registrations/{issued.number}/transfer",
        other.token,
        json={"subscriber_code": owner.code, "reason": "give it back"},
    )
    assert customer_transfer.status == 403, customer_transfer.body

    # A partner also authorises a newly bought product with a PIN envelope; its PIN is then spent.
    pin_article = await portal.product(operator, [configuration], edition="BASIC", pin_envelope=True)
    [boxed] = await portal.issue(operator, pin_article, 1)
    assert boxed.pin is not None
    authorised = await portal.authorise(partner, boxed.number, owner.code)
    assert authorised.status == 200 and authorised.body["state"] == "active", authorised.body
    used = await portal.register_with_pin(owner, boxed.number, boxed.pin)
    assert used.status == 409, used.body
    assert problem_type(used.body).endswith("pin-used")


# ---- REG-6 ----------------------------------------------------------------------------------


async def test_reg6_registered_configurations_are_visible_others_come_with_an_offer(portal: Portal) -> None:
    operator = await portal.operator()
    partner = await portal.partner(operator)
    accounting = await portal.configuration(operator, "Accounting")
    payroll = await portal.configuration(operator, "Payroll")
    basic = await portal.product(operator, [accounting], edition="BASIC", pin_envelope=True)
    prof = await portal.product(operator, [payroll], edition="PROF", pin_envelope=True)
    complex_ = await portal.product(operator, [accounting, payroll], edition="CORP", pin_envelope=False)
    [issued] = await portal.issue(operator, basic, 1)
    customer = await portal.customer()
    newcomer = await portal.customer()

    reply = await portal.authorise(partner, issued.number, customer.code)
    assert reply.status == 200, reply.body

    seen = await portal.access(customer)
    assert {code for code, item in seen.items() if item["registered"]} == {accounting}  # exactly these
    assert seen[accounting]["offer"] is None
    offer = seen[payroll]["offer"]
    assert seen[payroll]["registered"] is False and offer is not None and offer["how"]
    assert {p["article"] for p in offer["products"]} == {prof, complex_}
    assert {p["edition"] for p in offer["products"]} == {"PROF", "CORP"}

    fresh = await portal.access(newcomer)
    assert not any(item["registered"] for item in fresh.values())
    assert {p["article"] for p in fresh[accounting]["offer"]["products"]} == {basic, complex_}


# ---- REG-7 ----------------------------------------------------------------------------------


async def test_reg7_wrong_pins_are_limited_and_a_pin_works_once(portal: Portal, migrated: TestStack) -> None:
    operator = await portal.operator()
    configuration = await portal.configuration(operator, "Retail")
    article = await portal.product(operator, [configuration], edition="BASIC", pin_envelope=True)
    [issued] = await portal.issue(operator, article, 1)
    assert issued.pin is not None
    customer = await portal.customer()
    bad = wrong_pin(issued.pin)

    # An unknown number and a wrong PIN look the same: the answer tells nothing about which numbers exist.
    unknown = await portal.register_with_pin(customer, unknown_number(), bad)
    first = await portal.register_with_pin(customer, issued.number, bad)
    assert unknown.status == first.status == 422, (unknown.body, first.body)
    assert problem_type(first.body).endswith("pin-rejected")
    assert (unknown.body["type"], unknown.body["title"]) == (first.body["type"], first.body["title"])
    assert {k: v for k, v in unknown.body.items() if k != "instance"} == {
        k: v for k, v in first.body.items() if k != "instance"
    }

    for _ in range(4):
        reply = await portal.register_with_pin(customer, issued.number, bad)
        assert reply.status == 422, reply.body
    assert "Tries left this hour: 0" in reply.body["detail"]

    blocked = await portal.register_with_pin(customer, issued.number, issued.pin)  # the right PIN, too late
    assert blocked.status == 429, blocked.body
    assert problem_type(blocked.body).endswith("too-many-requests")
    retry_after = int(blocked.headers["Retry-After"])
    assert 0 < retry_after <= 3601

    async with clock_moved(migrated, timedelta(minutes=61)):
        await portal.relogin(customer)

        async def answered() -> Reply | None:
            reply = await portal.register_with_pin(customer, issued.number, str(issued.pin))
            return reply if reply.status != 429 else None  # until registration's clock has moved

        reply = await wait_for(answered, timeout=5, interval=0.3, what="the hour to pass")
        assert reply.status == 202, reply.body

        # A PIN works once: not again, not for anyone.
        again = await portal.register_with_pin(customer, issued.number, issued.pin)
        assert again.status == 409, again.body
        assert problem_type(again.body).endswith("pin-used")
        someone_else = await portal.customer()
        theirs = await portal.register_with_pin(someone_else, issued.number, issued.pin)
        assert theirs.status == 409, theirs.body


# ---- who may do what ------------------------------------------------------------------------


async def test_only_the_subscriber_owner_registers_with_a_pin_and_partners_see_no_subscriber_lists(
    portal: Portal, mail_dir: Path
) -> None:
    operator = await portal.operator()
    partner = await portal.partner(operator)
    configuration = await portal.configuration(operator, "Document Management")
    article = await portal.product(operator, [configuration], edition="BASIC", pin_envelope=True)
    [issued] = await portal.issue(operator, article, 1)
    assert issued.pin is not None
    owner = await portal.customer("Olga Owner", verified_through=mail_dir)  # INV-1: only a verified owner invites
    user = await portal.invited_user(owner, mail_dir)
    body = {"registration_number": issued.number, "pin": issued.pin, "card": card(owner.email)}

    # SUB-4: a user of the subscriber reads its products but does not register them.
    by_user = await portal.reg("POST", "/v1/registrations/pin", user.token, json=body)
    assert by_user.status == 403, by_user.body
    assert problem_type(by_user.body).endswith("owner-only")
    assert await portal.registrations(user) == {}
    assert configuration in await portal.access(user)

    # A partner's token acts for no subscriber.
    by_partner = await portal.reg("POST", "/v1/registrations/pin", partner.token, json=body)
    assert by_partner.status == 403, by_partner.body
    for path in ("/v1/registrations", "/v1/configurations/access"):
        reply = await portal.reg("GET", path, partner.token)
        assert reply.status == 403, (path, reply.body)
    anonymous = await portal.reg("GET", "/v1/registrations")
    assert anonymous.status == 401, anonymous.body

    # None of the refused calls spent the PIN or counted as a wrong one; the owner registers, the user sees it.
    reply = await portal.register_with_pin(owner, issued.number, issued.pin)
    assert reply.status == 202, reply.body
    assert set(await portal.registrations(user)) == {issued.number}
