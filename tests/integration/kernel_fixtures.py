"""Fixtures for the shared kernel's own tests, against the real PostgreSQL and RabbitMQ.

`kernel` gives each test a throwaway schema `kernel_test_<n>` holding the kernel
tables plus an `effects` table, a pool, an outbox and helpers to start buses,
relays and consumers that the fixture stops afterwards. `TcpProxy` sits between
a client and a server so a test can cut the network (every connection dropped,
new ones refused) and restore it without touching the shared broker or database.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from yarl import URL

from shared.bus import Bus
from shared.clock import TestClock
from shared.consumer import Consumer, EventHandler, Subscription
from shared.db import Connection, Pool, close_pool, create_pool
from shared.events import Envelope, Event
from shared.kernel_schema import KERNEL_TABLES_V1, KERNEL_TABLES_V2
from shared.metrics import Metrics
from shared.outbox import Outbox, OutboxRelay
from shared.tasks import cancel_and_wait
from tests.infra import TestStack, free_port

EFFECTS_TABLE = """
CREATE TABLE effects (
    id        bigserial PRIMARY KEY,
    source    text NOT NULL,
    key       text NOT NULL,
    n         integer,
    at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
"""

_numbers = itertools.count(1)


class Happened(Event):
    """Base of the test events; each test gets its own TYPE so routing never crosses tests."""

    TYPE: ClassVar[str] = "kernel.test.happened"
    n: int


def event_class(type_name: str) -> type[Happened]:
    return type("Happened_" + type_name.replace(".", "_"), (Happened,), {"TYPE": type_name})


# ---- a cuttable TCP proxy ------------------------------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `cut()` drops every connection and refuses new ones."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = free_port()
        self.connections_made = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()  # a reset, as when the network goes
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    @property
    def is_up(self) -> bool:
        return self._server is not None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        if self._server is None:  # cut while we were connecting upstream
            writer.transport.abort()
            up_writer.transport.abort()
            return
        self.connections_made += 1
        self._writers.update((writer, up_writer))
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort()


# ---- the kernel under test -----------------------------------------------------------------------


@dataclass
class Kernel:
    stack: TestStack
    schema: str
    pool: Pool
    metrics: Metrics
    clock: TestClock
    outbox: Outbox
    name: str  # unique per test: prefix of queues and event types
    _buses: list[Bus] = field(default_factory=list)
    _relays: list[OutboxRelay] = field(default_factory=list)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _proxies: list[TcpProxy] = field(default_factory=list)

    # -- broker ---------------------------------------------------------------------------------

    def amqp_url(self, *, port: int | None = None, reconnect_interval: float = 1.0) -> str:
        url = URL(self.stack.amqp_url)
        if port is not None:
            url = url.with_port(port)
        return str(url.update_query(reconnect_interval=str(reconnect_interval)))

    async def amqp_proxy(self) -> TcpProxy:
        url = URL(self.stack.amqp_url)
        assert url.host is not None
        assert url.port is not None
        return await self.proxy(url.host, url.port)

    async def proxy(self, host: str, port: int) -> TcpProxy:
        proxy = TcpProxy(host, port)
        await proxy.start()
        self._proxies.append(proxy)
        return proxy

    async def bus(self, role: str, *, url: str | None = None, prefetch: int = 64, delivery_limit: int = 20) -> Bus:
        bus = Bus(url or self.amqp_url(), name=f"{self.name}.{role}", prefetch=prefetch, delivery_limit=delivery_limit)
        await bus.connect()
        self._buses.append(bus)
        return bus

    def event(self, suffix: str = "happened") -> type[Happened]:
        return event_class(f"{self.name}.{suffix}")

    def queue(self, suffix: str = "q") -> str:
        return f"{self.name}.{suffix}"

    async def consumer(
        self,
        bus: Bus,
        handlers: dict[str, EventHandler],
        *,
        queue: str | None = None,
        retry_delays_ms: Sequence[int] = (100, 200),
    ) -> Consumer:
        consumer = Consumer(
            Subscription(queue or self.queue(), handlers),
            pool=self.pool,
            bus=bus,
            metrics=self.metrics,
            retry_delays_ms=retry_delays_ms,
        )
        await consumer.start()
        return consumer

    def record_effect(self, source: str) -> EventHandler:
        """A handler whose effect is one `effects` row per handled event (in the inbox transaction)."""

        async def handle(conn: Connection, envelope: Envelope) -> None:
            await conn.execute(
                "INSERT INTO effects (source, key, n) VALUES ($1, $2, $3)",
                source,
                str(envelope.id),
                envelope.data.get("n"),
            )

        return handle

    def relay(
        self,
        bus: Bus,
        *,
        batch_size: int = 500,
        poll_seconds: float = 0.2,
        relay_type: type[OutboxRelay] = OutboxRelay,
    ) -> OutboxRelay:
        relay = relay_type(
            self.pool,
            bus,
            schema=self.schema,
            database_url=self.stack.database_url,
            metrics=self.metrics,
            batch_size=batch_size,
            poll_seconds=poll_seconds,
        )
        self._relays.append(relay)
        return relay

    def start(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.append(task)
        return task

    # -- database -------------------------------------------------------------------------------

    async def write_events(self, event: type[Happened], numbers: Sequence[int]) -> None:
        """Each event in a transaction of its own, with a state change beside it, via Outbox.add."""

        async def one(n: int) -> None:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute("INSERT INTO effects (source, key, n) VALUES ('state', $1, $2)", event.TYPE, n)
                await self.outbox.add(conn, event(n=n))

        await asyncio.gather(*(one(n) for n in numbers))

    async def effects(self, source: str) -> tuple[int, int]:
        """(rows, distinct events) recorded by `source`."""
        row = await self.pool.fetchrow("SELECT count(*), count(DISTINCT key) FROM effects WHERE source = $1", source)
        assert row is not None
        return row[0], row[1]

    async def outbox_counts(self) -> tuple[int, int]:
        """(pending, published) outbox rows."""
        row = await self.pool.fetchrow(
            "SELECT count(*) FILTER (WHERE published_at IS NULL), count(published_at) FROM outbox"
        )
        assert row is not None
        return row[0], row[1]

    async def close(self) -> None:
        await cancel_and_wait(*self._tasks)
        for relay in self._relays:
            await relay.close()
        for bus in self._buses:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(bus.close(), 10)
        for proxy in self._proxies:
            await proxy.cut()
        await close_pool(self.pool)


async def create_kernel_schema(database_url: str, schema: str) -> None:
    pool = await create_pool(database_url, "public", min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(f'CREATE SCHEMA "{schema}"')
            await conn.execute(f'SET LOCAL search_path TO "{schema}"')
            await conn.execute(KERNEL_TABLES_V1)
            await conn.execute(KERNEL_TABLES_V2)
            await conn.execute(EFFECTS_TABLE)
    finally:
        await close_pool(pool)


@pytest.fixture
async def kernel(stack: TestStack, tmp_path: Path) -> AsyncIterator[Kernel]:
    number = next(_numbers)
    schema = f"kernel_test_{os.getpid()}_{number}"
    await create_kernel_schema(stack.database_url, schema)
    pool = await create_pool(stack.database_url, schema, min_size=2, max_size=10)
    clock = TestClock(tmp_path / "var")
    kernel = Kernel(
        stack=stack,
        schema=schema,
        pool=pool,
        metrics=Metrics("kernel-test"),
        clock=clock,
        outbox=Outbox(producer="kernel-test", schema=schema, clock=clock),
        name=f"kt{stack.run_id}.{number}",
    )
    try:
        yield kernel
    finally:
        await kernel.close()
