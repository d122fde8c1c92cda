"""The partner directory: active partners (name, city, contact e-mail) for any logged-in account, by name, a page
at a time; a deactivated partner is not in it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.infra import RunningApp, TestStack
from tests.integration.identity_fixtures import identity, unique
from tests.integration.test_identity_partners import operator_token, tin
from tests.integration.test_identity_subscribers import person

__all__ = ["identity"]


async def new_partner(app: RunningApp, operator: str, name: str, city: str) -> dict[str, Any]:
    body = {"name": name, "tin": tin(), "city": city, "contact_email": f"{unique('office')}@partner.example"}
    async with app.http.post("/v1/partners", headers={"Authorization": f"Bearer {operator}"}, json=body) as r:
        assert r.status == 201, await r.text()
        return dict(await r.json())


async def test_any_logged_in_account_reads_the_active_partners_page_by_page(
    identity: RunningApp, stack: TestStack
) -> None:
    operator = await operator_token(identity, stack)
    prefix = unique("Directory ")
    kazan = await new_partner(identity, operator, f"{prefix} B", "Kazan")
    tver = await new_partner(identity, operator, f"{prefix} A", "Tver")
    same_name = await new_partner(identity, operator, f"{prefix} A", "Omsk")
    gone = await new_partner(identity, operator, f"{prefix} C", "Perm")
    async with identity.http.post(
        f"/v1/partners/{gone['id']}/deactivate", headers={"Authorization": f"Bearer {operator}"}
    ) as r:
        assert r.status == 200, await r.text()
    customer = await person(identity)

    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page = await customer.call("GET", f"/v1/partner-directory{query}")
        assert status == 200, page
        assert len(page["items"]) <= 2
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    mine = [p for p in seen if p["name"].startswith(prefix)]
    assert [p["name"] for p in mine] == [f"{prefix} A", f"{prefix} A", f"{prefix} B"]  # by name
    assert {p["id"] for p in mine} == {tver["id"], same_name["id"], kazan["id"]}
    assert len({p["id"] for p in seen}) == len(seen)  # no partner twice across pages
    assert all(set(p) == {"id", "name", "city", "contact_email"} for p in seen)  # no TIN, staff or state
    assert gone["id"] not in {p["id"] for p in seen}

    status, one = await customer.call("GET", f"/v1/partner-directory/{kazan['id']}")
    assert (status, one) == (
        200,
        {"id": kazan["id"], "name": f"{prefix} B", "city": "Kazan", "contact_email": kazan["contact_email"]},
    )
    for missing in (gone["id"], str(uuid.uuid4())):
        status, problem = await customer.call("GET", f"/v1/partner-directory/{missing}")
        assert status == 404, problem
    async with identity.http.get("/v1/partner-directory") as response:
        assert response.status == 401


@pytest.mark.parametrize(
    ("query", "field"), [("limit=0", "limit"), ("limit=201", "limit"), ("cursor=bm90LW91cnM", "cursor")]
)
async def test_a_bad_page_query_is_a_problem_naming_the_field(identity: RunningApp, query: str, field: str) -> None:
    customer = await person(identity)
    status, problem = await customer.call("GET", f"/v1/partner-directory?{query}")
    assert status == 422, problem
    assert [error["field"] for error in problem["errors"]] == [field]
