"""updates' catalogue against the real PostgreSQL, RabbitMQ and kit storage: operators declare releases, stream
their kits, publish and withdraw them (UPD-1, UPD-2, UPD-6); subscribers' users read the pages of the
configurations registered to them (UPD-3, REG-6) and see whether they may download the kits (UPD-4).

Entitlement comes from registration's events, published to the broker as registration would and read by
updates' own consumers. `itsctl releases publish` runs here in-process against the same app.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml
from typer.testing import CliRunner, Result

from itsctl._http import Api
from itsctl.cli import app as cli
from itsctl.release_manifest import ConfigurationRelease, load_manifest
from itsctl.release_publishing import publish_manifest
from services.updates.graphs import CATALOGUE_CHANNEL
from services.updates.keys import STORAGE
from shared.events.registration import ConfigurationChanged
from shared.events.updates import ReleasePublished, ReleaseWithdrawn
from tests.infra import ServiceProcess, TestStack, free_port, wait_for
from tests.integration.itsctl_fixtures import PASSWORD, new_account
from tests.integration.updates_fixtures import (
    MAX_KIT_BYTES,
    PROBLEM,
    World,
    configuration_release,
    keys,
    kit,
    kit_bytes,
    kits_dir,
    platform_release,
    pool,
    publisher,
    sha,
    updates,
    world,
)

__all__ = ["keys", "kits_dir", "pool", "publisher", "updates", "world"]  # fixtures


@pytest.fixture
async def catalogue_notifications(migrated: TestStack) -> AsyncIterator[list[str]]:
    """What replicas hear on the catalogue channel (their update graphs are rebuilt from it)."""
    heard: list[str] = []
    conn = await asyncpg.connect(migrated.database_url)
    await conn.add_listener(CATALOGUE_CHANNEL, lambda _c, _p, _ch, payload: heard.append(payload))
    yield heard
    await conn.close()


async def stored(world: World, sha256: str) -> bool:
    has: bool = await world.app.app[STORAGE].has(sha256)
    return has


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.is_file())


# ---- operators: draft → upload → publish (UPD-1) ------------------------------------------------


async def test_a_configuration_release_goes_from_draft_through_upload_to_published(
    world: World, catalogue_notifications: list[str]
) -> None:
    configuration = await world.configuration(name="Accounting for tests")
    full, update = kit_bytes("full", 300_000), kit_bytes("update", 70_000)
    kits = [kit("Acc_3_0_41_20.cf", full, "full"), kit("Acc_3_0_41_20.cfu", update, "update")]
    body = configuration_release(updates_from=["3.0.40.10", "3.0.9.1"], kits=kits)

    status, draft = await world.declare(configuration, "3.0.41.20", body)
    assert status == 201 and draft["state"] == "draft"
    assert draft["updates_from"] == ["3.0.9.1", "3.0.40.10"]  # ordered as versions, not as text
    assert draft["missing_kits"] == ["Acc_3_0_41_20.cf", "Acc_3_0_41_20.cfu"]
    # Replacing a draft is allowed: same id, the new text.
    status, replaced = await world.declare(configuration, "3.0.41.20", {**body, "its_issue": "ITS 2026/03"})
    assert status == 200 and replaced["id"] == draft["id"]
    release_id = draft["id"]

    status, uploaded = await world.upload(release_id, "Acc_3_0_41_20.cf", full)
    assert status == 201 and uploaded["uploaded"] is True and await stored(world, sha(full))
    status, _ = await world.upload(release_id, "Acc_3_0_41_20.cf", full)
    assert status == 200  # stored already: not read again

    # Publishing waits for every kit, and says which are missing.
    status, problem = await world.publish_release(release_id)
    assert status == 409 and problem["type"] == PROBLEM + "kits-missing"
    assert problem["missing"] == ["Acc_3_0_41_20.cfu"]
    assert await world.outbox(ReleasePublished.TYPE, release_id) == []

    status, _ = await world.upload(release_id, "Acc_3_0_41_20.cfu", update)
    assert status == 201
    status, published = await world.publish_release(release_id)
    assert status == 200 and published["state"] == "published" and published["published_at"]
    assert published["missing_kits"] == []

    # State and event committed together; the relay publishes the event to the bus.
    [event] = await world.outbox(ReleasePublished.TYPE, release_id)
    assert event["data"]["configuration"] == configuration
    assert event["data"]["configuration_name"] == "Accounting for tests"
    assert event["data"]["version"] == "3.0.41.20" and event["data"]["its_issue"] == "ITS 2026/03"
    assert event["data"]["kind"] == "configuration" and event["data"]["min_platform"] == "8.3.24.1342"

    async def relayed() -> bool:
        async with world.pool.acquire() as conn:
            return bool(
                await conn.fetchval(
                    "SELECT published_at IS NOT NULL FROM outbox WHERE envelope->'data'->>'release_id' = $1",
                    release_id,
                )
            )

    await wait_for(relayed, what="the release's event on the bus")
    await wait_for(lambda: configuration in catalogue_notifications, what="the catalogue notification")

    # Publishing again answers the same and sends nothing more.
    status, again = await world.publish_release(release_id)
    assert status == 200 and again["published_at"] == published["published_at"]
    assert len(await world.outbox(ReleasePublished.TYPE, release_id)) == 1

    # The operators' list.
    status, listed = await world.call("GET", f"/v1/releases?configuration={configuration}", world.operator())
    assert status == 200 and [(r["version"], r["state"]) for r in listed["items"]] == [("3.0.41.20", "published")]


async def test_the_operators_list_is_paged_by_cursor(world: World) -> None:
    """Keyset pagination over (configuration, version): every release once, in the list's order; `offset` is gone,
    and a cursor the list did not hand out is a 422, never a 500."""
    configuration = await world.configuration()
    versions = ["3.0.1.1", "3.0.2.1", "3.0.10.1", "3.1.0.1", "3.1.0.2"]
    for version in versions:
        status, draft = await world.declare(configuration, version, configuration_release(kits=[kit("k.cf", b"k")]))
        assert status == 201, draft
    listed: list[str] = []
    cursor = None
    for _ in range(len(versions) + 1):
        query = f"configuration={configuration}&limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page = await world.call("GET", f"/v1/releases?{query}", world.operator())
        assert status == 200 and len(page["items"]) <= 2, page
        listed += [r["version"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert listed == ["3.1.0.2", "3.1.0.1", "3.0.10.1", "3.0.2.1", "3.0.1.1"]  # newest first, numerically
    for query in ("offset=9223372036854775808", "limit=9223372036854775808", "cursor=bm90LW91cnM"):
        status, problem = await world.call("GET", f"/v1/releases?{query}", world.operator())
        assert status == 422, (query, problem)


async def test_a_forged_list_cursor_is_a_problem_not_an_error(world: World) -> None:
    """A cursor's configuration goes into SQL: one with a NUL (PostgreSQL text cannot hold it) answered 500."""
    forged = base64.urlsafe_b64encode(b"r1:Acc\x00x\x1f3.0.1").decode().rstrip("=")
    status, problem = await world.call("GET", f"/v1/releases?cursor={forged}", world.operator())
    assert status == 422, problem


async def test_a_release_or_an_article_for_a_configuration_the_catalogue_lacks_is_refused(world: World) -> None:
    """updates knows registration's catalogue from its events: a release or an article of another configuration
    would be visible to nobody (UPD-3) and is a 422 naming the field; nothing is stored."""
    unknown = f"Nowhere{uuid.uuid4().hex[:6]}"
    status, problem = await world.declare(unknown, "3.0.1.1", configuration_release(kits=[kit("k.cf", b"k")]))
    assert status == 422 and [e["field"] for e in problem["errors"]] == ["code"], problem
    article = {"configuration": unknown, "kind": "known_problem", "title": "Slow posting", "body": "Text."}
    status, problem = await world.call(
        "PUT", f"/v1/articles/slow-{uuid.uuid4().hex[:6]}", world.operator(), json=article
    )
    assert status == 422 and [e["field"] for e in problem["errors"]] == ["configuration"], problem
    status, listed = await world.call("GET", f"/v1/releases?configuration={unknown}", world.operator())
    assert status == 200 and listed["items"] == []
    known = await world.configuration()
    status, _ = await world.call(
        "PUT", f"/v1/articles/slow-{uuid.uuid4().hex[:6]}", world.operator(), json={**article, "configuration": known}
    )
    assert status == 201


async def test_published_and_withdrawn_releases_never_change(world: World) -> None:
    configuration = await world.configuration()
    data = kit_bytes("immutable", 5000)
    published = await world.released(configuration, "1.0.1.1", kits={"a.cfu": data})
    body = configuration_release(kits=[kit("a.cfu", data, "update")], whats_new="changed")

    status, problem = await world.declare(configuration, "1.0.1.1", body)
    assert status == 409 and problem["type"] == PROBLEM + "release-not-draft" and problem["state"] == "published"
    status, problem = await world.upload(published["id"], "a.cfu", data)
    assert status == 409 and problem["type"] == PROBLEM + "release-not-draft"

    status, withdrawn = await world.call(
        "POST", f"/v1/releases/{published['id']}/withdraw", world.operator(), json={"reason": "Breaks VAT returns"}
    )
    assert status == 200 and withdrawn["state"] == "withdrawn" and withdrawn["withdrawn_at"]
    [event] = await world.outbox(ReleaseWithdrawn.TYPE, published["id"])
    assert event["data"]["reason"] == "Breaks VAT returns" and event["data"]["version"] == "1.0.1.1"
    status, _ = await world.call(
        "POST", f"/v1/releases/{published['id']}/withdraw", world.operator(), json={"reason": "again"}
    )
    assert status == 200 and len(await world.outbox(ReleaseWithdrawn.TYPE, published["id"])) == 1

    status, problem = await world.publish_release(published["id"])
    assert status == 409 and problem["type"] == PROBLEM + "release-withdrawn"
    status, problem = await world.declare(configuration, "1.0.1.1", body)
    assert status == 409 and problem["state"] == "withdrawn"

    # A draft is not withdrawn (it is simply not published).
    status, draft = await world.declare(configuration, "1.0.2.1", body)
    assert status == 201
    status, problem = await world.call(
        "POST", f"/v1/releases/{draft['id']}/withdraw", world.operator(), json={"reason": "x"}
    )
    assert status == 409


# ---- kits: streamed, checked, nothing kept on refusal ------------------------------------------


async def test_a_kit_that_is_not_what_was_declared_leaves_nothing(world: World, kits_dir: Path) -> None:
    configuration = await world.configuration()
    declared = kit_bytes("declared", 100_000)
    status, draft = await world.declare(configuration, "2.0.1.1", configuration_release(kits=[kit("k.cf", declared)]))
    assert status == 201
    before = await asyncio.to_thread(files_in, kits_dir)

    # Same size, other bytes: the sha256 does not match.
    other = kit_bytes("other", 100_000)
    status, problem = await world.upload(draft["id"], "k.cf", other)
    assert status == 422 and problem["type"] == PROBLEM + "kit-mismatch"
    assert problem["received_sha256"] == sha(other)
    # Another length.
    status, problem = await world.upload(draft["id"], "k.cf", declared[:-1])
    assert status == 422 and problem["type"] == PROBLEM + "kit-mismatch"

    # Chunked (no Content-Length) and longer than declared: refused as soon as it grows past the size.
    async def longer() -> AsyncIterator[bytes]:
        yield declared
        yield b"x" * 10_000

    status, problem = await world.upload(draft["id"], "k.cf", longer())
    assert status == 422 and problem["type"] == PROBLEM + "kit-mismatch"

    assert not await stored(world, sha(declared)) and not await stored(world, sha(other))
    assert await asyncio.to_thread(files_in, kits_dir) == before  # no temp file left either
    status, listed = await world.call("GET", f"/v1/releases?configuration={configuration}", world.operator())
    assert listed["items"][0]["missing_kits"] == ["k.cf"]

    # The right bytes, chunked, are taken.
    async def right() -> AsyncIterator[bytes]:
        for i in range(0, len(declared), 30_000):
            yield declared[i : i + 30_000]

    status, _ = await world.upload(draft["id"], "k.cf", right())
    assert status == 201 and await stored(world, sha(declared))


async def test_kits_over_the_size_limit_are_refused(world: World) -> None:
    configuration = await world.configuration()
    big = {"name": "big.cf", "kind": "full", "size": MAX_KIT_BYTES + 1, "sha256": "a" * 64}
    status, problem = await world.declare(configuration, "2.1.1.1", configuration_release(kits=[big]))
    assert status == 422 and problem["errors"][0]["field"] == "kits.0.size"

    small = kit_bytes("small", 1000)
    status, draft = await world.declare(configuration, "2.1.1.1", configuration_release(kits=[kit("s.cf", small)]))
    assert status == 201
    status, problem = await world.upload(draft["id"], "s.cf", b"\0" * (MAX_KIT_BYTES + 1))
    assert status == 413 and problem["type"] == PROBLEM + "payload-too-large"
    assert not await stored(world, sha(b"\0" * (MAX_KIT_BYTES + 1)))


async def test_the_same_file_in_two_releases_is_stored_once_and_not_uploaded_twice(world: World) -> None:
    configuration = await world.configuration()
    shared = kit_bytes("shared readme", 2000)
    await world.released(configuration, "4.0.1.1", kits={"ReadMe.txt": shared})
    body = configuration_release(kits=[kit("ReadMe.txt", shared, "other")])
    status, draft = await world.declare(configuration, "4.0.2.1", body)
    assert status == 201 and draft["kits"][0]["uploaded"] is True and draft["missing_kits"] == []
    status, published = await world.publish_release(draft["id"])
    assert status == 200 and published["state"] == "published"


async def test_a_redeclared_draft_keeps_uploads_of_unchanged_kits_only(world: World) -> None:
    configuration = await world.configuration()
    a, b, b2 = kit_bytes("a", 3000), kit_bytes("b", 3000), kit_bytes("b2", 3000)
    status, draft = await world.declare(
        configuration, "5.0.1.1", configuration_release(kits=[kit("a.cf", a), kit("b.cfu", b, "update")])
    )
    await world.upload(draft["id"], "a.cf", a)
    await world.upload(draft["id"], "b.cfu", b)
    status, again = await world.declare(
        configuration, "5.0.1.1", configuration_release(kits=[kit("a.cf", a), kit("b.cfu", b2, "update")])
    )
    assert status == 200 and again["missing_kits"] == ["b.cfu"]
    assert {k["name"]: k["id"] for k in again["kits"]}["a.cf"] == {k["name"]: k["id"] for k in draft["kits"]}["a.cf"]


# ---- who may, and bad input ------------------------------------------------------------------


async def test_only_operators_change_the_catalogue(world: World) -> None:
    configuration = await world.configuration()
    customer = await world.customer()
    await world.register(customer, [configuration])
    body = configuration_release(kits=[kit("k.cf", b"k")])
    for headers in (world.member(customer), world.token(scope="partner", role="partner")):
        status, problem = await world.call(
            "PUT", f"/v1/configurations/{configuration}/releases/1.0.0.1", headers, json=body
        )
        assert status == 403 and problem["type"] == PROBLEM + "forbidden"
        status, _ = await world.call("GET", "/v1/releases", headers)
        assert status == 403
        status, _ = await world.call(
            "PUT",
            "/v1/articles/x",
            headers,
            json={"configuration": None, "kind": "administration", "title": "t", "body": "b"},
        )
        assert status == 403
    status, _ = await world.call("PUT", f"/v1/configurations/{configuration}/releases/1.0.0.1", json=body)
    assert status == 401
    status, _ = await world.call("POST", f"/v1/releases/{uuid.uuid4()}/publish", world.member(customer))
    assert status == 403
    assert await world.releases_count(configuration) == 0


GOOD_SHA = "0" * 64


@pytest.mark.parametrize(
    ("version", "change", "field"),
    [
        ("3.0.x.1", {}, "version"),
        ("03.0.1.1", {}, "version"),
        ("3", {}, "version"),
        ("3.0.1.1", {"unknown": 1}, "unknown"),
        ("3.0.1.1", {"updates_from": ["3.0.2.1"]}, "updates_from.0"),  # newer than the release
        ("3.0.1.1", {"updates_from": ["3.0.1.1"]}, "updates_from.0"),  # itself
        ("3.0.1.1", {"updates_from": ["3.0.0.1", "3.0.0.1"]}, "updates_from.1"),
        ("3.0.1.1", {"updates_from": ["3.0.0.1 "]}, "updates_from.0"),
        ("3.0.1.1", {"min_platform": "8.3.x"}, "min_platform"),
        ("3.0.1.1", {"release_date": "someday"}, "release_date"),
        ("3.0.1.1", {"its_issue": ""}, "its_issue"),
        ("3.0.1.1", {"whats_new": "x" * 20_001}, "whats_new"),
        ("3.0.1.1", {"whats_new": "nul \x00 inside"}, "whats_new"),
        ("3.0.1.1", {"major_changes": ["x" * 1001]}, "major_changes.0"),
        ("3.0.1.1", {"kits": []}, "kits"),
        (
            "3.0.1.1",
            {"kits": [{"name": "../etc/passwd", "kind": "full", "size": 1, "sha256": GOOD_SHA}]},
            "kits.0.name",
        ),
        ("3.0.1.1", {"kits": [{"name": ".hidden", "kind": "full", "size": 1, "sha256": GOOD_SHA}]}, "kits.0.name"),
        ("3.0.1.1", {"kits": [{"name": "a/b", "kind": "full", "size": 1, "sha256": GOOD_SHA}]}, "kits.0.name"),
        ("3.0.1.1", {"kits": [{"name": "k", "kind": "full", "size": -1, "sha256": GOOD_SHA}]}, "kits.0.size"),
        ("3.0.1.1", {"kits": [{"name": "k", "kind": "full", "size": 1, "sha256": "A" * 64}]}, "kits.0.sha256"),
        ("3.0.1.1", {"kits": [{"name": "k", "kind": "platform", "size": 1, "sha256": GOOD_SHA}]}, "kits.0.kind"),
        (
            "3.0.1.1",
            {"kits": [{"name": "k", "kind": "full", "size": 1, "sha256": GOOD_SHA}] * 2},
            "kits.1.name",
        ),
    ],
)
async def test_bad_configuration_releases_are_refused_with_the_field(
    world: World, version: str, change: dict[str, Any], field: str
) -> None:
    configuration = await world.configuration()
    body = {**configuration_release(kits=[kit("k.cf", b"k")]), **change}
    status, problem = await world.declare(configuration, version, body)
    assert status == 422, problem
    assert field in {e["field"] for e in problem["errors"]}, problem
    assert await world.releases_count(configuration) == 0


async def test_hostile_requests_get_problems_not_errors(world: World) -> None:
    configuration = await world.configuration()
    path = f"/v1/configurations/{configuration}/releases/3.0.1.1"
    headers = {**world.operator(), "Content-Type": "application/json"}
    for raw, expected in [
        (b"{not json", 400),
        (b"[]", 422),
        (b'{"release_date": "2026-01-01", "its_issue": "\\ud800", "kits": []}', 422),  # a lone surrogate
        (b"[" * 50_000, 400),
    ]:
        status, problem = await world.call("PUT", path, headers, data=raw)
        assert status == expected, (raw[:40], problem)
    status, _ = await world.call("PUT", path, {**world.operator(), "Content-Type": "text/plain"}, data=b"{}")
    assert status == 415
    status, _ = await world.call("PUT", "/v1/configurations/1bad/releases/3.0.1.1", headers, data=b"{}")
    assert status == 422
    # Kits: unknown releases and kits, other content types, names trying to leave the storage.
    data = b"abc"
    for release_id, name, content_type, expected in [
        (str(uuid.uuid4()), "k.cf", "application/octet-stream", 404),
        ("not-a-uuid", "k.cf", "application/octet-stream", 404),
    ]:
        status, _ = await world.call(
            "PUT",
            f"/v1/releases/{release_id}/kits/{name}/content",
            {**world.operator(), "Content-Type": content_type},
            data=data,
        )
        assert status == expected
    status, draft = await world.declare(configuration, "3.0.1.1", configuration_release(kits=[kit("k.cf", data)]))
    assert status == 201
    for name in ("..%2F..%2Fetc%2Fpasswd", "%2e%2e", "K.CF"):
        status, _ = await world.call(
            "PUT",
            f"/v1/releases/{draft['id']}/kits/{name}/content",
            {**world.operator(), "Content-Type": "application/octet-stream"},
            data=data,
        )
        assert status == 404
    status, _ = await world.call(
        "PUT",
        f"/v1/releases/{draft['id']}/kits/k.cf/content",
        {**world.operator(), "Content-Type": "text/plain"},
        data=data,
    )
    assert status == 415
    for query in ("state=gone", "limit=0", "limit=x", "version=3.0.x", "kind=a&kind=b", "extra=1"):
        status, _ = await world.call("GET", f"/v1/releases?{query}", world.operator())
        assert status in (400, 422), query
    status, _ = await world.call("POST", f"/v1/releases/{draft['id']}/withdraw", world.operator(), json={})
    assert status == 422


# ---- platform releases (UPD-2) ----------------------------------------------------------------


async def test_a_platform_release_is_published_with_kits_per_os(
    world: World, catalogue_notifications: list[str]
) -> None:
    version = f"8.3.{uuid.uuid4().int % 10**6}.1342"
    published = await world.platform_released(version, grade="mandatory")
    assert published["kind"] == "platform" and published["grade"] == "mandatory"
    assert {(k["os"], k["arch"]) for k in published["kits"]} == {("linux", "x86_64"), ("windows", "x86_64")}
    [event] = await world.outbox(ReleasePublished.TYPE, published["id"])
    assert event["data"]["kind"] == "platform" and event["data"]["grade"] == "mandatory"
    assert event["data"]["configuration"] is None
    await wait_for(lambda: "" in catalogue_notifications, what="the platform's catalogue notification")

    bad = platform_release(kits=[{"name": "p.tar.gz", "kind": "platform", "size": 1, "sha256": GOOD_SHA}])
    status, problem = await world.call("PUT", "/v1/platform/releases/8.3.99.1", world.operator(), json=bad)
    assert status == 422 and problem["errors"][0]["field"] == "kits.0"  # a platform kit names its os and arch
    twice = platform_release(
        fixed_bugs=[{"id": "1", "title": "a"}, {"id": "1", "title": "b"}],
        kits=[{"name": "r.txt", "kind": "readme", "size": 1, "sha256": GOOD_SHA}],
    )
    status, problem = await world.call("PUT", "/v1/platform/releases/8.3.99.1", world.operator(), json=twice)
    assert status == 422 and problem["errors"][0]["field"] == "fixed_bugs"


# ---- pages for subscribers (UPD-1, UPD-3, UPD-4, REG-6) -----------------------------------------


async def test_a_subscriber_reads_the_releases_of_its_configurations_only(world: World) -> None:
    mine, theirs = await world.configuration(name="Trade Management"), await world.configuration()
    customer, other = await world.customer(), await world.customer()
    await world.register(customer, [mine])
    article = await world.register(other, [theirs])
    assert article

    # 3.0.10.1 is newer than 3.0.9.1: versions order as numbers, part by part.
    await world.released(mine, "3.0.9.1")
    newest = await world.released(mine, "3.0.10.1", updates_from=["3.0.9.1"])
    status, _ = await world.declare(mine, "3.0.11.1", configuration_release(kits=[kit("d.cf", b"d")]))
    assert status == 201  # a draft: not shown

    status, listed = await world.call("GET", f"/v1/configurations/{mine}/releases", world.member(customer))
    assert status == 200 and listed["configuration_name"] == "Trade Management"
    assert [r["version"] for r in listed["items"]] == ["3.0.10.1", "3.0.9.1"]
    assert listed["items"][0]["page"] == f"/v1/configurations/{mine}/releases/3.0.10.1"
    assert "&lt;script&gt;" in listed["items"][0]["whats_new_html"]

    status, page = await world.call("GET", f"/v1/configurations/{mine}/releases/3.0.10.1", world.member(customer))
    assert status == 200
    # Every section of UPD-1, the Markdown also as safe HTML.
    assert page["version"] == "3.0.10.1" and page["release_date"] == "2026-02-10" and page["its_issue"]
    assert page["updates_from"] == ["3.0.9.1"] and page["min_platform"] == "8.3.24.1342"
    assert "<strong>VAT return</strong>" in page["whats_new_html"] and "<script>" not in page["whats_new_html"]
    assert '<a href="https://its.example/kb/1"' in page["changes_html"]
    assert '<a href="javascript' not in page["changes_html"] and "[bad](javascript:" in page["changes_html"]
    assert page["major_changes"] == ["VAT return 2026", "Faster *closing* of the month"]
    assert page["major_changes_html"][1] == "Faster <em>closing</em> of the month"
    assert "<ol>" in page["update_procedure_html"]
    [k] = page["kits"]
    assert k["download"] == f"/v1/kits/{k['id']}/download" and k["id"] == newest["kits"][0]["id"]
    assert k["sha256"] == newest["kits"][0]["sha256"] and k["size"] == 4096
    assert page["entitlement"]["allowed"] is True  # PROF, bought today: the free period (ITS-7)

    # Drafts do not exist for subscribers; unknown versions neither; a version that does not parse is 422.
    for version, expected in (("3.0.11.1", 404), ("9.9.9.9", 404), ("3.0.x", 422), ("3.00.1.1", 422)):
        status, problem = await world.call(
            "GET", f"/v1/configurations/{mine}/releases/{version}", world.member(customer)
        )
        assert status == expected, (version, problem)

    # REG-6: another subscriber's configuration is refused with an offer, list and page alike.
    for path in (f"/v1/configurations/{theirs}/releases", f"/v1/configurations/{theirs}/articles"):
        status, problem = await world.call("GET", path, world.member(customer))
        assert status == 403 and problem["type"] == PROBLEM + "configuration-not-registered"
        assert problem["offer"]["kind"] == "register-product"
        assert [p["name"] for p in problem["offer"]["products"]] == ["Product PROF " + _article_of(problem)]
    await world.released(theirs, "1.0.0.1")
    status, problem = await world.call("GET", f"/v1/configurations/{theirs}/releases/1.0.0.1", world.member(customer))
    assert status == 403
    status, problem = await world.call("GET", f"/v1/configurations/{mine}/releases", world.token())
    assert status == 403  # a token for no subscriber
    status, _ = await world.call("GET", f"/v1/configurations/{mine}/releases")
    assert status == 401


def _article_of(problem: dict[str, Any]) -> str:
    return str(problem["offer"]["products"][0]["article"])


async def test_the_page_says_when_the_kits_may_not_be_downloaded(world: World) -> None:
    configuration = await world.configuration()
    await world.released(configuration, "7.0.1.1")
    long_ago = world.clock.now().date() - timedelta(days=800)
    page_of = f"/v1/configurations/{configuration}/releases/7.0.1.1"

    # PROF bought long ago, no contract: the page is shown, the kits are not downloadable (UPD-4, ITS-7).
    lapsed = await world.customer()
    await world.register(lapsed, [configuration], edition="PROF", purchase_date=long_ago)
    status, page = await world.call("GET", page_of, world.member(lapsed))
    assert status == 200 and page["entitlement"]["allowed"] is False
    assert page["entitlement"]["reason"] == "its-contract-required"
    assert page["entitlement"]["offer"]["kind"] == "its-subscription"
    assert page["entitlement"]["offer"]["month"] == world.clock.now().strftime("%Y-%m")

    # BASIC needs no contract.
    basic = await world.customer()
    await world.register(basic, [configuration], edition="BASIC", purchase_date=long_ago)
    status, page = await world.call("GET", page_of, world.member(basic))
    assert status == 200 and page["entitlement"]["allowed"] is True

    # A user without "access to the ITS information system" (SUB-5) sees the page, cannot download.
    status, page = await world.call("GET", page_of, world.member(basic, role="user", rights=()))
    assert status == 200 and page["entitlement"]["allowed"] is False
    assert page["entitlement"]["reason"] == "its-access-right-missing"


async def test_a_withdrawn_release_is_gone_from_the_pages(world: World) -> None:
    configuration = await world.configuration()
    customer = await world.customer()
    await world.register(customer, [configuration])
    await world.released(configuration, "6.0.1.1")
    bad = await world.released(configuration, "6.0.2.1", updates_from=["6.0.1.1"])
    status, _ = await world.call(
        "POST", f"/v1/releases/{bad['id']}/withdraw", world.operator(), json={"reason": "Data loss on update"}
    )
    assert status == 200
    status, listed = await world.call("GET", f"/v1/configurations/{configuration}/releases", world.member(customer))
    assert [r["version"] for r in listed["items"]] == ["6.0.1.1"]
    status, problem = await world.call(
        "GET", f"/v1/configurations/{configuration}/releases/6.0.2.1", world.member(customer)
    )
    assert status == 410 and problem["type"] == PROBLEM + "release-withdrawn" and problem["withdrawn_at"]


async def test_platform_pages_are_for_subscribers_with_a_registered_product(world: World) -> None:
    version = f"8.3.{uuid.uuid4().int % 10**6}.1"
    await world.platform_released(version)
    holder, nobody = await world.customer(), await world.customer()
    await world.register(holder, [await world.configuration()])

    status, listed = await world.call("GET", "/v1/platform/releases", world.member(holder))
    assert status == 200 and version in [r["version"] for r in listed["items"]]
    keys = [tuple(int(p) for p in r["version"].split(".")) for r in listed["items"]]
    assert keys == sorted(keys, reverse=True)
    status, page = await world.call("GET", f"/v1/platform/releases/{version}", world.member(holder))
    assert status == 200
    # Every section of UPD-2; ReadMe.txt is plain text, never HTML.
    assert page["grade"] == "recommended" and page["its_issue"] == "ITS 2026/01"
    assert "<strong>reports</strong>" in page["differences_html"] and page["migration_notes_html"]
    assert page["fixed_bugs"] == [
        {"id": "10045", "title": "Slow report on Linux"},
        {"id": "10046", "title": "Crash on exit"},
    ]
    assert page["readme"] == "ReadMe.txt\n<b>plain text</b>" and "readme_html" not in page
    assert {(k["os"], k["arch"]) for k in page["kits"]} == {("linux", "x86_64"), ("windows", "x86_64")}
    assert page["entitlement"]["allowed"] is True

    for path in ("/v1/platform/releases", f"/v1/platform/releases/{version}", "/v1/platform/articles"):
        status, problem = await world.call("GET", path, world.member(nobody))
        assert status == 403 and problem["type"] == PROBLEM + "no-registered-product", path
    status, _ = await world.call("GET", "/v1/platform/releases/8.3.x", world.member(holder))
    assert status == 422
    status, _ = await world.call("GET", "/v1/platform/releases/1.2.3.4", world.member(holder))
    assert status == 404


# ---- articles (UPD-6) -----------------------------------------------------------------------


async def test_known_problems_and_administration_articles_announced_and_withdrawn(world: World) -> None:
    configuration = await world.configuration()
    customer = await world.customer()
    await world.register(customer, [configuration])
    await world.released(configuration, "3.0.42.5")
    slug = f"vat-rounding-{uuid.uuid4().hex[:8]}"
    article = {
        "configuration": configuration,
        "kind": "known_problem",
        "title": "VAT return **rounding**",
        "body": "Rounds down. <img src=x onerror=alert(1)> [Workaround](https://its.example/kb/2)",
        "versions": ["3.0.42.5"],
    }
    status, saved = await world.call("PUT", f"/v1/articles/{slug}", world.operator(), json=article)
    assert status == 201 and saved["versions"] == ["3.0.42.5"]
    status, saved = await world.call(
        "PUT", f"/v1/articles/{slug}", world.operator(), json={**article, "title": "VAT return rounding"}
    )
    assert status == 200
    admin = {"configuration": configuration, "kind": "administration", "title": "Backups", "body": "Back up first."}
    status, _ = await world.call("PUT", f"/v1/articles/{slug}-admin", world.operator(), json=admin)
    assert status == 201

    status, listed = await world.call("GET", f"/v1/configurations/{configuration}/articles", world.member(customer))
    assert status == 200 and [a["kind"] for a in listed["items"]] == ["known_problem", "administration"]
    problem_page = listed["items"][0]
    assert "onerror" not in problem_page["body_html"].replace("onerror=alert(1)&gt;", "")
    assert "&lt;img" in problem_page["body_html"] and '<a href="https://its.example/kb/2"' in problem_page["body_html"]
    status, only = await world.call(
        "GET", f"/v1/configurations/{configuration}/articles?kind=administration", world.member(customer)
    )
    assert [a["slug"] for a in only["items"]] == [f"{slug}-admin"]
    status, page = await world.call(
        "GET", f"/v1/configurations/{configuration}/releases/3.0.42.5", world.member(customer)
    )
    assert page["known_problems"] == [{"slug": slug, "title": "VAT return rounding"}]

    # Each change is announced in its transaction (support's knowledge base, SUP-2), the withdrawal too.
    status, _ = await world.call("DELETE", f"/v1/articles/{slug}-admin", world.operator())
    assert status == 204
    status, problem = await world.call("DELETE", f"/v1/articles/{slug}-admin", world.operator())
    assert status == 404, problem
    status, _ = await world.call("DELETE", f"/v1/articles/{slug}", world.member(customer))
    assert status == 403
    status, listed = await world.call("GET", f"/v1/configurations/{configuration}/articles", world.member(customer))
    assert [a["slug"] for a in listed["items"]] == [slug]
    async with world.pool.acquire() as conn:
        announced = await conn.fetch(
            "SELECT routing_key, envelope->'data' AS data FROM outbox WHERE envelope->'data'->>'slug' LIKE $1 "
            "ORDER BY created_at, id",
            f"{slug}%",
        )
    assert [(a["routing_key"], a["data"]["slug"]) for a in announced] == [
        ("updates.article.saved", slug),
        ("updates.article.saved", slug),
        ("updates.article.saved", f"{slug}-admin"),
        ("updates.article.withdrawn", f"{slug}-admin"),
    ]
    assert announced[1]["data"]["title"] == "VAT return rounding"

    for bad_slug, body in [
        ("Bad_Slug", article),
        ("-x", article),
        ("ok", {**article, "versions": ["3.0.x"]}),
        ("ok", {**article, "kind": "rumour"}),
        ("ok", {**article, "title": ""}),
        ("ok", {**article, "body": "x" * 200_001}),
        ("ok", {k: v for k, v in article.items() if k != "configuration"}),  # the platform must be said: null
    ]:
        status, problem = await world.call("PUT", f"/v1/articles/{bad_slug}", world.operator(), json=body)
        assert status in (413, 422), (bad_slug, problem)


# ---- itsctl releases publish ---------------------------------------------------------------------


async def test_itsctl_publishes_a_manifest_and_can_run_it_again(world: World, tmp_path: Path) -> None:
    configuration = await world.configuration()
    (tmp_path / "kits").mkdir()
    files = {
        "kits/full.cf": kit_bytes("manifest full", 200_000),
        "kits/update.cfu": kit_bytes("manifest update", 50_000),
        "kits/update2.cfu": kit_bytes("manifest update 2", 40_000),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    platform_version = f"8.3.{uuid.uuid4().int % 10**6}.7"
    manifest = {
        "releases": [
            {
                "configuration": configuration,
                "version": "3.0.40.10",
                "release_date": date(2026, 1, 10),
                "its_issue": "ITS 2026/01",
                "whats_new": "First.",
                "kits": [{"file": "kits/full.cf", "kind": "full"}, {"file": "kits/update.cfu", "kind": "update"}],
            },
            {
                "configuration": configuration,
                "version": "3.0.41.20",
                "release_date": date(2026, 2, 10),
                "its_issue": "ITS 2026/02",
                "updates_from": ["3.0.40.10"],
                "min_platform": platform_version,
                "kits": [{"file": "kits/update2.cfu", "kind": "update", "name": f"{configuration}_3_0_41_20.cfu"}],
            },
            {
                "version": platform_version,
                "grade": "recommended",
                "release_date": date(2026, 1, 5),
                "its_issue": "ITS 2026/01",
                "kits": [{"file": "kits/update.cfu", "kind": "platform", "os": "linux", "arch": "x86_64"}],
            },
        ],
        "articles": [
            {"slug": f"adm-{uuid.uuid4().hex[:8]}", "kind": "administration", "title": "Install", "body": "Do it."}
        ],
    }
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(manifest))
    token = world.operator()["Authorization"].removeprefix("Bearer ")
    api = Api(world.app.http, "updates", world.app.url, token)

    # An interrupted earlier run: the first release declared, one of its kits uploaded.
    first = manifest["releases"][0]  # type: ignore[index]
    body = configuration_release(
        kits=[kit("full.cf", files["kits/full.cf"], "full"), kit("update.cfu", files["kits/update.cfu"], "update")]
    )
    status, draft = await world.declare(configuration, first["version"], body)
    await world.upload(draft["id"], "full.cf", files["kits/full.cf"])

    summary = await publish_manifest(api, load_manifest(path))
    outcomes = {o.label: o for o in summary.releases}
    assert outcomes[f"{configuration} 3.0.40.10"].uploaded == ["update.cfu"]
    assert outcomes[f"{configuration} 3.0.40.10"].already_stored == ["full.cf"]
    assert outcomes[f"{configuration} 3.0.41.20"].uploaded == [f"{configuration}_3_0_41_20.cfu"]
    # The platform's kit is the same file as an update package: stored once, not sent again.
    assert outcomes[f"platform {platform_version}"].already_stored == ["update.cfu"]
    assert all(o.state == "published" for o in summary.releases) and summary.articles["created"] == 1

    status, listed = await world.call("GET", f"/v1/releases?configuration={configuration}", world.operator())
    assert status == 200
    assert [(r["version"], r["state"]) for r in listed["items"]] == [
        ("3.0.41.20", "published"),
        ("3.0.40.10", "published"),
    ]
    [release] = [r for r in listed["items"] if r["version"] == "3.0.41.20"]
    assert release["updates_from"] == ["3.0.40.10"] and release["kits"][0]["sha256"] == sha(files["kits/update2.cfu"])

    # Again: nothing is read or sent, nothing changes.
    for name in files:
        (tmp_path / name).unlink()  # it would fail if it tried to read them
    again = await publish_manifest(api, load_manifest(path))
    assert {o.state for o in again.releases} == {"already published"}
    assert again.articles["updated"] == 1
    assert len(await world.outbox(ReleasePublished.TYPE, release["id"])) == 1


def test_a_bad_manifest_says_where(tmp_path: Path) -> None:
    from itsctl.release_manifest import ManifestError

    path = tmp_path / "m.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "releases": [
                    {
                        "configuration": "Acc",
                        "version": 8.3,
                        "release_date": "2026-01-01",
                        "its_issue": "x",
                        "kits": [],
                    },
                    {"version": "1.0", "grade": "urgent", "release_date": "2026-01-01", "its_issue": "x", "kits": []},
                ]
            }
        )
    )
    with pytest.raises(ManifestError) as raised:
        load_manifest(path)
    text = str(raised.value)
    assert "releases[0] (Acc 8.3): version: quote the version" in text
    assert "releases[0] (Acc 8.3): kits:" in text and "releases[1] (1.0): grade:" in text
    path.write_text(json.dumps({"something": 1}))
    with pytest.raises(ManifestError):
        load_manifest(path)


async def test_concurrent_declarations_of_one_release_make_one_draft(world: World) -> None:
    configuration = await world.configuration()
    body = configuration_release(kits=[kit("k.cf", b"k")])
    answers = await asyncio.gather(*(world.declare(configuration, "9.0.0.1", body) for _ in range(8)))
    assert sorted(status for status, _ in answers) == [200] * 7 + [201]
    assert len({a["id"] for _, a in answers}) == 1
    assert await world.releases_count(configuration) == 1


# ---- the demo catalogue (`make run`) ---------------------------------------------------------------


async def test_the_demo_catalogue_publishes_branching_paths_and_loads_again_harmlessly(
    world: World, tmp_path: Path
) -> None:
    from devtools.demo.updates import demo_manifest
    from shared.settings import BaseServiceSettings

    manifest = await asyncio.to_thread(demo_manifest, BaseServiceSettings(var_dir=tmp_path))
    configuration_releases = [r for r in manifest.releases if isinstance(r, ConfigurationRelease)]
    assert {r.configuration for r in configuration_releases} == {"Accounting", "Payroll", "Trade", "SmallBusiness"}
    assert len(configuration_releases) >= 12 and any(r.prerelease for r in configuration_releases)
    assert any(len(r.updates_from) > 1 for r in configuration_releases)  # paths branch
    for code in sorted({r.configuration for r in configuration_releases}):  # registration's demo catalogue
        await world.publish(ConfigurationChanged(code=code, name=code, maintenance_category=1, vendor="1C"))
        await world.wait_for_row("SELECT 1 FROM configurations WHERE code = $1", code)
    token = world.operator()["Authorization"].removeprefix("Bearer ")
    api = Api(world.app.http, "updates", world.app.url, token)

    first = await publish_manifest(api, manifest)
    assert {o.state for o in first.releases} <= {"published", "already published"}
    again = await publish_manifest(api, await asyncio.to_thread(demo_manifest, BaseServiceSettings(var_dir=tmp_path)))
    assert {o.state for o in again.releases} == {"already published"}

    status, listed = await world.call("GET", "/v1/releases?configuration=Accounting&state=published", world.operator())
    assert status == 200
    versions = [r["version"] for r in listed["items"]]
    assert versions[:2] == ["3.1.1.3", "3.1.0.8"] and "3.0.40.10" in versions
    shortcut = next(r for r in listed["items"] if r["version"] == "3.0.42.5")
    assert shortcut["updates_from"] == ["3.0.40.10", "3.0.41.20"]
    status, platform = await world.call("GET", "/v1/releases?kind=platform&version=8.3.24.1342", world.operator())
    assert platform["items"][0]["grade"] == "mandatory"


# ---- `itsctl releases` as a command, against identity and updates as processes ---------------------


@pytest.fixture(scope="module")
async def service_processes(
    migrated: TestStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, str]]:
    """identity and updates running as in production; the environment of an operator's itsctl."""
    identity_port, updates_port = free_port(), free_port()
    identity_url = f"http://127.0.0.1:{identity_port}"
    env = migrated.env(
        ITS_PUBLIC_URL=identity_url,
        ITS_JWKS_URL=f"{identity_url}/.well-known/jwks.json",
        ITS_KITS_DIR=str(tmp_path_factory.mktemp("process-kits")),
    )
    logs = migrated.var_dir / "log"
    identity = ServiceProcess("identity", env, identity_port, logs / "itsctl-releases-identity.log")
    updates_process = ServiceProcess("updates", env, updates_port, logs / "itsctl-releases-updates.log")
    login = f"op{uuid.uuid4().hex[:10]}"
    await new_account(login, operator=True)
    try:
        await identity.start()
        await updates_process.start()
        yield {
            "ITS_IDENTITY_URL": identity.url,
            "ITS_UPDATES_URL": updates_process.url,
            "ITS_OPERATOR_LOGIN": login,
            "ITS_OPERATOR_PASSWORD": PASSWORD,
        }
    finally:
        await updates_process.stop()
        await identity.stop()


def itsctl(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"ITS_TOKEN": None, **env}, catch_exceptions=False)


async def test_itsctl_releases_publish_list_and_withdraw(
    world: World, service_processes: dict[str, str], tmp_path: Path
) -> None:
    configuration = await world.configuration()
    for name, seed in (("full.cf", "cli full"), ("update.cfu", "cli update")):
        (tmp_path / name).write_bytes(kit_bytes(seed, 150_000))
    manifest = tmp_path / "release.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "configuration": configuration,
                "version": "2.0.5.1",
                "release_date": "2026-05-05",
                "its_issue": "ITS 2026/05",
                "kits": [{"file": "full.cf", "kind": "full"}, {"file": "update.cfu", "kind": "update"}],
            }
        )
    )
    env: dict[str, str | None] = dict(service_processes)

    first = await asyncio.to_thread(itsctl, env, "releases", "publish", str(manifest))
    assert first.exit_code == 0, first.output
    assert f"{configuration} 2.0.5.1: published (2 kit(s) uploaded, 0 stored already)" in first.output
    assert "upload full.cf" in first.output  # a progress bar per file
    again = await asyncio.to_thread(itsctl, env, "releases", "publish", str(manifest))
    assert again.exit_code == 0 and f"{configuration} 2.0.5.1: already published" in again.output

    listed = await asyncio.to_thread(itsctl, env, "releases", "list", "--configuration", configuration)
    assert listed.exit_code == 0 and "2.0.5.1" in listed.output and "published" in listed.output
    assert "2/2" in listed.output

    _, listed_json = await world.call("GET", f"/v1/releases?configuration={configuration}", world.operator())
    release_id = listed_json["items"][0]["id"]
    withdrawn = await asyncio.to_thread(itsctl, env, "releases", "withdraw", release_id, "--reason", "Broken kit")
    assert withdrawn.exit_code == 0 and "withdrawn" in withdrawn.output
    republished = await asyncio.to_thread(itsctl, env, "releases", "publish", str(manifest))
    assert republished.exit_code == 1 and "withdrawn" in republished.output

    # Not an operator (identity's token has no operator scope): refused, and said so.
    someone = f"user{uuid.uuid4().hex[:10]}"
    await new_account(someone, operator=False)
    refused = await asyncio.to_thread(itsctl, {**env, "ITS_OPERATOR_LOGIN": someone}, "releases", "list")
    assert refused.exit_code == 1 and "403" in refused.output and "operator" in refused.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("releases: [{version: 8.3, kits: []}]")
    bad = await asyncio.to_thread(itsctl, env, "releases", "publish", str(broken))
    assert bad.exit_code == 2 and "quote the version" in bad.output
