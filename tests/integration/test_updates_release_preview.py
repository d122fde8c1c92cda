"""updates for operators' pages: one release by id (what a confirmation page names), the preview of a draft's
notes rendered by the code the release page uses, and the list's newest-first order and version search."""

from __future__ import annotations

import uuid

from tests.integration.updates_fixtures import (
    PROBLEM,
    World,
    configuration_release,
    keys,
    kit,
    kits_dir,
    pool,
    publisher,
    updates,
    world,
)

__all__ = ["keys", "kits_dir", "pool", "publisher", "updates", "world"]  # fixtures


async def test_the_preview_is_the_release_pages_rendering_and_safe(world: World) -> None:
    configuration, customer = await world.configuration(), await world.customer()
    await world.register(customer, [configuration])
    await world.released(configuration, "2.0.1.1")
    status, page = await world.call(
        "GET", f"/v1/configurations/{configuration}/releases/2.0.1.1", world.member(customer)
    )
    assert status == 200, page
    notes = configuration_release()
    body = {k: notes[k] for k in ("whats_new", "changes", "major_changes", "update_procedure")}
    status, preview = await world.call("POST", "/v1/releases/preview", world.operator(), json=body)
    assert status == 200, preview
    for section in ("whats_new_html", "changes_html", "major_changes_html", "update_procedure_html"):
        assert preview[section] == page[section], section
    assert "<script>" not in preview["whats_new_html"] and "&lt;script&gt;" in preview["whats_new_html"]
    assert '<a href="javascript' not in preview["changes_html"]

    platform = {"differences": "Faster **reports** <img src=x onerror=alert(1)>", "migration_notes": "![x](http://a/b)"}
    status, preview = await world.call("POST", "/v1/releases/preview", world.operator(), json=platform)
    assert status == 200 and "<strong>reports</strong>" in preview["differences_html"]
    assert "<img" not in preview["differences_html"] + preview["migration_notes_html"]
    assert preview["whats_new_html"] == "" and preview["major_changes_html"] == []

    # Operators only; hostile input is a 422 naming the field, never a 500.
    customer_token = world.member(customer)
    status, problem = await world.call("POST", "/v1/releases/preview", customer_token, json=body)
    assert status == 403, problem
    for bad, field in (
        ({"whats_new": "x" * 20_001}, "whats_new"),
        ({"changes": "a\x00b"}, "changes"),
        ({"major_changes": [""]}, "major_changes"),
        ({"unknown": "x"}, "unknown"),
    ):
        status, problem = await world.call("POST", "/v1/releases/preview", world.operator(), json=bad)
        assert status == 422 and field in str(problem["errors"]), (bad, problem)


async def test_one_release_by_id_for_operators(world: World) -> None:
    configuration = await world.configuration()
    status, draft = await world.declare(configuration, "1.0.0.1", configuration_release(kits=[kit("k.cf", b"k")]))
    assert status == 201, draft
    status, found = await world.call("GET", f"/v1/releases/{draft['id']}", world.operator())
    assert status == 200 and found["version"] == "1.0.0.1" and found["missing_kits"] == ["k.cf"]
    status, problem = await world.call("GET", f"/v1/releases/{uuid.uuid4()}", world.operator())
    assert status == 404 and problem["type"] == PROBLEM + "release-not-found", problem
    # Not a UUID: no such route (so /v1/releases/preview is POST's alone), the kernel's 404 problem.
    status, problem = await world.call("GET", "/v1/releases/not-an-id", world.operator())
    assert status == 404 and problem["type"] == PROBLEM + "not-found", problem
    status, _ = await world.call("GET", f"/v1/releases/{draft['id']}", world.token())
    assert status == 403


async def test_the_list_sorts_newest_first_and_searches_by_version(world: World) -> None:
    configuration = await world.configuration()
    dated = {"3.0.1.1": "2026-01-05", "3.0.2.1": "2026-03-05", "3.10.0.1": "2026-02-05", "3.1.0.1": "2026-02-06"}
    for version, day in dated.items():
        body = configuration_release(release_date=day, kits=[kit("k.cf", b"k")])
        status, draft = await world.declare(configuration, version, body)
        assert status == 201, draft
    listed: list[str] = []
    cursor = None
    for _ in range(5):
        query = f"configuration={configuration}&sort=newest&limit=3" + (f"&cursor={cursor}" if cursor else "")
        status, page = await world.call("GET", f"/v1/releases?{query}", world.operator())
        assert status == 200, page
        listed += [r["version"] for r in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert listed == ["3.0.2.1", "3.1.0.1", "3.10.0.1", "3.0.1.1"]

    status, page = await world.call(
        "GET", f"/v1/releases?configuration={configuration}&version_prefix=3.1", world.operator()
    )
    assert status == 200 and [r["version"] for r in page["items"]] == ["3.1.0.1"], page  # not 3.10
    status, page = await world.call(
        "GET", f"/v1/releases?configuration={configuration}&version_prefix=3.0", world.operator()
    )
    assert status == 200 and [r["version"] for r in page["items"]] == ["3.0.2.1", "3.0.1.1"], page

    # A cursor of the other order, or a search that is no version, is a 422 naming the field.
    status, page = await world.call("GET", f"/v1/releases?configuration={configuration}&limit=1", world.operator())
    other_order = page["next_cursor"]
    for query, field in ((f"sort=newest&cursor={other_order}", "cursor"), ("version_prefix=3.x", "version_prefix")):
        status, problem = await world.call("GET", f"/v1/releases?{query}", world.operator())
        assert status == 422 and field in str(problem["errors"]), (query, problem)
