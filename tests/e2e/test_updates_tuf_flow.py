"""Signed update metadata end to end (TUF, issue 21): the real services as processes, the keys made and the root
installed with `itsctl tuf` as an operator does, and a client program's `its_client.trust.TrustedMetadata` (python-tuf's
ngclient) verifying what it downloaded — through the gateway with its self-signed certificate, or through a
"compromised mirror": a small server here that passes requests on to updates and substitutes what an attacker would.

Each attack is refused, with its reason: a kit altered in storage (hash, length), metadata signed by a wrong key or by
too few root keys, expired metadata (a freeze), an older timestamp or snapshot than one seen (a rollback), files that
do not belong together (mix-and-match); and a client that only ever had the first root follows a root rotation and a
configuration's new key.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from its_client.trust import KitRefused, MetadataRefused, TrustedMetadata
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Root, Snapshot, Timestamp

from devtools.dev_cert import ensure_dev_cert
from devtools.gateway import Site, running
from itsctl import tuf_root
from tests.e2e.contracts_flows import contracts_db, flow, registration_db
from tests.e2e.flows import PASSWORD, itsctl, new_operator
from tests.e2e.test_updates_flow import Updates, owner_with, updates
from tests.infra import RunningApp, ServiceProcess, TestStack, free_port

__all__ = ["contracts_db", "flow", "registration_db", "updates"]  # fixtures


# ---- the repository, the gateway and the mirror ------------------------------------------------------------------


@dataclass
class Repository:
    """The key directory (tests/e2e/conftest.py made it with `itsctl tuf init`) and updates serving its metadata."""

    keys: tuf_root.KeyDirectory
    updates: ServiceProcess
    identity: ServiceProcess
    stack: TestStack
    operator_login: str

    @property
    def shipped_root(self) -> bytes:
        """The root a client program ships with: the first, however many came after it."""
        return self.keys.root_file(1).read_bytes()

    async def operator(self) -> str:
        """A fresh operator's token (access tokens are short, and tests move the clock)."""
        form = {"grant_type": "password", "username": self.operator_login, "password": PASSWORD}
        async with aiohttp.ClientSession() as http, http.post(f"{self.identity.url}/oauth/token", data=form) as r:
            assert r.status == 200, await r.text()
            return str((await r.json())["access_token"])

    async def itsctl(self, *args: str) -> str:
        return await asyncio.to_thread(
            itsctl, self.stack, *args, token=await self.operator(), updates_url=self.updates.url
        )

    async def file(self, name: str) -> bytes:
        async with aiohttp.ClientSession() as http, http.get(f"{self.updates.url}/tuf/{name}") as response:
            assert response.status == 200, (name, await response.text())
            return await response.read()

    async def timestamp(self) -> Metadata[Timestamp]:
        return Metadata[Timestamp].from_bytes(await self.file("timestamp.json"))

    def online_key(self, role: str) -> CryptoSigner:
        """An online key, as an attacker who took it from the service would hold it."""
        [keyid] = self.keys.newest_root().signed.roles[role].keyids
        return tuf_root.keys_in(self.keys.online)[keyid]


@pytest.fixture(scope="module")
async def repository(migrated: TestStack, tuf_keys: Path, services: dict[str, ServiceProcess]) -> Repository:
    """Every root of the key directory installed into updates, in order (`itsctl tuf install-root`)."""
    keys = tuf_root.KeyDirectory(tuf_keys)
    repository = Repository(keys, services["updates"], services["identity"], migrated, await new_operator("Tanya"))
    await repository.itsctl("tuf", "install-root", *map(str, keys.roots()))
    return repository


@dataclass(frozen=True)
class Gateway:
    url: str
    ca: Path


@pytest.fixture(scope="module")
async def gateway(
    services: dict[str, ServiceProcess], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Gateway]:
    """deploy/nginx/gateway.conf (its /tuf/ cache included) in front of updates, with a self-signed certificate."""
    directory = tmp_path_factory.mktemp("tuf-gateway")
    cert, key = ensure_dev_cert(directory / "tls")
    (directory / "kits").mkdir()
    upstreams = {"updates": f"127.0.0.1:{services['updates'].port}"}
    site = Site(free_port(), free_port(), cert, key, directory / "kits", directory / "log", upstreams)
    async with running(directory / "nginx", site) as url:
        yield Gateway(url, cert)


@dataclass
class Mirror:
    """A mirror (or a CDN) an attacker controls: every request passed on to updates, but for the names given a file
    of the attacker's choosing."""

    upstream: str
    url: str = ""
    substitute: dict[str, bytes] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name in self.substitute:
            return web.Response(body=self.substitute[name], content_type="application/json")
        async with aiohttp.ClientSession() as http, http.get(f"{self.upstream}/tuf/{name}") as response:
            return web.Response(status=response.status, body=await response.read(), content_type=response.content_type)


@pytest.fixture
async def mirror(repository: Repository) -> AsyncIterator[Mirror]:
    mirror = Mirror(repository.updates.url)
    app = web.Application()
    app.router.add_get("/tuf/{name}", mirror.handle)
    async with RunningApp(app) as served:
        mirror.url = f"{served.url}/tuf/"
        yield mirror


async def in_thread(call: Any, *args: Any) -> Any:
    """ngclient is synchronous (urllib3): it runs in a thread, as a client program runs it (the mirror answers on
    this loop)."""
    return await asyncio.to_thread(call, *args)


async def refused(call: Any, *args: Any) -> MetadataRefused:
    with pytest.raises(MetadataRefused) as caught:
        await in_thread(call, *args)
    return caught.value


async def published(updates: Updates, version: str = "3.0.1.1") -> tuple[str, str, bytes]:
    """A new configuration with a release published: its code, one kit's target path and bytes."""
    operator = await updates.flow.portal.operator()
    configuration = await updates.flow.portal.configuration(operator)
    kits = await updates.release(operator, configuration, version, [])
    name, data = next(iter(kits.items()))
    return configuration, f"configurations/{configuration}/{version}/{name}", data


def kit_file(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def signed_by(md: Metadata[Any], *signers: CryptoSigner) -> bytes:
    md.signatures.clear()
    for signer in signers:
        md.sign(signer, append=True)
    return md.to_bytes()


# ---- a normal verify, and kits altered in storage -----------------------------------------------------------------


async def test_a_client_verifies_the_kits_of_its_update_plan_through_the_gateway_and_refuses_altered_ones(
    updates: Updates, repository: Repository, gateway: Gateway, tmp_path: Path
) -> None:
    operator = await updates.flow.portal.operator()
    owner, configuration, _ = await owner_with(updates, operator, edition="CORP")
    await updates.release(operator, configuration, "3.0.40.10", [])
    await updates.release(operator, configuration, "3.0.41.20", ["3.0.40.10"])
    await updates.visible(owner, configuration)
    token = await updates.flow.portal.login(owner.login)
    plan = await updates.plan(token, configuration=configuration, version="3.0.40.10", platform_version="8.3.24.1342")
    assert plan.status == 200, plan.body
    [step] = plan.body["steps"]
    trusted = TrustedMetadata(f"{gateway.url}/tuf/", tmp_path / "cache", repository.shipped_root, ca_file=gateway.ca)
    await in_thread(trusted.refresh)

    files = {}
    async with aiohttp.ClientSession() as http:
        for kit in step["kits"]:
            async with http.get(kit["url"]) as response:  # the signed link of the plan
                assert response.status == 200
                files[kit["name"]] = kit_file(tmp_path, kit["name"], await response.read())
    # The client computes each target path from its plan: the step's configuration and version, the kit's name.
    targets = {name: f"configurations/{configuration}/{step['version']}/{name}" for name in files}
    for name, file in files.items():
        await in_thread(trusted.verify, targets[name], file)

    # A later run of the program: the trusted metadata is in its cache, no root given.
    name, file = next(iter(files.items()))
    later = TrustedMetadata(f"{gateway.url}/tuf/", tmp_path / "cache", None, ca_file=gateway.ca)
    await in_thread(later.verify, targets[name], file)

    # (1) The kit altered in storage: the same signed link now sends other bytes, of the same length or not.
    kit = next(k for k in step["kits"] if k["name"] == name)
    stored = repository.stack.var_dir / "kits" / kit["sha256"][:2] / kit["sha256"][2:4] / kit["sha256"]
    original = stored.read_bytes()
    try:
        for altered, reason in ((bytes([original[0] ^ 1]) + original[1:], "hash"), (original + b"\0", "length")):
            stored.write_bytes(altered)
            async with aiohttp.ClientSession() as http, http.get(kit["url"]) as response:
                fetched = kit_file(tmp_path, f"fetched-{reason}", await response.read())
            with pytest.raises(KitRefused) as caught:
                await in_thread(trusted.verify, targets[name], fetched)
            assert caught.value.reason == reason, caught.value
    finally:
        stored.write_bytes(original)
    with pytest.raises(KitRefused) as unknown:
        await in_thread(trusted.verify, f"configurations/{configuration}/9.9.9/{name}", file)
    assert unknown.value.reason == "unknown"

    # The gateway keeps what updates says may be kept: a versioned file comes from its cache the second time.
    statuses = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as http:
        for _ in range(2):
            async with http.get(f"{gateway.url}/tuf/1.root.json") as response:
                assert response.status == 200
                statuses.append(response.headers["X-Cache-Status"])
    assert statuses[-1] == "HIT"


async def test_no_metadata_is_trusted_on_first_sight(repository: Repository, tmp_path: Path) -> None:
    from its_client.trust import NoTrustedRoot

    with pytest.raises(NoTrustedRoot):
        TrustedMetadata(f"{repository.updates.url}/tuf/", tmp_path / "empty", None)


# ---- (2) a wrong key, too few keys ----------------------------------------------------------------------------------


async def test_metadata_signed_by_a_wrong_key_or_too_few_root_keys_is_refused(
    updates: Updates, repository: Repository, mirror: Mirror, tmp_path: Path
) -> None:
    _, target, data = await published(updates)
    stranger = tuf_root.new_key(tmp_path, "stranger")

    # timestamp.json signed by a key root does not name for it
    mirror.substitute = {"timestamp.json": signed_by(await repository.timestamp(), stranger)}
    trusted = TrustedMetadata(mirror.url, tmp_path / "a", repository.shipped_root)
    assert (await refused(trusted.refresh)).reason == "signature"

    # a timestamp altered after it was signed (a later expiry, to outlive a freeze), its signature kept
    timestamp = await repository.timestamp()
    signatures = dict(timestamp.signatures)
    timestamp.signed.expires += timedelta(days=30)
    timestamp.signatures.update(signatures)
    mirror.substitute = {"timestamp.json": timestamp.to_bytes()}
    assert (
        await refused(TrustedMetadata(mirror.url, tmp_path / "b", repository.shipped_root).refresh)
    ).reason == "signature"

    # the next root, signed by one of the two root keys needed (threshold 2), handing root to the attacker's key
    current = repository.keys.newest_root()
    forged = tuf_root.next_root(current, tuf_root.now() + timedelta(days=365))
    forged.signed.roles["root"].threshold = 1
    for keyid in list(forged.signed.roles["root"].keyids):
        forged.signed.revoke_key(keyid, "root")
    forged.signed.add_key(stranger.public_key, "root")
    one_old_key = next(
        s for k, s in tuf_root.keys_in(repository.keys.root_keys).items() if k in current.signed.roles["root"].keyids
    )
    mirror.substitute = {f"{forged.signed.version}.root.json": signed_by(forged, one_old_key, stranger)}
    refusal = await refused(TrustedMetadata(mirror.url, tmp_path / "c", repository.shipped_root).refresh)
    assert refusal.reason == "signature" and "root" in str(refusal)

    mirror.substitute = {}
    honest = TrustedMetadata(mirror.url, tmp_path / "d", repository.shipped_root)
    await in_thread(honest.verify, target, kit_file(tmp_path, "kit", data))


# ---- (3) a freeze: expired metadata --------------------------------------------------------------------------------


async def test_expired_metadata_is_refused_and_so_is_an_old_timestamp_replayed(
    updates: Updates, repository: Repository, mirror: Mirror, tmp_path: Path
) -> None:
    configuration, target, data = await published(updates)
    operator = await updates.flow.portal.operator()
    async with updates.flow.clock_at(datetime.now(UTC) - timedelta(days=2)):
        # Signed on a clock two days behind: the timestamp expired a day ago.
        await updates.release(await updates.flow.portal.operator(), configuration, "3.0.1.2", ["3.0.1.1"])
        expired = await repository.file("timestamp.json")
    assert Metadata[Timestamp].from_bytes(expired).signed.is_expired()
    assert (
        await refused(TrustedMetadata(mirror.url, tmp_path / "frozen", repository.shipped_root).refresh)
    ).reason == "expired"

    # The repository signs on (a release published now): fresh again.
    await updates.release(operator, configuration, "3.0.1.3", ["3.0.1.2"])
    trusted = TrustedMetadata(mirror.url, tmp_path / "fresh", repository.shipped_root)
    await in_thread(trusted.verify, target, kit_file(tmp_path, "kit", data))

    # A mirror replaying the old timestamp: expired to a new client, and older than what a client has seen.
    mirror.substitute = {"timestamp.json": expired}
    assert (
        await refused(TrustedMetadata(mirror.url, tmp_path / "new", repository.shipped_root).refresh)
    ).reason == "expired"
    again = TrustedMetadata(mirror.url, tmp_path / "fresh", repository.shipped_root)
    assert (await refused(again.refresh)).reason == "rollback"


# ---- (4) a rollback, (5) mix-and-match -----------------------------------------------------------------------------


async def test_a_timestamp_or_snapshot_older_than_one_seen_is_refused(
    updates: Updates, repository: Repository, mirror: Mirror, tmp_path: Path
) -> None:
    configuration, target, data = await published(updates)
    old_timestamp = await repository.file("timestamp.json")
    old = Metadata[Timestamp].from_bytes(old_timestamp).signed.snapshot_meta
    await updates.release(await updates.flow.portal.operator(), configuration, "3.0.1.2", ["3.0.1.1"])
    trusted = TrustedMetadata(mirror.url, tmp_path / "cache", repository.shipped_root)
    await in_thread(trusted.verify, target, kit_file(tmp_path, "kit", data))  # has seen the newer

    mirror.substitute = {"timestamp.json": old_timestamp}
    assert (await refused(trusted.refresh)).reason == "rollback"

    # An attacker holding the timestamp key signs a newer timestamp that names the older snapshot: still refused.
    forged = await repository.timestamp()
    forged.signed.version += 100
    forged.signed.snapshot_meta = old
    mirror.substitute = {"timestamp.json": signed_by(forged, repository.online_key("timestamp"))}
    assert (await refused(trusted.refresh)).reason == "rollback"


async def test_files_that_do_not_belong_together_are_refused(
    updates: Updates, repository: Repository, mirror: Mirror, tmp_path: Path
) -> None:
    configuration, target, data = await published(updates)
    await updates.release(await updates.flow.portal.operator(), configuration, "3.0.1.2", ["3.0.1.1"])
    timestamp = await repository.timestamp()
    current = timestamp.signed.snapshot_meta.version
    older_snapshot = await repository.file(f"{current - 1}.snapshot.json")

    # The snapshot timestamp names (by version, length and sha256), served with another snapshot's bytes.
    mirror.substitute = {f"{current}.snapshot.json": older_snapshot}
    assert (
        await refused(TrustedMetadata(mirror.url, tmp_path / "a", repository.shipped_root).refresh)
    ).reason == "mix-and-match"

    # With the timestamp key, a timestamp naming only the version: the snapshot served is still not that version.
    forged = await repository.timestamp()
    forged.signed.snapshot_meta.length, forged.signed.snapshot_meta.hashes = None, None
    mirror.substitute = {
        "timestamp.json": signed_by(forged, repository.online_key("timestamp")),
        f"{current}.snapshot.json": older_snapshot,
    }
    assert (
        await refused(TrustedMetadata(mirror.url, tmp_path / "b", repository.shipped_root).refresh)
    ).reason == "mix-and-match"

    # The configuration's role, served in the version before the one snapshot names.
    snapshot = Metadata[Snapshot].from_bytes(await repository.file(f"{current}.snapshot.json")).signed
    role = f"configuration.{configuration}"
    version = snapshot.meta[f"{role}.json"].version
    mirror.substitute = {f"{version}.{role}.json": await repository.file(f"{version - 1}.{role}.json")}
    trusted = TrustedMetadata(mirror.url, tmp_path / "c", repository.shipped_root)
    refusal = await refused(trusted.verify, target, kit_file(tmp_path, "kit", data))
    assert refusal.reason == "mix-and-match", refusal


# ---- (6) rotations: a client that only had the first root follows --------------------------------------------------


async def test_after_a_root_rotation_and_a_configurations_new_key_an_old_client_still_verifies(
    updates: Updates, repository: Repository, tmp_path: Path
) -> None:
    configuration, target, data = await published(updates)
    url = f"{repository.updates.url}/tuf/"
    kit = kit_file(tmp_path, "kit", data)
    old_client = TrustedMetadata(url, tmp_path / "old", repository.shipped_root)
    await in_thread(old_client.verify, target, kit)
    root_before = repository.keys.newest_root().signed

    rotated = await repository.itsctl("tuf", "rotate", "--role", "root", "--dir", str(repository.keys.path))
    assert "retired" in rotated, rotated
    new_root = repository.keys.newest_root()
    assert new_root.signed.version == root_before.version + 1
    assert not set(new_root.signed.roles["root"].keyids) & set(root_before.roles["root"].keyids)
    await repository.itsctl("tuf", "install-root", str(repository.keys.root_file(new_root.signed.version)))

    role = f"configuration.{configuration}"
    await repository.itsctl("tuf", "rotate", "--role", role, "--dir", str(repository.keys.path), "--apply")

    # The client of before, with only its cache: follows root N → N+1 and verifies with the configuration's new key.
    again = TrustedMetadata(url, tmp_path / "old", None)
    await in_thread(again.verify, target, kit)
    # A new install of the program, which ships the first root only.
    fresh = TrustedMetadata(url, tmp_path / "fresh", repository.shipped_root)
    await in_thread(fresh.verify, target, kit)
    cached_root = Metadata[Root].from_bytes((tmp_path / "old" / "root.json").read_bytes()).signed
    assert cached_root == new_root.signed  # the client trusts the new root now
