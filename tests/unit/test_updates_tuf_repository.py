"""updates' TUF repository edits (services/updates/tuf_repository.py), pure and in memory: what they sign is what
python-tuf's own client (tuf.ngclient.Updater) accepts, fetching from a dict of the files as they would be served.
Keys and roots are made as `itsctl tuf` makes them (itsctl/tuf_root.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tuf.api.exceptions import DownloadHTTPError, UnsignedMetadataError
from tuf.api.metadata import Metadata, Root, TargetFile, Targets, Timestamp
from tuf.ngclient import Updater
from tuf.ngclient.fetcher import FetcherInterface

from itsctl import tuf_root
from itsctl.tuf_root import KeyDirectory
from services.updates.tuf_keys import KeysMissing, OnlineKeys
from services.updates.tuf_repository import MetadataEdit, RootRefused, Written, parse_root
from services.updates.tuf_roles import MetadataName, delegated_paths, role_of, target_path

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)


class Repository:
    """What the service's tables would hold: every version written, and the newest of each role."""

    def __init__(self, keys: OnlineKeys) -> None:
        self.keys = keys
        self.files: dict[str, bytes] = {}
        self.newest: dict[str, bytes] = {}

    def edit(self, now: datetime = NOW) -> MetadataEdit:
        return MetadataEdit(self.newest, self.keys, now)

    def store(self, edit: MetadataEdit) -> list[Written]:
        for w in edit.written:
            self.files[str(MetadataName(w.role, w.version))] = w.body
            self.newest[w.role] = w.body
            if w.role == "timestamp":
                self.files["timestamp.json"] = w.body
        return edit.written

    def version(self, role: str) -> int:
        return int(Metadata.from_bytes(self.newest[role]).signed.version)


class DictFetcher(FetcherInterface):
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def _fetch(self, url: str) -> Iterator[bytes]:
        name = url.rsplit("/", 1)[1]
        if name not in self.files:
            raise DownloadHTTPError(f"{name} not found", 404)
        return iter([self.files[name]])


@pytest.fixture
def keys_dir(tmp_path: Path) -> KeyDirectory:
    directory = KeyDirectory(tmp_path / "tuf")
    tuf_root.init(directory, root_keys=3, threshold=2, expires=NOW + timedelta(days=365))
    return directory


@pytest.fixture
def repository(keys_dir: KeyDirectory) -> Repository:
    return Repository(OnlineKeys(keys_dir.online))


def kit(configuration: str | None, version: str, name: str, data: bytes) -> tuple[str, TargetFile]:
    path = target_path(configuration, version, name)
    return path, TargetFile.from_data(path, data, ["sha256"])


def client(tmp_path: Path, repository: Repository, root: bytes) -> Updater:
    cache = tmp_path / "cache"
    cache.mkdir(exist_ok=True)
    return Updater(str(cache), "https://mirror.example/tuf/", fetcher=DictFetcher(repository.files), bootstrap=root)


def install(
    repository: Repository, body: bytes, backfill: dict[str, dict[str, TargetFile | None]] | None = None
) -> None:
    edit = repository.edit()
    edit.install_root(parse_root(body), backfill or {})
    repository.store(edit)


def test_paths_roles_and_served_names() -> None:
    assert target_path("Accounting", "3.0.41.20", "a.cfu") == "configurations/Accounting/3.0.41.20/a.cfu"
    assert target_path(None, "8.3.25.1000", "setup.deb") == "platform/8.3.25.1000/setup.deb"
    assert role_of("Accounting") == "configuration.Accounting" and role_of(None) == "platform"
    assert delegated_paths("configuration.Acc.2") == ["configurations/Acc.2/*/*"]
    assert MetadataName.parse("timestamp.json") == MetadataName("timestamp", None)
    assert MetadataName.parse("12.configuration.Acc.2.json") == MetadataName("configuration.Acc.2", 12)
    for bad in ("root.json", "snapshot.json", "3.timestamp.json", "0.root.json", "01.root.json", "1.other.json",
                "1.configuration..json", "1234567890.root.json", "../1.root.json", "1.root.json.gz"):  # fmt: skip
        assert MetadataName.parse(bad) is None, bad


def test_the_first_root_signs_every_published_kit_and_the_client_verifies_them(
    tmp_path: Path, keys_dir: KeyDirectory, repository: Repository
) -> None:
    root1 = keys_dir.root_file(1).read_bytes()
    path, file = kit("Accounting", "3.0.41.20", "acc.cfu", b"kit bytes")
    platform_path, platform_file = kit(None, "8.3.25.1000", "setup.deb", b"platform")
    install(repository, root1, {"configuration.Accounting": {path: file}, "platform": {platform_path: platform_file}})
    assert {n for n in repository.files} == {
        "1.root.json",
        "1.targets.json",
        "1.configuration.Accounting.json",
        "1.platform.json",
        "1.snapshot.json",
        "1.timestamp.json",
        "timestamp.json",
    }
    updater = client(tmp_path, repository, root1)
    found = updater.get_targetinfo(path)
    assert found is not None and found.length == len(b"kit bytes")
    found.verify_length_and_hashes(b"kit bytes")
    assert updater.get_targetinfo(platform_path) == platform_file
    assert updater.get_targetinfo(target_path("Other", "1.0", "x")) is None


def test_publishing_and_withdrawing_sign_new_versions_of_the_role_snapshot_and_timestamp(
    tmp_path: Path, keys_dir: KeyDirectory, repository: Repository
) -> None:
    root1 = keys_dir.root_file(1).read_bytes()
    install(repository, root1)
    path, file = kit("Accounting", "3.0.41.20", "acc.cfu", b"kit")
    edit = repository.edit()
    edit.change_targets({"configuration.Accounting": {path: file}})
    assert [(w.role, w.version) for w in repository.store(edit)] == [
        ("targets", 2),  # the new delegation
        ("configuration.Accounting", 1),
        ("snapshot", 2),
        ("timestamp", 2),
    ]
    edit = repository.edit()
    edit.change_targets({"configuration.Accounting": {path: None}})
    assert [(w.role, w.version) for w in repository.store(edit)] == [
        ("configuration.Accounting", 2),
        ("snapshot", 3),
        ("timestamp", 3),
    ]
    assert client(tmp_path, repository, root1).get_targetinfo(path) is None
    timestamp = Metadata[Timestamp].from_bytes(repository.newest["timestamp"]).signed
    assert timestamp.snapshot_meta.version == 3 and timestamp.snapshot_meta.hashes  # mix-and-match: its hash too
    assert timestamp.expires == NOW + timedelta(days=1)


def test_a_new_root_must_be_signed_by_the_old_and_the_new_thresholds(keys_dir: KeyDirectory) -> None:
    repository = Repository(OnlineKeys(keys_dir.online))
    install(repository, keys_dir.root_file(1).read_bytes())
    current = keys_dir.newest_root()
    md = tuf_root.next_root(current, NOW + timedelta(days=365))
    tuf_root.rotate_root_keys(keys_dir, md, [])
    new_keys = [s for k, s in tuf_root.keys_in(keys_dir.root_keys).items() if k in md.signed.roles["root"].keyids]
    old_keys = [s for k, s in tuf_root.keys_in(keys_dir.root_keys).items() if k in current.signed.roles["root"].keyids]
    tuf_root.sign_root(md, new_keys, current.signed)  # only the new keys: clients of version 1 could not follow
    with pytest.raises(RootRefused, match="not signed by"):
        install(repository, md.to_bytes())
    tuf_root.sign_root(md, old_keys[:1], current.signed)  # one of version 1's two needed
    with pytest.raises(RootRefused, match="not signed by"):
        install(repository, md.to_bytes())
    tuf_root.sign_root(md, old_keys[1:2], current.signed)
    assert tuf_root.verdict(md, current.signed).complete
    install(repository, md.to_bytes())
    assert repository.version("root") == 2
    assert repository.version("timestamp") == 1  # the online keys did not change: nothing signed again
    with pytest.raises(RootRefused, match="the next root is version 3"):
        install(repository, md.to_bytes())


def test_rotating_timestamp_in_root_signs_it_again_with_the_new_key(tmp_path: Path, keys_dir: KeyDirectory) -> None:
    repository = Repository(OnlineKeys(keys_dir.online))
    root1 = keys_dir.root_file(1).read_bytes()
    install(repository, root1)
    current = keys_dir.newest_root()
    md = tuf_root.next_root(current, NOW + timedelta(days=365))
    new = tuf_root.rotate_online_key(keys_dir, md, "timestamp")
    tuf_root.sign_root(md, tuf_root.keys_in(keys_dir.root_keys).values(), current.signed)
    install(repository, md.to_bytes())
    timestamp = Metadata[Timestamp].from_bytes(repository.newest["timestamp"])
    assert repository.version("timestamp") == 2 and list(timestamp.signatures) == [new.public_key.keyid]
    assert client(tmp_path, repository, root1).get_targetinfo("platform/1.0/x") is None  # follows 1 → 2, verifies


def test_a_key_the_service_does_not_hold_is_refused_before_anything_is_signed(keys_dir: KeyDirectory) -> None:
    repository = Repository(OnlineKeys(keys_dir.online))
    install(repository, keys_dir.root_file(1).read_bytes())
    current = keys_dir.newest_root()
    md = tuf_root.next_root(current, NOW + timedelta(days=365))
    new = tuf_root.rotate_online_key(keys_dir, md, "snapshot")
    (keys_dir.online / f"snapshot-{new.public_key.keyid[:16]}.pem").unlink()  # not deployed
    tuf_root.sign_root(md, tuf_root.keys_in(keys_dir.root_keys).values(), current.signed)
    edit = repository.edit()
    with pytest.raises(KeysMissing, match="snapshot"):
        edit.install_root(parse_root(md.to_bytes()), {})


def test_renewal_and_a_delegated_roles_new_key(tmp_path: Path, keys_dir: KeyDirectory, repository: Repository) -> None:
    root1 = keys_dir.root_file(1).read_bytes()
    path, file = kit("Accounting", "1.0", "a", b"a")
    install(repository, root1, {"configuration.Accounting": {path: file}})
    later = NOW + timedelta(hours=13)
    edit = repository.edit(later)
    edit.renew(["timestamp"])
    [written] = repository.store(edit)
    assert (written.role, written.version, written.expires) == ("timestamp", 2, later + timedelta(days=1))

    new = tuf_root.new_key(keys_dir.online, "configuration.Accounting")
    keys = OnlineKeys(keys_dir.online)  # as the service reads the directory again
    repository.keys = keys
    edit = repository.edit()
    edit.delegate_key("configuration.Accounting", new.public_key)
    assert [(w.role, w.version) for w in repository.store(edit)] == [
        ("targets", 2),
        ("configuration.Accounting", 2),
        ("snapshot", 2),
        ("timestamp", 3),
    ]
    targets = Metadata[Targets].from_bytes(repository.newest["targets"]).signed
    assert targets.delegations is not None and targets.delegations.roles is not None
    assert targets.delegations.roles["configuration.Accounting"].keyids == [new.public_key.keyid]
    assert client(tmp_path, repository, root1).get_targetinfo(path) == file


def test_metadata_signed_by_another_key_is_refused_by_the_client(tmp_path: Path, keys_dir: KeyDirectory) -> None:
    repository = Repository(OnlineKeys(keys_dir.online))
    root1 = keys_dir.root_file(1).read_bytes()
    install(repository, root1)
    forged = Metadata[Timestamp].from_bytes(repository.files["timestamp.json"])
    forged.signatures.clear()
    forged.sign(tuf_root.new_key(tmp_path, "stranger"))
    repository.files["timestamp.json"] = forged.to_bytes()
    with pytest.raises(UnsignedMetadataError):
        client(tmp_path, repository, root1).refresh()
    assert isinstance(Metadata.from_bytes(root1).signed, Root)
