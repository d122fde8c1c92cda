"""updates' SQL for articles (UPD-6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from shared.db import Connection

# ---- articles (UPD-6) ------------------------------------------------------------------------


@dataclass(frozen=True)
class Article:
    slug: str
    configuration: str | None  # None: about the platform
    kind: str  # known_problem | administration
    title: str
    body: str
    versions: tuple[str, ...]
    published_at: datetime | None = None
    updated_at: datetime | None = None


ARTICLE_SELECT = "SELECT slug, configuration, kind, title, body, versions, published_at, updated_at FROM articles"


def _about(configuration: str | None) -> str:
    """Articles about `configuration` ($1), or about the platform; both served by articles_configuration."""
    return "configuration IS NULL AND $1::text IS NULL" if configuration is None else "configuration = $1"


def _article(row: asyncpg.Record) -> Article:
    return Article(**{**dict(row), "versions": tuple(row["versions"])})


async def save_article(conn: Connection, a: Article, now: datetime) -> tuple[Article, bool]:
    """Insert or replace by slug; (the stored article, True if it was new)."""
    row = await conn.fetchrow(
        "INSERT INTO articles (slug, configuration, kind, title, body, versions, published_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $7) "
        "ON CONFLICT (slug) DO UPDATE SET configuration = $2, kind = $3, title = $4, body = $5, versions = $6, "
        "updated_at = $7 "
        "RETURNING slug, configuration, kind, title, body, versions, published_at, updated_at, xmax = 0 AS created",
        a.slug,
        a.configuration,
        a.kind,
        a.title,
        a.body,
        list(a.versions),
        now,
    )
    assert row is not None
    fields = dict(row)
    created = bool(fields.pop("created"))
    return Article(**{**fields, "versions": tuple(fields["versions"])}), created


async def delete_article(conn: Connection, slug: str) -> bool:
    return bool(await conn.fetchval("DELETE FROM articles WHERE slug = $1 RETURNING true", slug))


async def articles(conn: Connection, configuration: str | None, kind: str | None = None) -> list[Article]:
    """The articles about a configuration (None: the platform), known problems first, newest first."""
    rows = await conn.fetch(
        f"{ARTICLE_SELECT} WHERE {_about(configuration)} AND ($2::text IS NULL OR kind = $2) "
        "ORDER BY kind DESC, updated_at DESC, slug",
        configuration,
        kind,
    )
    return [_article(row) for row in rows]


async def known_problems_of(conn: Connection, configuration: str | None, version: str) -> list[Article]:
    """The known problems that name this version (UPD-6: errors of current versions)."""
    rows = await conn.fetch(
        f"{ARTICLE_SELECT} WHERE {_about(configuration)} AND kind = 'known_problem' AND $2 = ANY(versions) "
        "ORDER BY updated_at DESC, slug",
        configuration,
        version,
    )
    return [_article(row) for row in rows]
