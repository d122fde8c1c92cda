"""The operators' list of releases in every state, a page at a time (keyset pagination): platform releases first,
then by configuration, newest version first; or newest first by release date."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.updates import store
from shared.db import Pool


@dataclass(frozen=True)
class ReleaseListPage:
    releases: list[store.Release]
    last: store.Release | None  # the last of this page when another follows; None on the last page


async def release_list(
    pool: Pool,
    *,
    kind: store.ReleaseKind | None,
    configuration: str | None,
    state: store.State | None,
    version: str | None,
    version_prefix: str | None = None,
    sort: store.ReleaseSort = "configuration",
    limit: int,
    after: tuple[str, tuple[int, ...]] | tuple[object, uuid.UUID] | None,
) -> ReleaseListPage:
    """Up to `limit` releases matching every filter given, in the order `sort` names, from the key `after` of the
    release last seen (see store.list_releases)."""
    async with pool.acquire() as conn:
        releases = await store.list_releases(
            conn,
            kind=kind,
            configuration=configuration,
            state=state,
            version=version,
            version_prefix=version_prefix,
            sort=sort,
            limit=limit + 1,  # one more than asked: is there a next page?
            after=after,
        )
    page = releases[:limit]
    return ReleaseListPage(page, page[-1] if len(releases) > limit else None)


async def one_release(pool: Pool, release_id: uuid.UUID) -> store.Release | None:
    """One release in whatever state, with its kits (None: no such release)."""
    async with pool.acquire() as conn:
        return await store.release(conn, release_id)
