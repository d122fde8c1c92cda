"""A partner's contracts as a list that scales (portal issue 17): search, filters and two orders, a page at a time
by keyset, every contract once; a cursor or filter the list does not know is a 422 naming the field."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

import pytest

from services.contracts.partner_api import PAGE_CURSORS
from shared.pages import encode_cursor
from tests.integration.contracts_fixtures import Partner, World, contracts, keys, moscow, pool, publisher, world

__all__ = ["contracts", "keys", "pool", "publisher", "world"]  # fixtures


async def listed(world: World, partner: Partner, **query: Any) -> list[dict[str, Any]]:
    """Every contract the list answers for `query`, page after page of `limit` (default 2)."""
    token = world.partner_token(partner)
    query = {"limit": 2, **query}
    seen: list[dict[str, Any]] = []
    after = None
    for _ in range(20):
        status, page = await world.call(
            "GET", "/v1/partner/contracts?" + urlencode({**query, **({"cursor": after} if after else {})}), token
        )
        assert status == 200, page
        assert len(page["items"]) <= query["limit"]
        seen += page["items"]
        if (after := page["next_cursor"]) is None:
            return seen
    raise AssertionError("the pages never ended")


@pytest.fixture(scope="module")
async def posted(world: World) -> tuple[Partner, dict[str, dict[str, Any]]]:
    """Four contracts of one partner: three processed (one ending in March 2030), one still processing. Far in
    the future, so that the real day these tests run on processes and expires none of them."""
    partner = await world.partner()
    x = await world.configuration()
    y = await world.configuration()
    x1, x2, x3 = await world.issued(count=3, configurations=[x])
    [y1] = await world.issued(configurations=[y])
    bodies = {
        "romashka": world.contract_body(x1, period=("2030-03", "2031-02")),
        "vasilek": world.contract_body(x2, period=("2030-03", "2031-02")),
        "march": world.contract_body(y1, period=("2030-03", "2030-03")),
    }
    bodies["vasilek"]["organisation"]["name"] = "Vasilek 50%_off JSC"
    found: dict[str, dict[str, Any]] = {"x": {"code": x}, "y": {"code": y}}
    async with world.clock_at(moscow("2030-03-05 10:00")):  # a Tuesday
        for name, body in bodies.items():
            status, answer = await world.post_contract(partner, body)
            assert status == 202, answer
            found[name] = {**body, "id": answer["id"]}
        await world.set_clock(moscow("2030-03-06 00:00"))
        for name in bodies:
            await world.wait_state(found[name]["id"], "active")
        await world.set_clock(moscow("2030-03-06 10:00"))
        body = world.contract_body(x3, period=("2030-03", "2030-05"))
        status, answer = await world.post_contract(partner, body)
        assert status == 202, answer
        found["processing"] = {**body, "id": answer["id"]}
    return partner, found


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [c["id"] for c in items]


async def test_every_contract_once_newest_received_first(world: World, posted: tuple[Partner, Any]) -> None:
    partner, c = posted
    items = await listed(world, partner, limit=1)
    assert sorted(ids(items)) == sorted(c[n]["id"] for n in ("processing", "march", "vasilek", "romashka"))
    received = [(i["received_at"], i["id"]) for i in items]
    assert received == sorted(received, reverse=True)
    assert ids(items)[0] == c["processing"]["id"]


async def test_ending_soonest_first_pages_every_contract_once(world: World, posted: tuple[Partner, Any]) -> None:
    partner, c = posted
    items = await listed(world, partner, sort="ending", limit=1)
    assert len(items) == 4 and len(set(ids(items))) == 4
    assert ids(items)[:2] == [c["march"]["id"], c["processing"]["id"]]
    assert sorted(ids(items)[2:]) == sorted([c["romashka"]["id"], c["vasilek"]["id"]])


async def test_filters_by_state_ending_and_configuration(world: World, posted: tuple[Partner, Any]) -> None:
    partner, c = posted
    async with world.clock_at(moscow("2030-03-06 12:00")):  # the last one is processed on the 7th
        assert ids(await listed(world, partner, state="processing")) == [c["processing"]["id"]]
        assert len(await listed(world, partner, state="active")) == 3
        assert await listed(world, partner, state="expired") == []
        assert ids(await listed(world, partner, ending_within_days=30)) == [c["march"]["id"]]
        assert ids(await listed(world, partner, ending_within_days=120, sort="ending")) == [
            c["march"]["id"],
            c["processing"]["id"],
        ]
        assert ids(await listed(world, partner, configuration=c["y"]["code"])) == [c["march"]["id"]]
        in_x = await listed(world, partner, configuration=c["x"]["code"], state="active")
        assert sorted(ids(in_x)) == sorted([c["romashka"]["id"], c["vasilek"]["id"]])
        assert await listed(world, partner, configuration="NoSuchConfiguration") == []


async def test_search_by_number_organisation_tin_and_registration_number(
    world: World, posted: tuple[Partner, Any]
) -> None:
    partner, c = posted
    assert ids(await listed(world, partner, q="vasilek")) == [c["vasilek"]["id"]]
    assert ids(await listed(world, partner, q="50%_OFF")) == [c["vasilek"]["id"]]
    assert await listed(world, partner, q="V%k") == []  # a wildcard is a character like any other
    assert ids(await listed(world, partner, q=c["romashka"]["number"][4:].upper())) == [c["romashka"]["id"]]
    registration_number = c["processing"]["main_registration_number"]
    assert ids(await listed(world, partner, q=registration_number)) == [c["processing"]["id"]]
    assert len(await listed(world, partner, q="770708")) == 4  # the start of the TIN
    stranger = await world.partner("Someone Else")
    assert await listed(world, stranger, q="vasilek") == []


def cursor(sort: str, moment: str = "2030-03-01T07:00:00+00:00") -> str:
    return encode_cursor(PAGE_CURSORS[sort], moment, str(uuid.uuid4()))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=received", "state"),
        ("ending_within_days=0", "ending_within_days"),
        ("ending_within_days=9223372036854775808", "ending_within_days"),
        ("configuration=no%20spaces", "configuration"),
        ("sort=oldest", "sort"),
        ("q=", "q"),
        (f"q={'x' * 101}", "q"),
        (f"sort=ending&cursor={cursor('received')}", "cursor"),  # another order's cursor
        (f"cursor={cursor('ending')}", "cursor"),
        (f"cursor={cursor('received', 'yesterday')}", "cursor"),
    ],
)
async def test_a_filter_or_cursor_it_does_not_know_is_a_422_naming_it(
    world: World, posted: tuple[Partner, Any], query: str, field: str
) -> None:
    partner, _ = posted
    status, problem = await world.call("GET", f"/v1/partner/contracts?{query}", world.partner_token(partner))
    assert status == 422, problem
    assert [e["field"] for e in problem["errors"]] == [field]


async def test_the_list_is_documented_with_its_query_and_next_page_link(world: World) -> None:
    status, document = await world.call("GET", "/openapi.json")
    assert status == 200
    operation = document["paths"]["/v1/partner/contracts"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {
        "q",
        "state",
        "ending_within_days",
        "configuration",
        "sort",
        "limit",
        "cursor",
    }
    assert "NextPage" in operation["responses"]["200"]["links"]
