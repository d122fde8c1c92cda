"""A client on another address: a TCP relay that connects on to the gateway from a loopback address of its own.

Every local process is 127.0.0.1, the gateway and the portal included, so a browser on this machine cannot be
told apart from them. Linux routes all of 127.0.0.0/8 to the loopback interface: the relay listens on 127.0.0.1
and opens each connection to the target from `source` (e.g. 127.0.0.2), which the gateway sees as the client.
The bytes pass unchanged (TLS included).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

CHUNK = 64 * 1024
CLOSE_TIMEOUT = 5.0


@contextlib.asynccontextmanager
async def relay(target_host: str, target_port: int, *, source: str) -> AsyncIterator[int]:
    """Yields the port on 127.0.0.1 whose connections reach the target from `source`."""
    connections: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connections.add(task)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                target_host, target_port, local_addr=(source, 0)
            )
        except OSError:
            writer.close()
            connections.discard(task)
            return
        try:
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        finally:
            connections.discard(task)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for task in list(connections):
            task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), CLOSE_TIMEOUT)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
