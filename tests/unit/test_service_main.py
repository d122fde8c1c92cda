"""What `shared.service_main.serve` does to a service process before it answers: the heap frozen, the young
generation collected less often."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from shared.service_main import YOUNG_GENERATION_THRESHOLD

# Run in a process of its own: the garbage collector's settings are global to a process.
SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, json
    from aiohttp import web
    from shared.service_main import _frozen_heap

    async def main() -> None:
        before = gc.get_threshold()
        started = _frozen_heap(web.Application())
        await started.__anext__()  # as the app's cleanup context does on startup
        print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count()}))

    asyncio.run(main())
    """
)


def test_a_started_service_freezes_its_heap_and_collects_the_young_generation_less_often() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    seen = json.loads(out)
    assert seen["after"] == [YOUNG_GENERATION_THRESHOLD, *seen["before"][1:]]  # the older generations as by default
    assert seen["before"][0] < YOUNG_GENERATION_THRESHOLD
    assert seen["frozen"] > 1000  # what existed at startup (modules, the app) is out of the collector's reach
