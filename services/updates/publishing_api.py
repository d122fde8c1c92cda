"""updates' publishing: a draft release published (announced, in the catalogue at once) or withdrawn (operators)."""

from __future__ import annotations

from aiohttp import web

from services.updates import store
from services.updates.catalogue_api import release_out
from services.updates.catalogue_models import (
    OPERATOR,
    KitsMissing,
    ReleaseNotDraft,
    ReleaseNotFound,
    ReleaseOut,
    ReleasePath,
    ReleaseWithdrawnAlready,
    WithdrawIn,
)
from services.updates.graphs import CATALOGUE_CHANNEL
from services.updates.storage import STORAGE
from services.updates.versions import Version
from shared.app import CLOCK, OUTBOX, POOL
from shared.auth import Caller
from shared.db import Connection
from shared.events.updates import ReleasePublished, ReleaseWithdrawn
from shared.http import Api, Link
from shared.problems import ValidationFailed, invalid

routes = Api("ITS Portal updates: publishing")

# ---- publishing ------------------------------------------------------------------------------


async def _announce(conn: Connection, configuration: str | None) -> None:
    """Every replica drops its cached update graph of this configuration ('': the platform) on commit."""
    await conn.execute("SELECT pg_notify($1, $2)", CATALOGUE_CHANNEL, configuration or "")


def _check_versions(release: store.Release) -> None:
    """What the update graph parses must parse (validated on PUT; checked again before it goes live)."""
    checked = [("version", release.version)] + [(f"updates_from.{i}", v) for i, v in enumerate(release.updates_from)]
    if release.min_platform is not None:
        checked.append(("min_platform", release.min_platform))
    errors = []
    for where, text in checked:
        try:
            Version.parse(text)
        except ValueError as exc:
            errors.append(invalid(where, str(exc)))
    if errors:
        raise ValidationFailed(errors, "the release's versions do not parse")


@routes.post(
    "/v1/releases/{release_id}/publish",
    summary="Publish a draft whose kits are all uploaded (UPD-1, UPD-2); publishing again changes nothing",
    scope=OPERATOR,
    params=ReleasePath,
    response=ReleaseOut,
    errors=(404, 409, 422),
    links={"Withdraw": Link("withdraw", {"release_id": "$response.body#/id"})},
    tags=("catalogue",),
)
async def publish(request: web.Request, caller: Caller, params: ReleasePath) -> ReleaseOut:
    release_id = params.release_id
    async with request.app[POOL].acquire() as conn:
        draft = await store.release(conn, release_id)
    if draft is None:
        raise ReleaseNotFound()
    # Storage is checked outside the transaction (it may be S3); uploaded_at is then re-checked under the lock.
    storage = request.app[STORAGE]
    lost = {k.name for k in draft.kits if k.uploaded_at is not None and not await storage.has(k.sha256)}

    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        release = await store.release(conn, release_id, lock=True)
        assert release is not None  # releases are never deleted
        if release.state == "published":
            return release_out(release)  # a repeated request (a lost answer, a re-run): same answer, no event
        if release.state == "withdrawn":
            raise ReleaseWithdrawnAlready("a withdrawn release is not published again: publish a new version")
        missing = sorted({k.name for k in release.kits if k.uploaded_at is None} | lost)
        if missing:
            raise KitsMissing(f"upload these kits first: {', '.join(missing)}", missing=missing)
        _check_versions(release)
        await store.publish(conn, release_id, now)
        name = await store.configuration_name(conn, release.configuration) if release.configuration else None
        await request.app[OUTBOX].add(
            conn,
            ReleasePublished(
                release_id=release.id,
                kind=release.kind,
                configuration=release.configuration,
                configuration_name=name,
                version=release.version,
                release_date=release.release_date,
                its_issue=release.its_issue,
                prerelease=release.prerelease,
                whats_new=release.whats_new,
                min_platform=release.min_platform,
                grade=release.grade,  # the table's CHECK keeps it to the three grades
            ),
        )
        await _announce(conn, release.configuration)
        published = await store.release(conn, release_id)
    assert published is not None
    return release_out(published)


@routes.post(
    "/v1/releases/{release_id}/withdraw",
    summary="Withdraw a published release: subscribers no longer see it, update plans avoid it",
    scope=OPERATOR,
    params=ReleasePath,
    body=WithdrawIn,
    response=ReleaseOut,
    errors=(404, 409),
    tags=("catalogue",),
)
async def withdraw(request: web.Request, caller: Caller, params: ReleasePath, body: WithdrawIn) -> ReleaseOut:
    release_id = params.release_id
    now = request.app[CLOCK].now()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        release = await store.release(conn, release_id, lock=True)
        if release is None:
            raise ReleaseNotFound()
        if release.state == "withdrawn":
            return release_out(release)  # repeated: no second event
        if release.state == "draft":
            raise ReleaseNotDraft(
                "only a published release is withdrawn; a draft is simply not published", state="draft"
            )
        await store.withdraw(conn, release_id, now, body.reason)
        name = await store.configuration_name(conn, release.configuration) if release.configuration else None
        await request.app[OUTBOX].add(
            conn,
            ReleaseWithdrawn(
                release_id=release.id,
                kind=release.kind,
                configuration=release.configuration,
                configuration_name=name,
                version=release.version,
                release_date=release.release_date,
                its_issue=release.its_issue,
                reason=body.reason,
            ),
        )
        await _announce(conn, release.configuration)
        withdrawn = await store.release(conn, release_id)
    assert withdrawn is not None
    return release_out(withdrawn)
