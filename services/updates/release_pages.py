"""What subscribers' users read on the release pages: published configuration releases (UPD-1), platform
releases (UPD-2) and the known problems that name a release (UPD-6).

A draft does not exist for subscribers (refused: not found); a withdrawn release is refused as gone, with when
and why, so a bookmarked page says why it went instead of pretending it never was. Who may read which pages
(UPD-3) is the caller's access (access.py), asked before these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rules.refusal import Refusal, Refused
from services.updates import articles_store, store
from services.updates.drafts import label
from shared.db import Pool

# A withdrawn release asked for by version (its own reason: the operator's "already withdrawn" is a conflict).
RELEASE_GONE = "release-gone"


@dataclass(frozen=True)
class ConfigurationReleases:
    configuration_name: str | None  # as registration announced it; None if not heard of yet
    releases: list[store.Release]  # published, newest first


@dataclass(frozen=True)
class ReleasePage:
    release: store.Release  # published
    configuration_name: str | None  # None for the platform, or if not heard of yet
    known_problems: list[articles_store.Article]  # UPD-6: those that name this version


async def configuration_releases(
    pool: Pool, configuration: str, *, published_after: datetime | None = None
) -> ConfigurationReleases:
    """Its published releases, newest first; with `published_after`, only those published later (a portal's "new
    since your last visit")."""
    async with pool.acquire() as conn:
        releases = await store.published_releases(conn, configuration)
        name = await store.configuration_name(conn, configuration)
    if published_after is not None:
        releases = [r for r in releases if r.published_at is not None and r.published_at > published_after]
    return ConfigurationReleases(name, releases)


async def platform_releases(pool: Pool) -> list[store.Release]:
    async with pool.acquire() as conn:
        return await store.published_releases(conn, None)


async def release_page(pool: Pool, configuration: str | None, version: str) -> ReleasePage:
    """The published release of `configuration` (None: the platform) and `version`, with its known problems.

    Refused (not found) for a draft or no such release, ("release-gone") for a withdrawn one."""
    async with pool.acquire() as conn:
        release = _published(
            await store.release_by_version(conn, configuration, version), label(configuration, version)
        )
        name = await store.configuration_name(conn, configuration) if configuration is not None else None
        problems = await articles_store.known_problems_of(conn, configuration, version)
    return ReleasePage(release, name, problems)


def _published(release: store.Release | None, what: str) -> store.Release:
    if release is None or release.state == "draft":
        raise Refused(Refusal("release-not-found", f"no published release {what}", "not-found"))
    if release.state == "withdrawn":
        reason = release.withdrawn_reason
        raise Refused(
            Refusal(
                RELEASE_GONE,
                f"{what} was withdrawn: {reason}" if reason else f"{what} was withdrawn",
                "not-found",
                details={
                    "withdrawn_at": release.withdrawn_at.isoformat() if release.withdrawn_at else None,
                    "reason": reason,
                },
            )
        )
    return release
