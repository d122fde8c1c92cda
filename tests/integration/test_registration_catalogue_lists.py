"""registration's catalogue as lists that scale (portal issue 17): configurations and products searched, filtered
and sorted, a keyset page at a time, every item once; a cursor or filter the list does not know is a 422."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

import pytest

from services.registration.catalogue_api import CONFIGURATIONS_CURSORS, PRODUCTS_CURSORS
from shared.pages import encode_cursor
from tests.integration.registration_fixtures import World, ean13, keys, pool, publisher, registration, world

__all__ = ["keys", "pool", "publisher", "registration", "world"]  # fixtures


async def every_page(world: World, path: str, **query: Any) -> list[dict[str, Any]]:
    """Every item the list answers for `query`, page after page of `limit` (default 2)."""
    query = {"limit": 2, **query}
    seen: list[dict[str, Any]] = []
    after = None
    for _ in range(30):
        page_query = urlencode({**query, **({"cursor": after} if after else {})})
        status, page = await world.call("GET", f"{path}?{page_query}", world.operator())
        assert status == 200, page
        assert len(page["items"]) <= query["limit"]
        seen += page["items"]
        if (after := page["next_cursor"]) is None:
            return seen
    raise AssertionError("the pages never ended")


@pytest.fixture(scope="module")
async def catalogue(world: World) -> dict[str, Any]:
    """Three configurations and four products whose names share a tag no other test uses."""
    tag = f"T{uuid.uuid4().hex[:6]}"
    codes = {}
    for code, name in (("Zulu", "Alpha"), ("Yankee", "Bravo"), ("Xray", "Charlie")):
        codes[code] = f"{code}{tag}"
        body = {"name": f"{name} {tag}", "maintenance_category": 1, "vendor": "1C"}
        status, _ = await world.call("PUT", f"/v1/configurations/{codes[code]}", world.operator(), json=body)
        assert status == 201
    products = {}
    for n, (name, edition, configurations) in enumerate(
        [
            ("Delta", "PROF", ["Zulu"]),
            ("Alpha", "BASIC", ["Zulu", "Yankee"]),
            ("Charlie", "PROF", ["Xray"]),
            ("Bravo", "CORP", ["Yankee"]),
        ]
    ):
        article = ean13(f"469{uuid.uuid4().int % 10**8:08d}{n}")
        products[name] = article
        body = {
            "name": f"{name} {tag}",
            "edition": edition,
            "configurations": [codes[c] for c in configurations],
            "pin_envelope": edition != "CORP",
        }
        status, answer = await world.call("PUT", f"/v1/products/{article}", world.operator(), json=body)
        assert status == 201, answer
    return {"tag": tag, "codes": codes, "products": products}


async def test_configurations_page_every_one_once_by_code_or_by_name(world: World, catalogue: dict[str, Any]) -> None:
    tag, codes = catalogue["tag"], catalogue["codes"]
    by_code = await every_page(world, "/v1/configurations", q=tag, limit=1)
    assert [c["code"] for c in by_code] == [codes["Xray"], codes["Yankee"], codes["Zulu"]]
    by_name = await every_page(world, "/v1/configurations", q=tag.lower(), sort="name", limit=2)
    assert [c["name"] for c in by_name] == [f"Alpha {tag}", f"Bravo {tag}", f"Charlie {tag}"]
    assert [c["code"] for c in await every_page(world, "/v1/configurations", q=f"yankee{tag}")] == [codes["Yankee"]]
    assert await every_page(world, "/v1/configurations", q=f"{tag}%") == []  # a wildcard is a character
    everything = await every_page(world, "/v1/configurations", limit=1000)
    assert {codes["Xray"], codes["Yankee"], codes["Zulu"]} <= {c["code"] for c in everything}


async def test_products_page_by_name_or_article_and_filter(world: World, catalogue: dict[str, Any]) -> None:
    tag, codes, products = catalogue["tag"], catalogue["codes"], catalogue["products"]
    by_name = await every_page(world, "/v1/products", q=tag, limit=1)
    assert [p["article"] for p in by_name] == [products[n] for n in ("Alpha", "Bravo", "Charlie", "Delta")]
    assert by_name[0]["configurations"] == sorted([codes["Zulu"], codes["Yankee"]])
    by_article = await every_page(world, "/v1/products", q=tag, sort="article", limit=3)
    assert [p["article"] for p in by_article] == sorted(products.values())
    assert [p["article"] for p in await every_page(world, "/v1/products", q=products["Charlie"])] == [
        products["Charlie"]
    ]
    prof = await every_page(world, "/v1/products", q=tag, edition="PROF")
    assert [p["article"] for p in prof] == [products["Charlie"], products["Delta"]]
    of_yankee = await every_page(world, "/v1/products", configuration=codes["Yankee"], limit=1)
    assert [p["article"] for p in of_yankee] == [products["Alpha"], products["Bravo"]]
    assert await every_page(world, "/v1/products", configuration=codes["Yankee"], edition="PROF") == []


def cursor(kind: str) -> str:
    return encode_cursor(kind, "Alpha", "4601546041807")


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/v1/configurations", "sort=vendor", "sort"),
        ("/v1/configurations", "q=", "q"),
        ("/v1/configurations", "limit=0", "limit"),
        ("/v1/configurations", "limit=9223372036854775808", "limit"),
        ("/v1/configurations", "cursor=not-ours!", "cursor"),
        ("/v1/configurations", f"cursor={cursor(CONFIGURATIONS_CURSORS['name'])}", "cursor"),  # another order's
        ("/v1/configurations", f"cursor={cursor(PRODUCTS_CURSORS['name'])}", "cursor"),  # another list's
        ("/v1/products", "edition=GOLD", "edition"),
        ("/v1/products", "configuration=no%20spaces", "configuration"),
        ("/v1/products", "configuration=access", "configuration"),
        ("/v1/products", f"q={'x' * 101}", "q"),
        ("/v1/products", f"sort=article&cursor={cursor(PRODUCTS_CURSORS['name'])}", "cursor"),
        ("/v1/products", f"cursor={encode_cursor(PRODUCTS_CURSORS['name'], 'only one part')}", "cursor"),
    ],
)
async def test_a_filter_or_cursor_it_does_not_know_is_a_422_naming_it(
    world: World, path: str, query: str, field: str
) -> None:
    status, problem = await world.call("GET", f"{path}?{query}", world.operator())
    assert status == 422, problem
    assert [e["field"] for e in problem["errors"]] == [field]


async def test_the_lists_are_documented_with_their_queries_and_next_page_links(world: World) -> None:
    status, document = await world.call("GET", "/openapi.json")
    assert status == 200
    configurations = document["paths"]["/v1/configurations"]["get"]
    assert {p["name"] for p in configurations["parameters"]} == {"q", "sort", "limit", "cursor"}
    assert "NextPage" in configurations["responses"]["200"]["links"]
    products = document["paths"]["/v1/products"]["get"]
    assert {p["name"] for p in products["parameters"]} == {"q", "edition", "configuration", "sort", "limit", "cursor"}
    assert "NextPage" in products["responses"]["200"]["links"]
