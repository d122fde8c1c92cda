"""updates' signed update metadata (The Update Framework, issue 21): its use cases.

Publishing and withdrawing a release change the metadata in their own transaction (`release_published`,
`release_withdrawn`): the release's kits become, or stop being, targets of its configuration's role, with a new
snapshot and timestamp; a rolled-back publish leaves the metadata as it was. Installing a root (`install_root`), a
delegated role's new key (`delegate_key`) and the renewal job (tuf_renewal.py) are writers too. Every writer first
takes the repository's one lock (tuf_store.lock), so versions follow one another whichever replica writes.

The metadata is maintained once a root is installed; before, publishing signs nothing and /tuf/ has nothing to
serve. The first root signs every kit already published (a backfill), so a catalogue that existed before is covered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from securesystemslib.signer import Key
from tuf.api.metadata import TargetFile

from rules.refusal import Refusal, Refused
from services.updates import store
from services.updates import tuf_store as tuf
from services.updates.tuf_keys import KeysMissing, OnlineKeys
from services.updates.tuf_repository import MetadataEdit, RootRefused, parse_root
from services.updates.tuf_roles import (
    DELEGATED_RENEW_BEFORE,
    ONLINE,
    ROOT,
    TOP_LEVEL,
    MetadataName,
    is_delegated_role,
    renew_before,
    role_of,
    target_path,
)
from shared.db import Connection, Pool
from shared.logging import get_logger

log = get_logger(__name__)

# A root refused, as the rules' refusal: what the operator sent is wrong (422), or not the next root (409).
_ROOT_REFUSAL_KIND: dict[str, Any] = {
    "invalid": "invalid",
    "unsigned": "invalid",
    "expired": "invalid",
    "not-next": "conflict",
    "conflict": "conflict",
}


class SigningUnavailable(Exception):
    """The metadata is maintained (a root is installed) but this process cannot sign it: no keys configured, or not
    the keys the metadata names. Publishing is refused rather than leaving kits unsigned (503)."""


@dataclass(frozen=True)
class RepositoryState:
    """What the repository holds: the newest version of each role and when it expires, and the keys this process
    holds (keyids)."""

    roles: list[tuf.RoleState]
    keyids: list[str]
    changed: bool = True  # for an install: False when this very root was installed already


# ---- in the publishing transaction ----------------------------------------------------------------------------


async def release_published(conn: Connection, keys: OnlineKeys, release: store.Release, now: datetime) -> None:
    """The release's kits, as targets of its configuration's (or the platform's) role: in the caller's transaction."""
    await _edit(conn, keys, now, {role_of(release.configuration): release_targets(release)})


async def release_withdrawn(conn: Connection, keys: OnlineKeys, release: store.Release, now: datetime) -> None:
    """The release's kits are no longer targets: in the caller's transaction."""
    await _edit(conn, keys, now, {role_of(release.configuration): dict.fromkeys(release_targets(release))})


def release_targets(release: store.Release) -> dict[str, TargetFile]:
    """Each kit of the release as a target: its path, length and sha256 (checked when it was uploaded)."""
    files = {}
    for kit in release.kits:
        path = target_path(release.configuration, release.version, kit.name)
        files[path] = TargetFile(kit.size, {"sha256": kit.sha256}, path)
    return files


async def _edit(
    conn: Connection, keys: OnlineKeys, now: datetime, changes: Mapping[str, Mapping[str, TargetFile | None]]
) -> None:
    # Locked before asking whether a root is installed: a root being installed now backfills this release once
    # this transaction commits, or this release is signed after the install commits; never neither.
    await tuf.lock(conn)
    current = await tuf.newest(conn, [*TOP_LEVEL, *changes])
    if ROOT not in current:
        return
    await _signed(conn, keys, current, now, lambda edit: edit.change_targets(changes))


Edit = Callable[[MetadataEdit], Any]


async def _signed(conn: Connection, keys: OnlineKeys, current: Mapping[str, bytes], now: datetime, edit: Edit) -> None:
    if not keys.configured:
        raise SigningUnavailable("the update metadata is maintained, but this process has no keys (ITS_TUF_KEYS_DIR)")
    repository = MetadataEdit(current, keys, now)
    try:
        edit(repository)
    except KeysMissing as exc:
        log.error("tuf.keys_missing", error=str(exc))
        raise SigningUnavailable(str(exc)) from None
    await tuf.write(conn, repository.written, now)


# ---- operators' -----------------------------------------------------------------------------------------------


async def install_root(pool: Pool, keys: OnlineKeys, body: bytes, now: datetime) -> RepositoryState:
    """Install the next root metadata (signed offline: `itsctl tuf`), signing again what its keys changed; the first
    root also makes targets, snapshot and timestamp and signs every kit published so far. The same root again is
    answered as installed (changed False). Refused: not root metadata, not signed by the thresholds, not the next
    version, expired; or the service lacks an online key the root names (deploy the keys first)."""
    try:
        offered = parse_root(body)
    except RootRefused as exc:
        raise _refused(exc) from None
    async with pool.acquire() as conn, conn.transaction():
        await tuf.lock(conn)
        current = await tuf.newest(conn, TOP_LEVEL)
        installed = await tuf.metadata_file(conn, ROOT, None)
        installed_version = parse_root(installed.body).signed.version if installed else 0
        if offered.signed.version <= installed_version:
            same = await tuf.metadata_file(conn, ROOT, offered.signed.version)
            if same is None or parse_root(same.body) != offered:
                raise _refused(RootRefused("conflict", f"root version {offered.signed.version} is installed already"))
            return RepositoryState(await tuf.roles(conn), keys.keyids, changed=False)
        backfill = await _published_targets(conn) if installed is None else {}
        try:
            await _signed(conn, keys, current, now, lambda edit: edit.install_root(offered, backfill))
        except RootRefused as exc:
            raise _refused(exc) from None
        except SigningUnavailable as exc:
            raise Refused(Refusal("tuf-keys-missing", f"{exc}: deploy the keys first", "conflict")) from None
        return RepositoryState(await tuf.roles(conn), keys.keyids)


async def delegate_key(pool: Pool, keys: OnlineKeys, role: str, key: dict[str, Any], now: datetime) -> RepositoryState:
    """A configuration's (or the platform's) role gets `key` (securesystemslib's key dict with its keyid) in place of
    its keys, and is signed with it: the service must hold the private key already (a rotation deploys it first)."""
    if not is_delegated_role(role):
        raise Refused(Refusal("tuf-role-not-delegated", f"{role} is not a delegated role", "not-found"))
    keyid = str(key.get("keyid", ""))
    try:
        offered = Key.from_dict(keyid, {k: v for k, v in key.items() if k != "keyid"})
    except (KeyError, TypeError, ValueError) as exc:
        raise Refused(Refusal("value_error", f"not a public key: {exc}", field="key")) from None
    held = keys.public_key(keyid)
    if held is None:
        message = f"this service holds no key {keyid[:12]}: deploy it first"
        raise Refused(Refusal("tuf-keys-missing", message, "conflict"))
    if held != offered:
        raise Refused(Refusal("value_error", f"key {keyid[:12]} is not the key the service holds", field="key"))
    async with pool.acquire() as conn, conn.transaction():
        await tuf.lock(conn)
        current = await tuf.newest(conn, [*TOP_LEVEL, role])
        if ROOT not in current or role not in current:
            raise Refused(Refusal("tuf-role-not-delegated", f"no metadata of {role} yet", "not-found"))
        try:
            await _signed(conn, keys, current, now, lambda edit: edit.delegate_key(role, held))
        except SigningUnavailable as exc:
            raise Refused(Refusal("tuf-keys-missing", f"{exc}: deploy the key first", "conflict")) from None
        return RepositoryState(await tuf.roles(conn), keys.keyids)


async def repository_state(pool: Pool, keys: OnlineKeys) -> RepositoryState:
    async with pool.acquire() as conn:
        return RepositoryState(await tuf.roles(conn), keys.keyids)


# ---- the renewal job ------------------------------------------------------------------------------------------


async def renew_expiring(conn: Connection, keys: OnlineKeys, now: datetime) -> list[str]:
    """Sign again, with a later expiry, every online role whose metadata expires within its renewal window
    (tuf_roles.RENEW_BEFORE): in the caller's transaction. The roles renewed."""
    await tuf.lock(conn)
    if not await tuf.installed(conn):
        return []
    before = {role: now + renew_before(role) for role in ONLINE}
    due = await tuf.expiring(conn, before, now + DELEGATED_RENEW_BEFORE)
    if due:
        current = await tuf.newest(conn, [*TOP_LEVEL, *due])
        await _signed(conn, keys, current, now, lambda edit: edit.renew(due))
    return due


# ---- what is served ---------------------------------------------------------------------------------------------


async def metadata_file(pool: Pool, name: MetadataName) -> tuf.MetadataFile | None:
    async with pool.acquire() as conn:
        return await tuf.metadata_file(conn, name.role, name.version)


async def _published_targets(conn: Connection) -> dict[str, dict[str, TargetFile | None]]:
    """Every kit of every published release, by role: the first root's backfill."""
    changes: dict[str, dict[str, TargetFile | None]] = {}
    for release in await store.every_published_release(conn):
        changes.setdefault(role_of(release.configuration), {}).update(release_targets(release))
    return changes


def _refused(exc: RootRefused) -> Refused:
    return Refused(Refusal(f"tuf-root-{exc.reason}", str(exc), _ROOT_REFUSAL_KIND[exc.reason], field="body"))
