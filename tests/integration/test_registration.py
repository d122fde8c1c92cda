"""registration against the real PostgreSQL and RabbitMQ: catalogue, numbers, PINs, partners, transfers.

Rules REG-1..7, SUB-4, ITS-7. Other services' events (identity's, contracts') are published to the
broker as those services would; registration learns from them through its real consumers.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.registration import domain, store
from shared.events import Envelope
from shared.events.contracts import ContractActivated, ContractExpired, Organisation
from shared.events.identity import SubscriberCreated
from shared.events.registration import NumbersIssued
from tests.infra import wait_for
from tests.integration.registration_fixtures import (
    World,
    card_of,
    clock_moved,
    ean13,
    keys,
    pool,
    publish,
    publisher,
    registration,
    unknown_number,
    world,
)

__all__ = ["keys", "pool", "publisher", "registration", "world"]  # fixtures

PROBLEM = "https://its-portal.dev/problems/"


def month(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


async def registered_rows(of: World) -> int:
    async with of.pool.acquire() as conn:
        n: int = await conn.fetchval("SELECT count(*) FROM registration_numbers WHERE subscriber_id IS NOT NULL")
        return n


async def pin_failures(of: World, number: str) -> int:
    async with of.pool.acquire() as conn:
        n: int = await conn.fetchval("SELECT count(*) FROM pin_failures WHERE number = $1", number)
        return n


# ---- catalogue (REG-1, CMS-2, ITS-7) --------------------------------------------------------


async def test_operators_keep_the_catalogue_and_everyone_signed_in_reads_it(world: World) -> None:
    article = await world.product("PROF")
    status, product = await world.call("GET", f"/v1/products/{article}", world.operator())
    assert status == 200
    assert product["edition"] == "PROF" and product["its_required"] is True  # ITS-7 default
    customer = await world.customer()
    status, listed = await world.call("GET", f"/v1/products?q={article}", world.owner(customer))
    assert status == 200 and article in {p["article"] for p in listed["items"]}

    # A second PUT changes the product (200), and BASIC needs no contract by default.
    body = {"name": "Renamed", "edition": "BASIC", "configurations": product["configurations"], "pin_envelope": True}
    status, changed = await world.call("PUT", f"/v1/products/{article}", world.operator(), json=body)
    assert status == 200 and changed["name"] == "Renamed" and changed["its_required"] is False

    # Customers cannot change it; wrong articles and unknown configurations are refused with the field.
    status, problem = await world.call("PUT", f"/v1/products/{article}", world.owner(customer), json=body)
    assert status == 403
    status, problem = await world.call("PUT", "/v1/products/4601546041808", world.operator(), json=body)
    assert status == 422 and problem["errors"][0]["field"] == "article"
    status, problem = await world.call(
        "PUT", f"/v1/products/{article}", world.operator(), json={**body, "configurations": ["NoSuchThing"]}
    )
    assert status == 422 and "NoSuchThing" in problem["errors"][0]["message"]
    status, problem = await world.call(
        "PUT", "/v1/configurations/Bad", world.operator(), json={"name": "x", "maintenance_category": 3, "vendor": "v"}
    )
    assert status == 422 and problem["errors"][0]["field"] == "maintenance_category"  # CMS-2: 1 or 2


async def test_numbers_are_unique_random_and_their_pins_are_stored_hashed(world: World) -> None:
    article = await world.product("BASIC")
    first = await world.issue(article, 500)
    second = await world.issue(article, 500)
    numbers = [item["registration_number"] for item in first + second]
    assert len(set(numbers)) == 1000
    assert all(domain.is_registration_number(n) for n in numbers)
    assert all(len(item["pin"]) == domain.PIN_LENGTH and item["pin"].isdigit() for item in first)
    # Consecutive numbers of one batch are not neighbours (not guessable from each other).
    ints = sorted(int(n) for n in numbers)
    assert min(b - a for a, b in itertools.pairwise(ints)) > 1 or len(ints) < 2

    async with world.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT number, pin_hash FROM registration_numbers WHERE number = ANY($1::text[])",
            [item["registration_number"] for item in first[:20]],
        )
    pins = {item["registration_number"]: item["pin"] for item in first}
    for row in rows:
        assert row["pin_hash"].startswith("$argon2id$") and pins[row["number"]] not in row["pin_hash"]

    [event] = [e for e in await world.outbox(NumbersIssued.TYPE, numbers[0])]
    assert event["data"]["article"] == article and len(event["data"]["registration_numbers"]) == 500


async def test_issuing_checks_its_input(world: World) -> None:
    no_pins = await world.product("CORP", pin_envelope=False)
    items = await world.issue(no_pins, 2)
    assert all(item["pin"] is None for item in items)  # delivered without envelopes: no PIN
    for body in ({"count": 0}, {"count": 100_001}, {"count": "many"}, {"count": 1, "with_pin": True}, {}):
        status, _ = await world.call(
            "POST", f"/v1/products/{no_pins}/registration-numbers", world.operator(), json=body
        )
        assert status == 422, body
    never_added = ean13(f"{uuid.uuid4().int % 10**12:012d}")
    status, _ = await world.call(
        "POST", f"/v1/products/{never_added}/registration-numbers", world.operator(), json={"count": 1}
    )
    assert status == 404
    customer = await world.customer()
    status, _ = await world.call(
        "POST", f"/v1/products/{no_pins}/registration-numbers", world.owner(customer), json={"count": 1}
    )
    assert status == 403


# ---- self-registration (REG-2, REG-3) -------------------------------------------------------


async def test_a_pin_registers_the_product_pending_for_15_minutes_then_active(world: World) -> None:
    article = await world.product("BASIC")
    [item] = await world.issue(article)
    customer = await world.customer()
    number = item["registration_number"]
    printed = f"{number[:3]} {number[3:7]}-{number[7:]}"  # typed as printed, with separators

    status, answer = await world.register_with_pin(customer, printed, item["pin"])
    assert status == 202, answer
    assert answer["state"] == "pending" and answer["registration_number"] == number
    registered_at = datetime.fromisoformat(answer["active_from"]) - timedelta(minutes=15)
    assert abs(registered_at - datetime.now(UTC)) < timedelta(minutes=1)

    status, access = await world.call("GET", "/v1/configurations/access", world.owner(customer))
    [configuration] = [c for c in access["items"] if c["code"] in answer["product"]["configurations"]]
    assert configuration["registered"] is False and configuration["pending_from"] == answer["active_from"]
    assert len(await world.outbox("registration.product.registered", number)) == 1

    async with clock_moved(world.stack, timedelta(minutes=15, seconds=1)):  # rule REG-3, by the deferred job

        async def active() -> bool:
            status, listed = await world.call("GET", "/v1/registrations", world.owner(customer))
            return bool(status == 200 and listed["items"][0]["state"] == "active")

        await wait_for(active, timeout=15, what="the registration active")
        status, access = await world.call("GET", "/v1/configurations/access", world.owner(customer))
        [configuration] = [c for c in access["items"] if c["code"] in answer["product"]["configurations"]]
        assert configuration["registered"] is True and configuration["offer"] is None
    [activated] = await world.outbox("registration.product.activated", number)
    assert activated["data"]["subscriber_code"] == customer.code
    assert activated["data"]["configurations"] == answer["product"]["configurations"]
    assert activated["data"]["purchase_date"] == card_of()["purchase_date"]


async def test_a_pin_works_once_and_never_for_another_number(world: World) -> None:
    article = await world.product("BASIC")
    first, second = await world.issue(article, 2)
    owner, other = await world.customer(), await world.customer()

    status, _ = await world.register_with_pin(owner, second["registration_number"], first["pin"])
    assert status == 422  # the PIN of one number does not open another
    status, _ = await world.register_with_pin(owner, first["registration_number"], first["pin"])
    assert status == 202
    status, problem = await world.register_with_pin(owner, first["registration_number"], first["pin"])
    assert status == 409 and problem["type"] == PROBLEM + "pin-used" and "your subscriber" in problem["detail"]
    assert problem["yours"] is True
    status, problem = await world.register_with_pin(other, first["registration_number"], first["pin"])
    assert status == 409 and "another subscriber" in problem["detail"] and problem["yours"] is False
    status, listed = await world.call("GET", "/v1/registrations", world.owner(other))
    assert listed["items"] == []


async def test_concurrent_registrations_of_one_number_exactly_one_wins(world: World) -> None:
    article = await world.product("BASIC")
    [item] = await world.issue(article)
    customers = [await world.customer() for _ in range(6)]
    answers = await asyncio.gather(
        *(world.register_with_pin(c, item["registration_number"], item["pin"]) for c in customers)
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses == [202, 409, 409, 409, 409, 409]
    owners = [c for c, (status, _) in zip(customers, answers, strict=True) if status == 202]
    async with world.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT subscriber_id FROM registration_numbers WHERE number = $1", item["registration_number"]
        )
    assert row is not None and row["subscriber_id"] == owners[0].subscriber_id
    assert len(await world.outbox("registration.product.registered", item["registration_number"])) == 1


# ---- wrong PINs (REG-7) ---------------------------------------------------------------------


async def test_five_wrong_pins_an_hour_then_try_later_and_unknown_numbers_answer_the_same(world: World) -> None:
    article = await world.product("BASIC")
    [item] = await world.issue(article)
    number, pin = item["registration_number"], item["pin"]
    customer = await world.customer()
    wrong = f"{(int(pin) + 1) % 10**12:012d}"

    status, for_known = await world.register_with_pin(customer, number, wrong)
    status_unknown, for_unknown = await world.register_with_pin(customer, unknown_number(), wrong)
    assert status == status_unknown == 422 and for_known["tries_left"] == 4
    assert {k: v for k, v in for_known.items() if k != "instance"} == {
        k: v for k, v in for_unknown.items() if k != "instance"
    }
    for _ in range(4):
        status, _ = await world.register_with_pin(customer, number, wrong)
        assert status == 422
    status, problem = await world.register_with_pin(customer, number, pin)  # even the right PIN waits
    assert status == 429 and problem["retry_after"] > 3000 and problem["scope"] == "number"
    assert await pin_failures(world, number) == 5  # refused tries are not counted again

    async with clock_moved(world.stack, timedelta(minutes=61)):
        status, answer = await world.register_with_pin(customer, number, pin)
        assert status == 202, answer


def wrong_pin(pin: str) -> str:
    return f"{(int(pin) + 1) % 10**12:012d}"


async def test_a_stranger_who_read_the_number_off_the_box_cannot_lock_the_owner_out(world: World) -> None:
    """REG-7: the stranger's subscriber uses up its own five tries on the number; the owner's subscriber, with
    the right PIN, registers; the stranger is told when to try again in the vendor's time zone."""
    [item] = await world.issue(await world.product("BASIC"))
    number, pin = item["registration_number"], item["pin"]
    stranger, owner = await world.customer(), await world.customer()
    for tries_left in (4, 3, 2, 1, 0):
        status, problem = await world.register_with_pin(stranger, number, wrong_pin(pin))
        assert (status, problem["tries_left"]) == (422, tries_left), problem
    status, refused = await world.register_with_pin(stranger, number, wrong_pin(pin))
    assert status == 429, refused

    status, registered = await world.register_with_pin(owner, number, pin)
    assert status == 202, registered  # was 429: the stranger's tries had locked the number for everyone
    assert registered["registration_number"] == number
    assert refused["scope"] == "number"

    # The time to try again is the vendor's (Europe/Moscow by default), in the answer and in its words.
    until = datetime.fromisoformat(refused["retry_at"])
    assert until.utcoffset() == timedelta(hours=3), refused["retry_at"]
    assert f"try again after {until:%Y-%m-%d %H:%M} (Europe/Moscow)" in refused["detail"], refused["detail"]
    assert 3500 < refused["retry_after"] <= 3601


async def test_a_subscriber_trying_many_numbers_is_stopped_after_twenty_wrong_pins(world: World) -> None:
    article = await world.product("BASIC")
    items = await world.issue(article, count=6)
    guesser, owner = await world.customer(), await world.customer()
    wrong = [(item["registration_number"], wrong_pin(item["pin"])) for item in items]
    # Four wrong PINs on each of five numbers: no number's own limit (5) is reached, the subscriber's (20) is.
    for number, pin in wrong[:5]:
        for _ in range(4):
            status, problem = await world.register_with_pin(guesser, number, pin)
            assert status == 422, problem
    status, problem = await world.register_with_pin(guesser, wrong[5][0], wrong[5][1])
    assert status == 429 and problem["scope"] == "subscriber", problem
    assert "from your subscriber" in problem["detail"]
    # Another subscriber is not affected, on any of those numbers.
    status, answer = await world.register_with_pin(owner, items[0]["registration_number"], items[0]["pin"])
    assert status == 202, answer


async def test_many_subscribers_together_reach_the_numbers_ceiling(world: World) -> None:
    """The per-number ceiling (50 an hour from everyone) still bounds guessing a PIN."""
    [item] = await world.issue(await world.product("BASIC"))
    number, pin = item["registration_number"], item["pin"]
    for _ in range(10):
        stranger = await world.customer()
        for _ in range(5):
            status, problem = await world.register_with_pin(stranger, number, wrong_pin(pin))
            assert status == 422, problem
    status, problem = await world.register_with_pin(await world.customer(), number, pin)
    assert status == 429 and problem["scope"] == "number", problem
    assert await pin_failures(world, number) == 50


async def test_wrong_pins_are_counted_exactly_under_concurrency(world: World) -> None:
    article = await world.product("BASIC")
    [item] = await world.issue(article)
    customer = await world.customer()
    wrong = f"{(int(item['pin']) + 7) % 10**12:012d}"
    answers = await asyncio.gather(
        *(world.register_with_pin(customer, item["registration_number"], wrong) for _ in range(12))
    )
    assert sorted(status for status, _ in answers) == [422] * 5 + [429] * 7
    assert await pin_failures(world, item["registration_number"]) == 5


# ---- a contract first for PROF (REG-4) ------------------------------------------------------


def contract(numbers: list[str], *, period_to: str, main: str | None = None) -> ContractActivated:
    today = date.today()
    return ContractActivated(
        contract_id=uuid.uuid4(),
        number=f"ITS-{uuid.uuid4().hex[:6]}",
        partner_id=uuid.uuid4(),
        organisation=Organisation(name="Romashka LLC", tin="7707083893", kpp="770701001"),
        main_registration_number=main or unknown_number(),
        additional_registration_numbers=numbers,
        period_from=month(today.replace(day=1) - timedelta(days=300)),
        period_to=period_to,
        kind="ITS PROF",
        activated_at=datetime.now(UTC),
    )


async def test_prof_with_a_pin_needs_a_contract_listing_its_number(world: World) -> None:
    article = await world.product("PROF")
    covered, lapsed, expired = await world.issue(article, 3)
    customer = await world.customer()

    status, problem = await world.register_with_pin(customer, covered["registration_number"], covered["pin"])
    assert status == 422 and problem["type"] == PROBLEM + "its-contract-required"
    assert "partner" in problem["detail"]  # says what to do
    assert await registered_rows(world) >= 0 and await pin_failures(world, covered["registration_number"]) == 0

    # As an additional number of a contract made for another product: accepted.
    next_year = month(date.today() + timedelta(days=366))
    await publish(world.bus, contract([covered["registration_number"]], period_to=next_year), "contracts")
    await world.wait_for_row(
        "SELECT 1 FROM contract_coverage WHERE registration_number = $1", covered["registration_number"]
    )
    status, answer = await world.register_with_pin(customer, covered["registration_number"], covered["pin"])
    assert status == 202, answer

    # A contract whose period ended does not cover.
    last_year = month(date.today() - timedelta(days=400))
    await publish(world.bus, contract([lapsed["registration_number"]], period_to=last_year), "contracts")
    await world.wait_for_row(
        "SELECT 1 FROM contract_coverage WHERE registration_number = $1", lapsed["registration_number"]
    )
    status, _ = await world.register_with_pin(customer, lapsed["registration_number"], lapsed["pin"])
    assert status == 422

    # An expired contract stops covering, even when its expiry overtakes its activation.
    ended = contract([], period_to=next_year, main=expired["registration_number"])
    await publish(
        world.bus,
        ContractExpired(
            contract_id=ended.contract_id, number=ended.number, period_to=next_year, expired_at=datetime.now(UTC)
        ),
        "contracts",
    )
    await world.wait_for_row("SELECT 1 FROM expired_contracts WHERE contract_id = $1", ended.contract_id)
    await publish(world.bus, ended, "contracts")
    await asyncio.sleep(1)
    status, _ = await world.register_with_pin(customer, expired["registration_number"], expired["pin"])
    assert status == 422


# ---- only owners register; bad cards store nothing (SUB-4, REG-2) ---------------------------


async def test_only_the_owner_registers_but_every_user_reads(world: World) -> None:
    article = await world.product("BASIC")
    [item] = await world.issue(article)
    customer = await world.customer()
    body = {"registration_number": item["registration_number"], "pin": item["pin"], "card": card_of()}
    status, problem = await world.call("POST", "/v1/registrations/pin", world.owner(customer, "user"), json=body)
    assert status == 403 and problem["type"] == PROBLEM + "owner-only"
    status, _ = await world.call("GET", "/v1/registrations", world.owner(customer, "user"))
    assert status == 200
    status, _ = await world.call("GET", "/v1/configurations/access", world.owner(customer, "user"))
    assert status == 200
    assert await pin_failures(world, item["registration_number"]) == 0


BAD_CARDS: list[tuple[str, dict[str, Any]]] = [
    ("company_name", {"company_name": "  "}),
    ("activity_type", {"activity_type": ""}),
    ("postal_code", {"postal_code": "1010"}),
    ("postal_code", {"postal_code": "ABCDEF"}),
    ("address", {"address": "x" * 501}),
    ("head_of_organisation", {"head_of_organisation": None}),
    ("responsible_person", {"responsible_person": 7}),
    ("phone", {"phone": "call me"}),
    ("phone", {"phone": "+7 12"}),
    ("email", {"email": "not-an-address"}),
    ("purchased_from", {"purchased_from": ""}),
    ("purchase_date", {"purchase_date": "yesterday"}),
    ("purchase_date", {"purchase_date": "1980-01-01"}),
    ("purchase_date", {"purchase_date": (date.today() + timedelta(days=3)).isoformat()}),
    ("workplaces", {"workplaces": 0}),
    ("workplaces", {"workplaces": "three"}),
    ("workplaces", {"workplaces": 2.5}),
    ("card", {"extra": "field"}),
]


@pytest.mark.parametrize(("field", "change"), BAD_CARDS)
async def test_a_malformed_card_is_refused_field_by_field_and_nothing_is_stored(
    world: World, field: str, change: dict[str, Any]
) -> None:
    article = await world.product("BASIC")
    [item] = await world.issue(article)
    customer = await world.customer()
    before = await registered_rows(world)
    status, problem = await world.register_with_pin(customer, item["registration_number"], item["pin"], **change)
    assert status == 422, problem
    fields = {e["field"] for e in problem["errors"]}
    assert any(field in f for f in fields), fields
    assert await registered_rows(world) == before
    assert await pin_failures(world, item["registration_number"]) == 0


async def test_missing_card_fields_are_all_listed(world: World) -> None:
    customer = await world.customer()
    status, problem = await world.call(
        "POST",
        "/v1/registrations/pin",
        world.owner(customer),
        json={"registration_number": "12345", "pin": "12", "card": {}},
    )
    assert status == 422
    fields = {e["field"] for e in problem["errors"]}
    assert {"registration_number", "pin"} <= fields
    assert {f"card.{name}" for name in card_of()} <= fields


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"registration_number": null}', b"\xff\xfe", b'{"pin": "' + b"9" * 100_000 + b'"}'],
)
async def test_hostile_bodies_get_a_4xx_problem(world: World, body: bytes) -> None:
    customer = await world.customer()
    headers = {**world.owner(customer), "Content-Type": "application/json"}
    status, problem = await world.call("POST", "/v1/registrations/pin", headers, data=body)
    assert 400 <= status < 500 and problem["status"] == status


# ---- partner authorisation and transfer (REG-5) ---------------------------------------------


async def test_a_partner_authorises_a_product_for_a_subscriber_code(world: World) -> None:
    article = await world.product("CORP", pin_envelope=False, configurations=2)
    [item] = await world.issue(article)
    number = item["registration_number"]
    customer, stranger = await world.customer(language="ru"), await world.customer()
    partner = await world.partner_named("Franchisee One")
    body = {"registration_number": number, "subscriber_code": customer.code, "purchase_date": "2026-10-01"}

    status, answer = await world.call("POST", "/v1/registrations/partner", world.partner(partner), json=body)
    assert status == 200, answer
    assert answer["state"] == "active" and answer["registered_by"] == "partner"
    assert answer["partner"] == "Franchisee One" and answer["purchase_date"] == "2026-10-01"
    status, listed = await world.call("GET", "/v1/registrations", world.owner(customer))
    assert [r["registration_number"] for r in listed["items"]] == [number]
    status, access = await world.call("GET", "/v1/configurations/access", world.owner(customer))
    assert sum(c["registered"] for c in access["items"]) == 2

    [letter] = await world.outbox("registration.partner.authorised", number)
    assert letter["data"]["owner_email"] == customer.email and letter["data"]["owner_language"] == "ru"
    assert letter["data"]["partner_name"] == "Franchisee One"
    assert [p["registration_number"] for p in letter["data"]["products"]] == [number]
    [activated] = await world.outbox("registration.product.activated", number)
    assert activated["data"]["partner_id"] == str(partner) and activated["data"]["purchase_date"] == "2026-10-01"

    # A retry answers the same and announces nothing again.
    status, again = await world.call("POST", "/v1/registrations/partner", world.partner(partner), json=body)
    assert status == 200 and again == answer
    assert len(await world.outbox("registration.product.activated", number)) == 1

    # Another subscriber: refused; that is an operator's transfer.
    other = {**body, "subscriber_code": stranger.code}
    status, problem = await world.call("POST", "/v1/registrations/partner", world.partner(partner), json=other)
    assert status == 409 and problem["type"] == PROBLEM + "registered-to-another-subscriber"


async def test_partner_authorisation_checks_who_and_what(world: World) -> None:
    article = await world.product("CORP", pin_envelope=False)
    [item] = await world.issue(article)
    customer = await world.customer()
    partner = await world.partner_named("Franchisee Two")
    body = {"registration_number": item["registration_number"], "subscriber_code": customer.code}
    today = date.today().isoformat()

    status, problem = await world.call(
        "POST", "/v1/registrations/partner", world.owner(customer), json={**body, "purchase_date": today}
    )
    assert status == 403 and problem["type"] == PROBLEM + "partner-only"
    cases = [
        ({"subscriber_code": "CL-0000000"}, "subscriber_code"),
        ({"subscriber_code": "CL-12"}, "subscriber_code"),
        ({"registration_number": unknown_number()}, "registration_number"),
        ({"purchase_date": (date.today() + timedelta(days=2)).isoformat()}, "purchase_date"),
    ]
    for change, field in cases:
        status, problem = await world.call(
            "POST", "/v1/registrations/partner", world.partner(partner), json={**body, "purchase_date": today, **change}
        )
        assert status == 422 and problem["errors"][0]["field"] == field, (change, problem)
    assert await world.outbox("registration.product.registered", item["registration_number"]) == []


async def test_an_operator_transfers_a_number_and_the_transfer_is_audited(world: World) -> None:
    article = await world.product("BASIC")
    [item] = await world.issue(article)
    number = item["registration_number"]
    seller, buyer = await world.customer(), await world.customer()
    body = {"subscriber_code": buyer.code, "reason": "the company was sold"}

    status, _ = await world.call("POST", f"/v1/registrations/{number}/transfer", world.operator(), json=body)
    assert status == 409  # not registered yet: nothing to move
    status, _ = await world.register_with_pin(seller, number, item["pin"])
    assert status == 202
    status, _ = await world.call("POST", f"/v1/registrations/{number}/transfer", world.owner(seller), json=body)
    assert status == 403
    status, moved = await world.call("POST", f"/v1/registrations/{number}/transfer", world.operator(), json=body)
    assert status == 200 and moved["registration_number"] == number

    status, sellers = await world.call("GET", "/v1/registrations", world.owner(seller))
    status, buyers = await world.call("GET", "/v1/registrations", world.owner(buyer))
    assert sellers["items"] == [] and [r["registration_number"] for r in buyers["items"]] == [number]
    [event] = await world.outbox("registration.product.transferred", number)
    assert event["data"]["from_subscriber_code"] == seller.code and event["data"]["subscriber_code"] == buyer.code
    # Support sees the number's story: product, subscriber, card, transfers; customers do not.
    status, record = await world.call("GET", f"/v1/registrations/{number}", world.operator())
    assert status == 200 and record["subscriber_code"] == buyer.code and record["state"] == "pending"
    assert record["card"]["company_name"] == card_of()["company_name"] and record["with_pin"] is True
    [audit] = record["transfers"]
    assert audit["reason"] == "the company was sold"
    assert (audit["from_subscriber_code"], audit["to_subscriber_code"]) == (seller.code, buyer.code)
    status, _ = await world.call("GET", f"/v1/registrations/{number}", world.owner(buyer))
    assert status == 403
    status, _ = await world.call("GET", f"/v1/registrations/{unknown_number()}", world.operator())
    assert status == 404
    status, _ = await world.call("GET", "/v1/registrations/12345", world.operator())
    assert status == 422


# ---- isolation (REG-6) ----------------------------------------------------------------------


async def test_subscribers_see_only_their_own_products_and_partners_see_no_lists(world: World) -> None:
    article = await world.product("BASIC")
    items = await world.issue(article, 2)
    alice, bob = await world.customer(), await world.customer()
    for customer, item in zip((alice, bob), items, strict=True):
        status, _ = await world.register_with_pin(customer, item["registration_number"], item["pin"])
        assert status == 202
    for customer, item in zip((alice, bob), items, strict=True):
        status, listed = await world.call("GET", "/v1/registrations", world.owner(customer))
        assert [r["registration_number"] for r in listed["items"]] == [item["registration_number"]]
    partner = await world.partner_named("Curious Partner")
    for path in ("/v1/registrations", "/v1/configurations/access"):
        status, _ = await world.call("GET", path, world.partner(partner))
        assert status == 403, path
    status, _ = await world.call("GET", "/v1/registrations")
    assert status == 401


# ---- consumers survive bad and repeated events ----------------------------------------------


async def test_malformed_and_repeated_events_change_nothing_and_the_queue_moves_on(world: World) -> None:
    bad = Envelope(
        type="identity.subscriber.created",
        version=1,
        occurred_at=datetime.now(UTC),
        producer="identity",
        data={"subscriber_id": "not-a-uuid"},
    )
    await world.bus.publish(bad.type, bad.model_dump_json().encode(), message_id=str(bad.id), message_type=bad.type)
    await world.bus.publish(bad.type, b"{not json", message_id=str(uuid.uuid4()), message_type=bad.type)
    customer = await world.customer()  # announced after the bad ones: the queue moved on
    renamed = SubscriberCreated(
        subscriber_id=customer.subscriber_id, code=customer.code, name="New name", owner_account_id=uuid.uuid4()
    )
    envelope = await publish(world.bus, renamed)
    await world.bus.publish(
        envelope.type, envelope.model_dump_json().encode(), message_id=str(envelope.id), message_type=envelope.type
    )
    await world.wait_for_row("SELECT 1 FROM inbox WHERE event_id = $1", envelope.id)
    async with world.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT name, owner_account_id FROM subscribers WHERE id = $1", customer.subscriber_id
        )
        handled = await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", envelope.id)
    # Announced again (identity's republish): the latest name; the owner never changes.
    assert row is not None and row["name"] == "New name" and row["owner_account_id"] == customer.owner_id
    assert handled == 1


async def test_republishing_announces_the_catalogue_numbers_and_registrations_again(world: World) -> None:
    from services.registration.republish import republish_registration
    from services.registration.settings import RegistrationSettings

    article = await world.product("BASIC")
    issued, registered = await world.issue(article, 2)
    customer = await world.customer()
    status, _ = await world.register_with_pin(customer, registered["registration_number"], registered["pin"])
    assert status == 202

    counts = await republish_registration(RegistrationSettings())

    assert counts.numbers >= 2 and counts.registrations >= 1 and counts.products >= 1
    announced = await world.outbox(NumbersIssued.TYPE, issued["registration_number"])
    assert len(announced) == 2  # issued, then announced again
    first, again = await world.outbox("registration.product.registered", registered["registration_number"])
    assert first["data"] == again["data"] and first["id"] != again["id"]


async def test_an_activation_racing_an_expiry_does_not_cover_the_expired_contract_again(pool: Any) -> None:
    """REG-4's read of contracts: an activation (a redelivered duplicate) that starts while the contract's expiry is
    being committed must not bring the contract back; the consumer runs several messages at once."""
    contract, numbers = uuid.uuid4(), [domain.new_registration_number()]
    async with pool.acquire() as conn:
        await store.cover(conn, contract, numbers, "2026-01", "2026-12")
    async with pool.acquire() as expiring, pool.acquire() as activating:
        expiry = expiring.transaction()
        await expiry.start()
        await store.uncover(expiring, contract)

        async def duplicate_activation() -> None:
            async with activating.transaction():
                await store.cover(activating, contract, numbers, "2026-01", "2026-12")

        duplicate = asyncio.create_task(duplicate_activation())
        await asyncio.sleep(0.3)  # the activation is under way while the expiry is not yet committed
        await expiry.commit()
        await asyncio.wait_for(duplicate, timeout=10)
        assert await store.coverage_ends(activating, numbers[0]) == []
