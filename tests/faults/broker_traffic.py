"""Traffic for the broker experiments: events written as a service writes them, and their effects counted."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from tests.infra import wait_for

if TYPE_CHECKING:
    from tests.integration.kernel_fixtures import Happened, Kernel


class EventWriter:
    """Writes events numbered `first`, `first + 1`, … at `rate` a second, each in a transaction of its own
    with a state change beside it (Outbox.add, and its NOTIFY at commit), until `count` or `stop()`."""

    def __init__(self, kernel: Kernel, event: type[Happened], *, rate: float, first: int = 0) -> None:
        self.kernel, self.event, self.rate, self.first = kernel, event, rate, first
        self.written = 0
        self._stopping = asyncio.Event()

    @property
    def last(self) -> int:
        """One past the number of the last event written."""
        return self.first + self.written

    async def run(self, count: int | None = None) -> None:
        start = time.monotonic()
        while not self._stopping.is_set() and (count is None or self.written < count):
            await self.kernel.write_events(self.event, [self.last])
            self.written += 1
            await asyncio.sleep(max(0.0, start + self.written / self.rate - time.monotonic()))

    def stop(self) -> None:
        self._stopping.set()


async def effects_reach(kernel: Kernel, n: int, within: float) -> None:
    """Wait until the consumer has recorded at least `n` effects."""

    async def done() -> bool:
        rows, _ = await kernel.effects("consumer")
        return rows >= n

    await wait_for(done, timeout=within, interval=0.2, what=f"{n} effects")


def handled(kernel: Kernel, queue: str, outcome: str) -> int:
    """Deliveries of `queue` with `outcome` ("handled", "duplicate", …), from the consumer's metrics."""
    value = kernel.metrics.registry.get_sample_value("consumer_messages_total", {"queue": queue, "outcome": outcome})
    return int(value or 0)
