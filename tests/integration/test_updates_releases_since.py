"""A configuration's releases published after an instant (`published_after`): what the portal's home lists as new
since the customer's last visit."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import pytest

from tests.integration.updates_fixtures import World, keys, kits_dir, pool, publisher, updates, world

__all__ = ["keys", "kits_dir", "pool", "publisher", "updates", "world"]  # fixtures


async def test_only_the_releases_published_after_the_instant_are_listed(world: World) -> None:
    configuration = await world.configuration()
    customer = await world.customer()
    await world.register(customer, [configuration])
    first = await world.released(configuration, "3.0.1.1")
    await world.released(configuration, "3.0.2.1", updates_from=["3.0.1.1"])
    path = f"/v1/configurations/{configuration}/releases"

    after = quote(first["published_at"], safe="")
    status, listed = await world.call("GET", f"{path}?published_after={after}", world.member(customer))
    assert status == 200, listed
    assert [r["version"] for r in listed["items"]] == ["3.0.2.1"]
    assert listed["items"][0]["published_at"] > first["published_at"]

    earlier = quote(datetime.fromisoformat(first["published_at"]).replace(year=2000).isoformat(), safe="")
    status, listed = await world.call("GET", f"{path}?published_after={earlier}", world.member(customer))
    assert [r["version"] for r in listed["items"]] == ["3.0.2.1", "3.0.1.1"]
    status, listed = await world.call("GET", f"{path}?published_after=9999-12-31T23:59:59Z", world.member(customer))
    assert (status, listed["items"]) == (200, [])


@pytest.mark.parametrize("value", ["yesterday", "2026-12-04T10:00:00", "2026-12-04", "2026-13-01T00:00:00Z", ""])
async def test_a_bad_instant_is_a_problem_naming_it(world: World, value: str) -> None:
    configuration = await world.configuration()
    customer = await world.customer()
    await world.register(customer, [configuration])
    status, problem = await world.call(
        "GET", f"/v1/configurations/{configuration}/releases?published_after={value}", world.member(customer)
    )
    assert status == 422, problem
    assert [error["field"] for error in problem["errors"]] == ["published_after"]
