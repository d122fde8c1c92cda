"""updates' per-process catalogue (graphs.Catalogues) against the real PostgreSQL: a catalogue that did not change is
kept when its time is up (one query for its stamp, no rebuild), and a change a replica was never told of (its
notification missed) is in the catalogue once the time is up."""

from __future__ import annotations

import asyncio

from services.updates.graphs import Catalogues
from services.updates.versions import Version
from tests.infra import wait_for
from tests.integration.updates_fixtures import World, keys, kits_dir, pool, publisher, updates, world

__all__ = ["keys", "kits_dir", "pool", "publisher", "updates", "world"]  # fixtures


async def test_an_unchanged_catalogue_is_kept_and_a_missed_change_is_seen_when_its_time_is_up(world: World) -> None:
    configuration = await world.configuration()
    await world.released(configuration, "3.0.1.1")
    catalogues = Catalogues(lambda: world.pool, seconds=0.2)  # listens to nothing: every notification is missed
    try:
        first = await catalogues.configuration(configuration)
        assert list(first.releases) == [Version.parse("3.0.1.1")]

        await asyncio.sleep(0.3)
        await catalogues.configuration(configuration)  # stale: checked in the background
        await asyncio.sleep(0.3)
        assert await catalogues.configuration(configuration) is first  # the same stamp: the same catalogue, kept

        await world.released(configuration, "3.0.1.2")  # announced, but not to this cache

        async def rebuilt() -> bool:
            catalogue = await catalogues.configuration(configuration)
            return Version.parse("3.0.1.2") in catalogue.releases

        await wait_for(rebuilt, timeout=5)
        assert (await catalogues.configuration(configuration)) is not first
    finally:
        await catalogues.close()
