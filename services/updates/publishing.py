"""Publishing (UPD-1, UPD-2): a draft whose kits are all uploaded goes live, and a published release may be
withdrawn. Either writes the state, the event (through the outbox), the signed update metadata of its kits
(tuf_metadata: once a TUF root is installed) and the notification that drops every replica's cached update graph, in
one transaction. Doing it again changes nothing and emits nothing."""

from __future__ import annotations

import uuid
from datetime import datetime

from rules.refusal import Refusal, Refused
from services.updates import events, store, tuf_metadata
from services.updates.tuf_keys import OnlineKeys
from services.updates.versions import Version
from shared.db import Connection, Pool
from shared.outbox import Outbox
from shared.storage import ContentStorage

NOT_FOUND = Refusal("release-not-found", "", "not-found")


async def publish_release(
    pool: Pool, outbox: Outbox, storage: ContentStorage, keys: OnlineKeys, release_id: uuid.UUID, now: datetime
) -> store.Release:
    """Publish the draft; refused while a kit is missing (also one lost from storage) or its versions do not
    parse, or when it was withdrawn. A published release is answered as it is."""
    async with pool.acquire() as conn:
        draft = await store.release(conn, release_id)
    if draft is None:
        raise Refused(NOT_FOUND)
    # Storage is checked outside the transaction (it may be S3); uploaded_at is then re-checked under the lock.
    lost = {k.name for k in draft.kits if k.uploaded_at is not None and not await storage.has(k.sha256)}

    async with pool.acquire() as conn, conn.transaction():
        release = await store.release(conn, release_id, lock=True)
        assert release is not None  # releases are never deleted
        if release.state == "published":
            return release  # a repeated request (a lost answer, a re-run): same answer, no event
        if release.state == "withdrawn":
            raise Refused(
                Refusal(
                    "release-withdrawn",
                    "a withdrawn release is not published again: publish a new version",
                    "conflict",
                )
            )
        missing = sorted({k.name for k in release.kits if k.uploaded_at is None} | lost)
        if missing:
            raise Refused(
                Refusal(
                    "kits-missing",
                    f"upload these kits first: {', '.join(missing)}",
                    "conflict",
                    details={"missing": missing},
                )
            )
        _check_versions(release)
        await store.publish(conn, release_id, now)
        await tuf_metadata.release_published(conn, keys, release, now)
        await outbox.add(conn, events.release_published(release, await _configuration_name(conn, release)))
        await store.announce_catalogue(conn, release.configuration)
        published = await store.release(conn, release_id)
    assert published is not None
    return published


async def withdraw_release(
    pool: Pool, outbox: Outbox, keys: OnlineKeys, release_id: uuid.UUID, reason: str, now: datetime
) -> store.Release:
    """Withdraw a published release: subscribers no longer see it, update plans avoid it. A draft is refused
    (it is simply not published); a withdrawn release is answered as it is."""
    async with pool.acquire() as conn, conn.transaction():
        release = await store.release(conn, release_id, lock=True)
        if release is None:
            raise Refused(NOT_FOUND)
        if release.state == "withdrawn":
            return release  # repeated: no second event
        if release.state == "draft":
            raise Refused(
                Refusal(
                    "release-not-draft",
                    "only a published release is withdrawn; a draft is simply not published",
                    "conflict",
                    details={"state": "draft"},
                )
            )
        await store.withdraw(conn, release_id, now, reason)
        await tuf_metadata.release_withdrawn(conn, keys, release, now)
        await outbox.add(conn, events.release_withdrawn(release, await _configuration_name(conn, release), reason))
        await store.announce_catalogue(conn, release.configuration)
        withdrawn = await store.release(conn, release_id)
    assert withdrawn is not None
    return withdrawn


async def _configuration_name(conn: Connection, release: store.Release) -> str | None:
    return await store.configuration_name(conn, release.configuration) if release.configuration else None


def _check_versions(release: store.Release) -> None:
    """What the update graph parses must parse (validated on PUT; checked again before it goes live)."""
    checked = [("version", release.version)] + [(f"updates_from.{i}", v) for i, v in enumerate(release.updates_from)]
    if release.min_platform is not None:
        checked.append(("min_platform", release.min_platform))
    refusals = []
    for where, text in checked:
        try:
            Version.parse(text)
        except ValueError as exc:
            refusals.append(Refusal("value_error", str(exc), field=where))
    if refusals:
        raise Refused(*refusals)
