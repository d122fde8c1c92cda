"""The operators' list of releases in every state: platform releases first, then by configuration, newest
version first, a page at a time (keyset pagination)."""

from __future__ import annotations

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
    limit: int,
    after: tuple[str, tuple[int, ...]] | None,
) -> ReleaseListPage:
    """Up to `limit` releases matching every filter given, from the key `after` (configuration or '' for the
    platform, version key) of the release last seen."""
    async with pool.acquire() as conn:
        releases = await store.list_releases(
            conn,
            kind=kind,
            configuration=configuration,
            state=state,
            version=version,
            limit=limit + 1,  # one more than asked: is there a next page?
            after=after,
        )
    page = releases[:limit]
    return ReleaseListPage(page, page[-1] if len(releases) > limit else None)
