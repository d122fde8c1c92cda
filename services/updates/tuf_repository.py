"""One writer's edit of updates' TUF repository, in memory and pure: the newest metadata of the roles the edit touches
(as stored), the changes asked for, and the new versions signed for them (`written`), which the caller stores in the
transaction it holds the repository's lock in.

It is python-tuf's `tuf.repository.Repository` (its `edit` context managers): `open` gives a role's newest
metadata, `close` gives it its next version and expiry, signs it with the online keys its delegator names, checks the
signatures meet the threshold, and records it. Every change ends with a new snapshot (when a targets role changed or
snapshot must be signed again) and a new timestamp (when snapshot changed or timestamp must be signed again). The
timestamp names snapshot's version, length and sha256 (a snapshot served in place of another is refused); snapshot
names each targets role's version.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Key,
    Metadata,
    MetaFile,
    Root,
    Signed,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import CanonicalJSONSerializer, JSONSerializer
from tuf.repository import AbortEdit, Repository

from services.updates import tuf_roles
from services.updates.tuf_keys import OnlineKeys
from services.updates.tuf_roles import ROOT, SNAPSHOT, TARGETS, TIMESTAMP

COMPACT = JSONSerializer(compact=True)
CANONICAL = CanonicalJSONSerializer()
S = TypeVar("S", bound=Signed)


@dataclass(frozen=True)
class Written:
    """A new version of a role's metadata, as it is to be stored and served."""

    role: str
    version: int
    body: bytes
    expires: datetime


class RootRefused(Exception):
    """A root offered for installation that is not the next link of the chain clients follow."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason  # invalid | not-next | unsigned | expired | conflict
        super().__init__(message)


def parse_root(body: bytes) -> Metadata[Root]:
    """`body` as root metadata; RootRefused when it is not."""
    try:
        offered = Metadata[Root].from_bytes(body)
    except Exception as exc:  # the library raises several kinds for a body that is not metadata
        raise RootRefused("invalid", f"not TUF root metadata: {exc}") from None
    if not isinstance(offered.signed, Root):
        raise RootRefused("invalid", f"not root metadata but {offered.signed.type}")
    return offered


class MetadataEdit(Repository):
    """An edit over `current` (the stored newest metadata of the roles it may touch, by role), signing with `keys`
    at `now` (the shared clock's)."""

    def __init__(self, current: Mapping[str, bytes], keys: OnlineKeys, now: datetime) -> None:
        self._bodies = dict(current)
        self._keys, self._now = keys, now
        self._parsed: dict[str, Metadata[Any]] = {}
        self._json: dict[str, Any] = {}  # bodies read as plain JSON, for what needs no objects of it
        self._root_changed = False  # only then may a top-level role need signing again with other keys
        self._delegated_here: set[str] = set()
        self.written: list[Written] = []
        # The targets roles signed in this edit, for snapshot (the others are as snapshot names them) ...
        self._new_infos: dict[str, MetaFile] = {}
        # ... and snapshot's version, length and hash, as timestamp names it.
        timestamp = self._signed(TIMESTAMP, Timestamp)
        self._snapshot_info = copy.copy(timestamp.snapshot_meta) if timestamp is not None else None

    # ---- what the service asks for -----------------------------------------------------------------

    def change_targets(
        self, changes: Mapping[str, Mapping[str, TargetFile | None]], *, sign_targets: bool = False
    ) -> None:
        """Add (a TargetFile) or remove (None) targets, role by role; a role not delegated yet is delegated first, to
        the delegation key (only removals for it: nothing to do). Then snapshot and timestamp. `sign_targets`: a new
        version of targets even when no role is delegated (a new root, or none yet)."""
        new_roles = [role for role, files in changes.items() if not self._delegated(role) and any(files.values())]
        if new_roles or sign_targets:
            key = self._keys.delegation_key() if new_roles else None
            with self.edit_targets() as targets:
                for role in new_roles:
                    assert key is not None
                    _delegate(targets, role, key)
                    self._delegated_here.add(role)
        for role, files in changes.items():
            if not self._delegated(role):
                continue
            with self.edit_targets(role) as targets:
                for path, file in files.items():
                    if file is None:
                        targets.targets.pop(path, None)
                    else:
                        targets.targets[path] = file
        self._snapshot_and_timestamp()

    def install_root(self, offered: Metadata[Root], backfill: Mapping[str, Mapping[str, TargetFile | None]]) -> None:
        """Install the next root (signed offline by the keys of the root before it and by its own), sign again what
        its keys changed and add `backfill`'s targets (the first root: every published kit). RootRefused."""
        root, current = offered.signed, self._signed(ROOT, Root)
        installed = current.version if current is not None else 0
        if root.version != installed + 1:
            raise RootRefused("not-next", f"the next root is version {installed + 1}, not {root.version}")
        if not root.consistent_snapshot:
            raise RootRefused("invalid", "root must say consistent_snapshot: the service serves <version>.<role>.json")
        if root.is_expired(self._now):
            raise RootRefused("expired", f"root version {root.version} expired at {root.expires:%Y-%m-%d %H:%M} UTC")
        verified = root.get_root_verification_result(current, offered.signed_bytes, offered.signatures)
        if not verified:
            what = f"its own threshold of {root.roles[ROOT].threshold}"
            if current is not None:
                what += f" and version {current.version}'s threshold of {current.roles[ROOT].threshold}"
            raise RootRefused("unsigned", f"root version {root.version} is not signed by {what}")
        self._record(ROOT, root.version, offered.to_bytes(COMPACT), root.expires)
        self._root_changed = True
        # The online roles whose keys changed are signed again, with their new keys (which the service must hold).
        self.change_targets(backfill, sign_targets=self._needs_signature(TARGETS))

    def renew(self, roles: list[str]) -> None:
        """Sign `roles` again with a later expiry (nothing else changed); snapshot and timestamp when named, or when a
        targets role changed."""
        for role in roles:
            if role not in (SNAPSHOT, TIMESTAMP):
                with self.edit_targets(role):
                    pass
        self._snapshot_and_timestamp(force_snapshot=SNAPSHOT in roles, force_timestamp=TIMESTAMP in roles)

    def delegate_key(self, role: str, key: Key) -> None:
        """Give a delegated role `key` in place of its keys (a rotation), and sign it with the new key."""
        if not self._delegated(role):
            raise ValueError(f"{role} is not delegated")
        with self.edit_targets() as targets:
            assert targets.delegations is not None and targets.delegations.roles is not None
            for keyid in list(targets.delegations.roles[role].keyids):
                targets.revoke_key(keyid, role)
            targets.add_key(key, role)
        with self.edit_targets(role):
            pass
        self._snapshot_and_timestamp()

    # ---- tuf.repository.Repository ---------------------------------------------------------------

    def open(self, role: str) -> Metadata[Any]:
        body = self._bodies.get(role)
        if body is not None:
            return Metadata.from_bytes(body)
        if role == ROOT:
            raise RootRefused("invalid", "no root is installed")
        if self._listed(role):
            raise RuntimeError(f"{role} exists but was not loaded for this edit")
        signed: Signed = {SNAPSHOT: Snapshot, TIMESTAMP: Timestamp}.get(role, Targets)(version=1)
        signed.version = 0  # close() gives it version 1
        return Metadata(signed)

    def close(self, role: str, md: Metadata[Any]) -> None:
        md.signed.version += 1
        md.signed.expires = self._now + tuf_roles.expiry(role)
        md.signatures.clear()
        delegator = self._delegator(role)
        delegation = delegator.get_delegated_role(role)
        payload = CANONICAL.serialize(md.signed)  # once, for every signature and the check (Metadata.sign: each time)
        for signer in self._keys.signers(role, delegation.keyids, delegation.threshold):
            signature = signer.sign(payload)
            md.signatures[signature.keyid] = signature
        delegator.verify_delegate(role, payload, md.signatures)  # only verified metadata is ever stored
        body = md.to_bytes(COMPACT)
        self._record(role, md.signed.version, body, md.signed.expires)
        if role == SNAPSHOT:
            self._snapshot_info = MetaFile(
                md.signed.version, length=len(body), hashes={"sha256": hashlib.sha256(body).hexdigest()}
            )
        elif role != TIMESTAMP:
            self._new_infos[f"{role}.json"] = MetaFile(md.signed.version)

    @property
    def targets_infos(self) -> dict[str, MetaFile]:
        listed = self._json_of(SNAPSHOT)
        infos = {name: MetaFile.from_dict(dict(meta)) for name, meta in (listed or {}).get("meta", {}).items()}
        return {**infos, **self._new_infos}

    @property
    def snapshot_info(self) -> MetaFile:
        if self._snapshot_info is None:
            raise RuntimeError("no snapshot yet")
        return self._snapshot_info

    # ---- inside -----------------------------------------------------------------------------------

    def _snapshot_and_timestamp(self, *, force_snapshot: bool = False, force_timestamp: bool = False) -> None:
        with self.edit_snapshot() as snapshot:
            changed = {name: meta for name, meta in self._new_infos.items() if snapshot.meta.get(name) != meta}
            for name, meta in changed.items():
                if name in snapshot.meta and meta.version < snapshot.meta[name].version:
                    raise ValueError(f"{name}: version {meta.version} after {snapshot.meta[name].version}")
            if not (changed or force_snapshot or snapshot.version == 0 or self._needs_signature(SNAPSHOT)):
                raise AbortEdit("snapshot unchanged")
            snapshot.meta.update(copy.deepcopy(changed))
        with self.edit_timestamp() as timestamp:
            info = self.snapshot_info
            if not (
                timestamp.snapshot_meta != info
                or force_timestamp
                or timestamp.version == 0
                or self._needs_signature(TIMESTAMP)
            ):
                raise AbortEdit("timestamp unchanged")
            timestamp.snapshot_meta = copy.copy(info)

    def _needs_signature(self, role: str) -> bool:
        """Whether the newest metadata of a top-level role no longer verifies against a new root (its keys changed).
        Checked only after a new root: a publish need not verify what it just signed."""
        md = self._metadata(role)
        if md is None:
            return True
        if not self._root_changed:
            return False
        try:
            self._delegator(role).verify_delegate(role, md.signed_bytes, md.signatures)
        except UnsignedMetadataError:
            return True
        return False

    def _delegator(self, role: str) -> Root | Targets:
        if role in tuf_roles.TOP_LEVEL:
            root = self._signed(ROOT, Root)
            if root is None:
                raise RootRefused("invalid", "no root is installed")
            return root
        if TARGETS in self._parsed:
            return self._parsed[TARGETS].signed  # type: ignore[no-any-return]
        # Only this role's delegation and its keys, from targets' JSON: targets delegates to every configuration, and
        # a publish signs one (building them all would cost more than the rest of the edit).
        delegations = (self._json_of(TARGETS) or {}).get("delegations") or {}
        entry = next((r for r in delegations.get("roles", []) if r.get("name") == role), None)
        if entry is None:
            raise RuntimeError(f"{role} is not delegated")
        keys = {k: Key.from_dict(k, copy.deepcopy(delegations["keys"][k])) for k in entry["keyids"]}
        return Targets(delegations=Delegations(keys=keys, roles={role: DelegatedRole.from_dict(copy.deepcopy(entry))}))

    def _delegated(self, role: str) -> bool:
        """Every delegated role is in snapshot from the edit that delegated it on (a delegation is never removed)."""
        return role in self._delegated_here or self._listed(role)

    def _listed(self, role: str) -> bool:
        name = f"{role}.json"
        return name in self._new_infos or name in ((self._json_of(SNAPSHOT) or {}).get("meta") or {})

    def _json_of(self, role: str) -> dict[str, Any] | None:
        """The `signed` part of a role's newest metadata as plain JSON (read only)."""
        if role not in self._json:
            body = self._bodies.get(role)
            if body is None:
                return None
            self._json[role] = json.loads(body)["signed"]
        return self._json[role]  # type: ignore[no-any-return]

    def _metadata(self, role: str) -> Metadata[Any] | None:
        """The newest metadata of `role`, parsed once (read only: `open` gives a copy to edit)."""
        if role not in self._parsed:
            body = self._bodies.get(role)
            if body is None:
                return None
            self._parsed[role] = Metadata.from_bytes(body)
        return self._parsed[role]

    def _signed(self, role: str, kind: type[S]) -> S | None:
        md = self._metadata(role)
        if md is None:
            return None
        assert isinstance(md.signed, kind)
        return md.signed

    def _record(self, role: str, version: int, body: bytes, expires: datetime) -> None:
        self._bodies[role] = body
        self._parsed.pop(role, None)
        self._json.pop(role, None)
        self.written.append(Written(role, version, body, expires))


def _delegate(targets: Targets, role: str, key: Key) -> None:
    """Delegate `role`'s paths (tuf_roles.delegated_paths) to `key`, threshold 1; terminating: a configuration's kits
    are signed by its role or by none."""
    if targets.delegations is None:
        targets.delegations = Delegations(keys={}, roles={})
    assert targets.delegations.roles is not None
    targets.delegations.roles[role] = DelegatedRole(role, [], 1, True, tuf_roles.delegated_paths(role))
    targets.add_key(key, role)
