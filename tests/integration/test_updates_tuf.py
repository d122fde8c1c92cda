"""updates' signed update metadata (TUF, issue 21) against the real PostgreSQL, broker and kit storage: the first root
installed signs what was published before it; publishing and withdrawing change the metadata in their transaction (a
publish rolled back changes nothing); concurrent publishes on two replicas give consecutive versions; the renewal job
signs timestamp and snapshot again before they expire, on the shared clock; `itsctl tuf` rotates keys; /tuf/ serves
the files with their caching headers and answers any other name with a 404 problem.

The metadata is dropped when the module ends, so that the other modules' updates (without keys) publish as before.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from tuf.api.metadata import Metadata, Snapshot, Targets, Timestamp
from typer.testing import CliRunner, Result

from itsctl import tuf_root
from itsctl.cli import app as cli
from itsctl.tuf_root import KeyDirectory
from services.updates.app import UpdatesSettings, create_app
from services.updates.keys import SETTINGS
from services.updates.tuf_roles import target_path
from shared.db import Pool
from tests.infra import RunningApp, TestStack, wait_for
from tests.integration.updates_fixtures import (
    MAX_KIT_BYTES,
    PROBLEM,
    World,
    configuration_release,
    keys,
    kit,
    kit_bytes,
    pool,
    publisher,
    world,
)
from tests.tokens import TestKeys

__all__ = ["keys", "pool", "publisher", "world"]  # fixtures


@pytest.fixture(scope="module")
def tuf_dir(tmp_path_factory: pytest.TempPathFactory) -> KeyDirectory:
    directory = KeyDirectory(tmp_path_factory.mktemp("tuf"))
    tuf_root.init(directory, root_keys=1, threshold=1, expires=tuf_root.now() + timedelta(days=365))
    return directory


@pytest.fixture(scope="module")
async def clean_metadata(migrated: TestStack, pool: Pool) -> AsyncIterator[None]:
    async def drop() -> None:
        async with pool.acquire() as conn:
            await conn.execute("TRUNCATE tuf_roles, tuf_metadata")
            await conn.execute("DELETE FROM deferred_jobs WHERE kind = 'tuf-renew'")

    await drop()
    yield
    await drop()


@pytest.fixture(scope="module")
async def updates(
    clean_metadata: None, keys: TestKeys, tuf_dir: KeyDirectory, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningApp]:
    """updates with the online keys of `tuf_dir` (the `world` fixture's app)."""
    settings = UpdatesSettings(
        kits_dir=tmp_path_factory.mktemp("kits"), max_kit_bytes=MAX_KIT_BYTES, tuf_keys_dir=tuf_dir.online
    )
    async with RunningApp(create_app(settings, keys=keys)) as running:
        yield running


@pytest.fixture(scope="module")
async def second_replica(updates: RunningApp, keys: TestKeys, tuf_dir: KeyDirectory) -> AsyncIterator[RunningApp]:
    settings = UpdatesSettings(kits_dir=updates.app[SETTINGS].kits_dir, tuf_keys_dir=tuf_dir.online)
    async with RunningApp(create_app(settings, keys=keys)) as running:
        yield running


async def metadata(world: World, name: str) -> Any:
    status, body = await world.call("GET", f"/tuf/{name}")
    assert status == 200, (name, body)
    return body


async def newest(world: World, role: str) -> Metadata[Any]:
    timestamp = Metadata[Timestamp].from_dict(await metadata(world, "timestamp.json"))
    if role == "timestamp":
        return timestamp
    snapshot = Metadata[Snapshot].from_dict(
        await metadata(world, f"{timestamp.signed.snapshot_meta.version}.snapshot.json")
    )
    if role == "snapshot":
        return snapshot
    return Metadata[Targets].from_dict(
        await metadata(world, f"{snapshot.signed.meta[f'{role}.json'].version}.{role}.json")
    )


async def installed_root(world: World, tuf_dir: KeyDirectory) -> None:
    status, answer = await world.call(
        "POST", "/v1/tuf/root", world.operator(), json=json.loads(tuf_dir.root_file(1).read_bytes())
    )
    assert status == 200, answer


async def draft(world: World, configuration: str, version: str) -> tuple[str, dict[str, bytes]]:
    kits = {f"{configuration}_{version}.cfu": kit_bytes(f"{configuration}{version}", 2048)}
    body = configuration_release(kits=[kit(n, d, "update") for n, d in kits.items()])
    status, declared = await world.declare(configuration, version, body)
    assert status in (200, 201), declared
    for name, data in kits.items():
        status, answer = await world.upload(declared["id"], name, data)
        assert status in (200, 201), answer
    return str(declared["id"]), kits


def itsctl(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def clock(world: World) -> Iterator[None]:
    yield
    world.clock.reset()


# ---- installing the first root ----------------------------------------------------------------------------------


async def test_before_a_root_nothing_is_served_then_the_first_root_signs_what_was_published(
    world: World, tuf_dir: KeyDirectory
) -> None:
    status, problem = await world.call("GET", "/tuf/timestamp.json")
    assert status == 404 and problem["type"] == PROBLEM + "update-metadata-not-found"
    configuration = await world.configuration()
    before = await world.released(configuration, "1.0.1")  # published with no root: nothing signed

    status, answer = await world.call(
        "POST", "/v1/tuf/root", world.operator(), json=json.loads(tuf_dir.root_file(1).read_bytes())
    )
    assert status == 200 and answer["changed"] is True, answer
    assert {r["role"] for r in answer["roles"]} >= {"root", "targets", "snapshot", "timestamp"}
    role = await newest(world, f"configuration.{configuration}")
    [kit_out] = before["kits"]
    path = target_path(configuration, "1.0.1", kit_out["name"])
    assert role.signed.targets[path].length == kit_out["size"]
    assert role.signed.targets[path].hashes == {"sha256": kit_out["sha256"]}

    again = await world.call(
        "POST", "/v1/tuf/root", world.operator(), json=json.loads(tuf_dir.root_file(1).read_bytes())
    )
    assert again[0] == 200 and again[1]["changed"] is False  # a re-run changes nothing
    for body, expected in (
        ({"signed": {"_type": "root"}, "signatures": []}, 422),
        ({"signed": {}}, 422),
    ):
        status, problem = await world.call("POST", "/v1/tuf/root", world.operator(), json=body)
        assert status == expected, problem
    future = tuf_root.read_root(tuf_dir.root_file(1))
    future.signed.version = 3
    status, problem = await world.call("POST", "/v1/tuf/root", world.operator(), json=future.to_dict())
    assert status == 409 and problem["type"] == PROBLEM + "tuf-root-not-next", problem
    status, _ = await world.call("POST", "/v1/tuf/root", json=json.loads(tuf_dir.root_file(1).read_bytes()))
    assert status == 401


# ---- publishing and withdrawing ---------------------------------------------------------------------------------


async def test_publish_and_withdraw_change_the_targets_with_the_release(world: World, tuf_dir: KeyDirectory) -> None:
    await installed_root(world, tuf_dir)
    configuration = await world.configuration()
    timestamp_before = (await newest(world, "timestamp")).signed.version
    published = await world.released(configuration, "2.0.1")
    path = target_path(configuration, "2.0.1", published["kits"][0]["name"])
    role = await newest(world, f"configuration.{configuration}")
    assert path in role.signed.targets
    assert (await newest(world, "timestamp")).signed.version == timestamp_before + 1  # delegation and kit: one edit

    status, withdrawn = await world.call(
        "POST", f"/v1/releases/{published['id']}/withdraw", world.operator(), json={"reason": "broken"}
    )
    assert status == 200, withdrawn
    assert path not in (await newest(world, f"configuration.{configuration}")).signed.targets


async def test_a_publish_rolled_back_leaves_the_metadata_as_it_was(
    world: World, tuf_dir: KeyDirectory, pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    await installed_root(world, tuf_dir)
    configuration = await world.configuration()
    release_id, _ = await draft(world, configuration, "3.0.1")
    async with pool.acquire() as conn:
        rows_before = await conn.fetchval("SELECT count(*) FROM tuf_metadata")

    async def fails(*args: Any) -> None:
        raise RuntimeError("the catalogue's notification failed")

    monkeypatch.setattr("services.updates.store.announce_catalogue", fails)  # after the metadata was signed
    status, _ = await world.publish_release(release_id)
    assert status == 500
    monkeypatch.undo()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM tuf_metadata") == rows_before
        assert await conn.fetchval("SELECT state FROM releases WHERE id = $1::uuid", release_id) == "draft"
    status, _ = await world.publish_release(release_id)
    assert status == 200
    assert (await newest(world, f"configuration.{configuration}")).signed.targets


async def test_concurrent_publishes_on_two_replicas_give_consecutive_versions(
    world: World, tuf_dir: KeyDirectory, second_replica: RunningApp, pool: Pool
) -> None:
    await installed_root(world, tuf_dir)
    configuration = await world.configuration()
    await world.released(configuration, "4.0.0")  # the role exists: each publish below is one edit of it
    drafts = [await draft(world, configuration, f"4.0.{n}") for n in range(1, 7)]
    before = {role: (await newest(world, role)).signed.version for role in ("timestamp", "snapshot")}
    role_before = (await newest(world, f"configuration.{configuration}")).signed.version

    async def publish(replica: RunningApp, release_id: str) -> int:
        async with replica.http.post(f"/v1/releases/{release_id}/publish", headers=world.operator()) as response:
            return response.status

    statuses = await asyncio.gather(
        *(publish(world.app if n % 2 else second_replica, release_id) for n, (release_id, _) in enumerate(drafts))
    )
    assert statuses == [200] * 6
    async with pool.acquire() as conn:
        for role, first in (*before.items(), (f"configuration.{configuration}", role_before)):
            versions = [
                row["version"]
                for row in await conn.fetch(
                    "SELECT version FROM tuf_metadata WHERE role = $1 AND version > $2 ORDER BY version", role, first
                )
            ]
            assert versions == list(range(first + 1, first + 7)), role
    signed = await newest(world, f"configuration.{configuration}")
    assert {p for p in signed.signed.targets if "/4.0." in p and not p.endswith("4.0.0.cfu")} == {
        target_path(configuration, f"4.0.{n}", name) for n, (_, kits) in enumerate(drafts, start=1) for name in kits
    }


async def test_publishing_is_refused_by_a_replica_without_the_keys(
    world: World, tuf_dir: KeyDirectory, keys: TestKeys, updates: RunningApp
) -> None:
    await installed_root(world, tuf_dir)
    configuration = await world.configuration()
    release_id, _ = await draft(world, configuration, "5.0.1")
    settings = UpdatesSettings(kits_dir=updates.app[SETTINGS].kits_dir)  # no ITS_TUF_KEYS_DIR
    async with (
        RunningApp(create_app(settings, keys=keys)) as keyless,
        keyless.http.post(f"/v1/releases/{release_id}/publish", headers=world.operator()) as response,
    ):
        assert response.status == 503 and response.headers["Retry-After"]
        problem = await response.json()
    assert problem["type"] == PROBLEM + "update-metadata-unsigned", problem
    status, _ = await world.publish_release(release_id)  # a replica with the keys
    assert status == 200


# ---- renewal ------------------------------------------------------------------------------------------------------


async def test_the_renewal_job_signs_timestamp_and_snapshot_again_before_they_expire(
    world: World, tuf_dir: KeyDirectory, clock: None
) -> None:
    await installed_root(world, tuf_dir)
    timestamp = (await newest(world, "timestamp")).signed
    snapshot = (await newest(world, "snapshot")).signed

    world.clock.advance(timedelta(hours=13))  # 11 hours left: less than the 12 the timestamp is renewed within

    async def renewed_timestamp() -> Timestamp | None:
        newer = (await newest(world, "timestamp")).signed
        return newer if newer.version > timestamp.version else None

    renewed = await wait_for(renewed_timestamp, timeout=20, what="the renewal job to sign timestamp again")
    assert renewed.expires - world.clock.now() > timedelta(hours=23)
    assert renewed.snapshot_meta.version == snapshot.version  # snapshot had days left

    world.clock.advance(timedelta(days=4, hours=12))  # snapshot: 2 of its 7 days left, under the 3 it is renewed within

    async def renewed_snapshot() -> Snapshot | None:
        newer = (await newest(world, "snapshot")).signed
        return newer if newer.version > snapshot.version else None

    newer = await wait_for(renewed_snapshot, timeout=20, what="the renewal job to sign snapshot again")
    assert newer.expires - world.clock.now() > timedelta(days=6)
    status, text = await world.call("GET", "/metrics")
    assert status == 200 and 'updates_metadata_expiry_seconds{role="timestamp"}' in text


# ---- rotating keys with itsctl -------------------------------------------------------------------------------------


async def test_itsctl_rotates_a_configurations_key_and_the_timestamp_key(world: World, tuf_dir: KeyDirectory) -> None:
    await installed_root(world, tuf_dir)
    configuration = await world.configuration()
    await world.released(configuration, "6.0.1")
    role = f"configuration.{configuration}"
    env: dict[str, str | None] = {
        "ITS_TOKEN": world.operator()["Authorization"].removeprefix("Bearer "),
        "ITS_UPDATES_URL": world.app.url,
    }
    rotated = await asyncio.to_thread(
        itsctl, env, "tuf", "rotate", "--role", role, "--dir", str(tuf_dir.path), "--apply"
    )
    assert rotated.exit_code == 0, rotated.output
    targets = (await newest(world, "targets")).signed
    [new_key] = targets.delegations.roles[role].keyids
    assert (tuf_dir.online / f"{role}-{new_key[:16]}.pem").is_file()
    assert (
        new_key
        in (await metadata(world, f"{(await newest(world, role)).signed.version}.{role}.json"))["signatures"][0][
            "keyid"
        ]
    )

    root_before = tuf_root.read_root(tuf_dir.roots()[-1]).signed.version
    rotated = await asyncio.to_thread(
        itsctl, env, "tuf", "rotate", "--role", "timestamp", "--dir", str(tuf_dir.path), "--apply"
    )
    assert rotated.exit_code == 0, rotated.output
    assert "installed" in rotated.output
    root = tuf_root.read_root(tuf_dir.roots()[-1]).signed
    assert root.version == root_before + 1
    timestamp = await newest(world, "timestamp")
    assert list(timestamp.signatures) == root.roles["timestamp"].keyids  # signed again, with the new key only

    status = await asyncio.to_thread(itsctl, env, "tuf", "status")
    assert status.exit_code == 0 and "timestamp" in status.output, status.output


# ---- what /tuf/ answers ----------------------------------------------------------------------------------------------


async def test_metadata_files_are_served_with_their_caching_headers(world: World, tuf_dir: KeyDirectory) -> None:
    await installed_root(world, tuf_dir)
    async with world.app.http.get("/tuf/1.root.json") as response:
        assert response.status == 200 and response.content_type == "application/json"
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        etag, body = response.headers["ETag"], await response.read()
    assert Metadata.from_bytes(body).signed.type == "root"
    async with world.app.http.get("/tuf/1.root.json", headers={"If-None-Match": etag}) as response:
        assert response.status == 304 and response.headers["ETag"] == etag
    async with world.app.http.head("/tuf/1.root.json") as response:
        assert response.status == 200 and int(response.headers["Content-Length"]) == len(body)
    async with world.app.http.get("/tuf/timestamp.json") as response:
        assert response.status == 200 and response.headers["Cache-Control"] == "public, max-age=30"

    for name in (
        "root.json",
        "snapshot.json",
        "0.root.json",
        "01.root.json",
        "1.timestamp.json",
        "1.root.json.bak",
        "1.configuration.json",
        "1.configuration.bad%20code.json",
        "9999999999.root.json",
        "..%2F1.root.json",
        "%00",
        "999999.root.json",  # well formed, not there
    ):
        async with world.app.http.get(f"/tuf/{name}") as response:
            assert response.status == 404, name
            assert response.content_type == "application/problem+json", name
            assert (await response.json())["type"] == PROBLEM + "update-metadata-not-found", name
