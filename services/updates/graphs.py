"""The published catalogue in memory, per configuration: the update graph (UPD-5) and the kits of each release.

Built on first use from the database, dropped when a publish or withdrawal announces a change
(`pg_notify(CATALOGUE_CHANNEL, configuration)`, sent by the catalogue in the publishing transaction;
an empty payload means the platform releases). A replica that missed notifications sees the change
within CACHE_SECONDS (by the catalogue's stamp).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.updates import graph_store
from services.updates.graph_store import GraphKit as Kit
from services.updates.plan import PlanRelease, UpdateGraph
from services.updates.store import CATALOGUE_CHANNEL as CATALOGUE_CHANNEL  # named here by tests
from services.updates.versions import Version
from shared.db import Pool
from shared.logging import get_logger
from shared.tasks import cancel_and_wait

log = get_logger(__name__)

PLATFORM = ""  # the key of the platform releases (no configuration)
Stamp = tuple[int, int]  # graph_store.catalogue_stamp
CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class PublishedRelease:
    """A published release with its versions parsed (the store keeps them as canonical text)."""

    id: uuid.UUID
    version: Version
    version_text: str  # canonical, as stored: str(version) for every plan step would cost a join each
    release_date: str
    published_at: datetime
    min_platform: Version | None
    updates_from: tuple[Version, ...]
    prerelease: bool
    grade: str | None
    kits: tuple[Kit, ...]

    @classmethod
    def of(cls, row: graph_store.GraphRelease) -> PublishedRelease:
        return cls(
            id=row.id,
            version=Version.parse(row.version),
            version_text=row.version,
            release_date=row.release_date.isoformat(),
            published_at=row.published_at,
            min_platform=Version.parse(row.min_platform) if row.min_platform else None,
            updates_from=tuple(Version.parse(v) for v in row.updates_from),
            prerelease=row.prerelease,
            grade=row.grade,
            kits=row.kits,
        )


@dataclass(frozen=True)
class ConfigurationCatalogue:
    configuration: str
    releases: dict[Version, PublishedRelease]
    graph: UpdateGraph[uuid.UUID]
    # The update plans' routes worked out from this catalogue (update_plan.py), by what was asked; they go with it.
    routes: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class PlatformCatalogue:
    releases: tuple[PublishedRelease, ...]  # oldest first
    # The kits update plans show of a release for a system, by what was asked (update_plan.py); they go with it.
    shown_kits: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def newest(self, grades: tuple[str, ...] = ("mandatory", "recommended")) -> PublishedRelease | None:
        return next((r for r in reversed(self.releases) if r.grade in grades and not r.prerelease), None)

    def at_least(self, version: Version) -> PublishedRelease | None:
        """The oldest published platform release not older than `version`: the smallest step that suffices."""
        return next((r for r in self.releases if r.version >= version and not r.prerelease), None)


def build_configuration(configuration: str, rows: list[graph_store.GraphRelease]) -> ConfigurationCatalogue:
    """The releases with parsed versions and their update graph (pure CPU: run in a thread)."""
    releases = [PublishedRelease.of(row) for row in rows]
    graph = UpdateGraph(
        [
            PlanRelease(
                release_id=r.id,
                version=r.version,
                updates_from=r.updates_from,
                min_platform=r.min_platform,
                prerelease=r.prerelease,
            )
            for r in releases
        ]
    )
    return ConfigurationCatalogue(configuration, {r.version: r for r in releases}, graph)


class Catalogues:
    """Per-process cache of the published catalogue.

    The first request for a configuration waits for its load; after that a stale entry (announced
    changed, or older than CACHE_SECONDS) keeps being served while one background task checks it: the
    catalogue's stamp (graph_store.catalogue_stamp, one cheap query) unchanged, the entry is fresh again;
    changed, it is rebuilt. So no request waits for a rebuild (a 5,000-release graph takes ~0.3 s), a
    catalogue that did not change is not rebuilt every CACHE_SECONDS, and a build runs in a thread so the
    event loop keeps answering meanwhile.
    """

    def __init__(self, pool: Callable[[], Pool], seconds: float = CACHE_SECONDS) -> None:
        self._pool = pool  # the app's pool, which exists once the app has started
        self.seconds = seconds
        # (fresh since, the catalogue, its stamp)
        self._configurations: dict[str, tuple[float, ConfigurationCatalogue, Stamp]] = {}
        self._platform: tuple[float, PlatformCatalogue, Stamp] | None = None
        self._loading: dict[str, asyncio.Task[Any]] = {}  # by configuration; PLATFORM for the platform
        self._generation = 0  # counts change notifications

    async def configuration(self, configuration: str) -> ConfigurationCatalogue:
        entry = self._configurations.get(configuration)
        if entry is None:
            catalogue: ConfigurationCatalogue = await asyncio.shield(self._load(configuration))
            return catalogue
        if time.monotonic() - entry[0] >= self.seconds:
            self._load(configuration)  # in the background; this request gets what there is
        return entry[1]

    async def platform(self) -> PlatformCatalogue:
        entry = self._platform
        if entry is None:
            catalogue: PlatformCatalogue = await asyncio.shield(self._load(PLATFORM))
            return catalogue
        if time.monotonic() - entry[0] >= self.seconds:
            self._load(PLATFORM)
        return entry[1]

    def _load(self, key: str) -> asyncio.Task[Any]:
        """The one running load of `key`, started if none is."""
        task = self._loading.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch_platform() if key == PLATFORM else self._fetch(key))
            self._loading[key] = task
            task.add_done_callback(lambda done: self._loaded(key, done))
        return task

    def _loaded(self, key: str, task: asyncio.Task[Any]) -> None:
        self._loading.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.warning("updates.catalogue_load_failed", configuration=key, error=repr(task.exception()))

    async def _fetch(self, configuration: str) -> ConfigurationCatalogue:
        loaded_at, generation = time.monotonic(), self._generation
        held = self._configurations.get(configuration)
        async with self._pool().acquire() as conn:
            # The stamp before the rows: a change between the two is announced, and the entry goes stale again.
            stamp = await graph_store.catalogue_stamp(conn, configuration)
            rows = None if held is not None and held[2] == stamp else await graph_store.graph_rows(conn, configuration)
        if held is not None and rows is None:
            catalogue = held[1]
        else:
            catalogue = await asyncio.to_thread(build_configuration, configuration, rows or [])
        self._configurations[configuration] = (self._fresh(loaded_at, generation), catalogue, stamp)
        return catalogue

    async def _fetch_platform(self) -> PlatformCatalogue:
        loaded_at, generation = time.monotonic(), self._generation
        held = self._platform
        async with self._pool().acquire() as conn:
            stamp = await graph_store.catalogue_stamp(conn, None)
            if held is not None and held[2] == stamp:
                catalogue = held[1]
            else:
                rows = await graph_store.platform_releases(conn)
                catalogue = PlatformCatalogue(tuple(PublishedRelease.of(row) for row in rows))
        self._platform = (self._fresh(loaded_at, generation), catalogue, stamp)
        return catalogue

    def _fresh(self, loaded_at: float, generation: int) -> float:
        """A change announced while a load ran may not be in what it read: kept, but stale at once."""
        return loaded_at if generation == self._generation else -math.inf

    def forget(self, payload: str | None) -> None:
        """A notification's payload is the configuration that changed ('' for the platform); None: all.
        The entry goes stale: the next request starts its rebuild."""
        self._generation += 1
        if payload is None:
            self._configurations = {c: (-math.inf, *e[1:]) for c, e in self._configurations.items()}
            self._platform = (-math.inf, *self._platform[1:]) if self._platform else None
        elif payload == "":
            self._platform = (-math.inf, *self._platform[1:]) if self._platform else None
        elif (entry := self._configurations.get(payload)) is not None:
            self._configurations[payload] = (-math.inf, *entry[1:])

    async def close(self) -> None:
        await cancel_and_wait(*self._loading.values())
