"""The SQL that update graphs (UPD-5) are built from: published releases with their versions, platform
minimums and kits, in version order (graphs.py caches what is built from them)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg
from pydantic import BaseModel, ConfigDict

from shared.db import Connection


class GraphKit(BaseModel):
    """A published release's kit as update plans show it (api_models.KitLink adds its signed link)."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    name: str
    kind: str
    size: int
    sha256: str
    os: str | None = None
    arch: str | None = None


@dataclass(frozen=True)
class GraphRelease:
    """A published release as the update graph needs it; versions as stored (canonical text)."""

    id: uuid.UUID
    configuration: str | None  # None: a platform release
    version: str
    version_key: tuple[int, ...]
    release_date: date
    updates_from: tuple[str, ...]
    min_platform: str | None
    prerelease: bool
    grade: str | None  # platform releases: recommended | mandatory | optional
    published_at: datetime
    kits: tuple[GraphKit, ...]


GRAPH_SELECT = (
    "SELECT r.id, r.configuration, r.version, r.version_key, r.release_date, r.updates_from, r.min_platform, "
    "r.prerelease, r.grade, r.published_at, "
    "(SELECT coalesce(json_agg(json_build_object('id', k.id, 'name', k.name, 'kind', k.kind, 'size', k.size, "
    "'sha256', k.sha256, 'os', k.os, 'arch', k.arch) ORDER BY k.name), '[]') FROM kits k "
    "WHERE k.release_id = r.id) AS kits FROM releases r "
)


def _graph_release(row: asyncpg.Record) -> GraphRelease:
    return GraphRelease(
        id=row["id"],
        configuration=row["configuration"],
        version=row["version"],
        version_key=tuple(row["version_key"]),
        release_date=row["release_date"],
        updates_from=tuple(row["updates_from"]),
        min_platform=row["min_platform"],
        prerelease=row["prerelease"],
        grade=row["grade"],
        published_at=row["published_at"],
        kits=tuple(
            GraphKit(
                id=uuid.UUID(k["id"]),
                name=k["name"],
                kind=k["kind"],
                size=int(k["size"]),
                sha256=k["sha256"],
                os=k["os"],
                arch=k["arch"],
            )
            for k in row["kits"]
        ),
    )


async def graph_rows(conn: Connection, configuration: str | None = None) -> list[GraphRelease]:
    """The published configuration releases of `configuration` (None: of every configuration), ordered by
    configuration and version (oldest first), with their kits. Uses the partial index releases_published."""
    rows = await conn.fetch(
        GRAPH_SELECT + "WHERE r.state = 'published' AND r.kind = 'configuration' "
        "AND ($1::text IS NULL OR r.configuration = $1) ORDER BY r.configuration, r.version_key",
        configuration,
    )
    return [_graph_release(row) for row in rows]


async def catalogue_stamp(conn: Connection, configuration: str | None) -> tuple[int, int]:
    """What identifies the set of published releases of `configuration` (None: the platform's): their number and a
    sum of hashes of their ids and publication moments. A release is published or withdrawn as a whole and a
    published one does not change, so an equal stamp means the same catalogue (and no rebuild)."""
    row = await conn.fetchrow(
        "SELECT count(*) AS n, coalesce(sum(hashtextextended(r.id::text || r.published_at::text, 0)), 0)::numeric "
        "% 9223372036854775807 AS ids FROM releases r "
        "WHERE r.state = 'published' AND r.kind = CASE WHEN $1::text IS NULL THEN 'platform' ELSE 'configuration' END "
        "AND ($1::text IS NULL OR r.configuration = $1)",
        configuration,
    )
    assert row is not None
    return int(row["n"]), int(row["ids"])


async def platform_releases(conn: Connection) -> list[GraphRelease]:
    """The published platform releases, oldest first, with grade and kits (os, arch)."""
    rows = await conn.fetch(GRAPH_SELECT + "WHERE r.state = 'published' AND r.kind = 'platform' ORDER BY r.version_key")
    return [_graph_release(row) for row in rows]
