"""shared.held_writes: a service's answers held to the end of the loop's turn arrive whole, in order, and sent.

Each test runs an aiohttp server and its clients on one HeldWritesLoop over the loopback, as a service process
serves (shared.service_main.serve): the connections the server accepts hold their writes, the clients' own are
asyncio's.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from shared.held_writes import HELD_BYTES_LIMIT, MAX_HOLD_SECONDS, HeldWritesLoop
from tests.infra import RunningApp

CHUNK = 256 * 1024


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    loop = HeldWritesLoop()
    try:
        loop.run_until_complete(asyncio.wait_for(test(), 30))
    finally:
        loop.close()


def the_app(file: Path | None = None) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=request.match_info["n"])

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for n in range(10):
            await response.write(bytes([n]) * CHUNK)  # each above HELD_BYTES_LIMIT: sent at once, in order
            await response.write(b"small")  # held behind it
        await response.write_eof()
        return response

    async def download(request: web.Request) -> web.StreamResponse:
        assert file is not None
        return web.FileResponse(file)  # headers written, then the file by sendfile

    async def closing(request: web.Request) -> web.Response:
        return web.Response(text="last words", headers={"Connection": "close"})

    app = web.Application()
    app.router.add_get("/echo/{n}", echo)
    app.router.add_get("/stream", stream)
    app.router.add_get("/download", download)
    app.router.add_get("/closing", closing)
    return app


async def with_server(app: web.Application, use: Callable[[str], Awaitable[None]]) -> None:
    async with RunningApp(app) as running:
        await use(running.url)


def test_concurrent_clients_each_get_their_own_answer() -> None:
    async def use(url: str) -> None:
        async with aiohttp.ClientSession() as http:

            async def ask(n: int) -> str:
                async with http.get(f"{url}/echo/{n}") as response:
                    assert response.status == 200
                    return await response.text()

            assert await asyncio.gather(*(ask(n) for n in range(300))) == [str(n) for n in range(300)]

    run(lambda: with_server(the_app(), use))


def test_pipelined_requests_on_one_connection_are_answered_in_order() -> None:
    async def use(url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"".join(f"GET /echo/{n} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for n in range(50)))
        await writer.drain()
        bodies = []
        for _ in range(50):
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
            )
            bodies.append((await reader.readexactly(length)).decode())
        writer.close()
        assert bodies == [str(n) for n in range(50)]

    run(lambda: with_server(the_app(), use))


def test_a_streamed_answer_of_large_and_small_writes_arrives_whole_and_in_order() -> None:
    async def use(url: str) -> None:
        async with aiohttp.ClientSession() as http, http.get(f"{url}/stream") as response:
            body = await response.read()
        assert body == b"".join(bytes([n]) * CHUNK + b"small" for n in range(10))

    assert CHUNK > HELD_BYTES_LIMIT
    run(lambda: with_server(the_app(), use))


def test_a_file_sent_with_sendfile_follows_its_headers(tmp_path: Path) -> None:
    file = tmp_path / "kit.bin"
    file.write_bytes(os.urandom(3 * 1024 * 1024 + 17))

    async def use(url: str) -> None:
        async with aiohttp.ClientSession() as http:
            for _ in range(3):  # on one kept-alive connection: a file after a file
                async with http.get(f"{url}/download") as response:
                    assert response.status == 200
                    assert response.content_length == file.stat().st_size
                    body = await response.read()
                assert hashlib.sha256(body).digest() == hashlib.sha256(file.read_bytes()).digest()
            async with http.get(f"{url}/echo/after") as response:
                assert await response.text() == "after"

    run(lambda: with_server(the_app(file), use))


def test_an_answer_that_closes_its_connection_arrives_before_the_close() -> None:
    async def use(url: str) -> None:
        for _ in range(20):
            async with aiohttp.ClientSession() as http, http.get(f"{url}/closing") as response:
                assert await response.text() == "last words"

    run(lambda: with_server(the_app(), use))


def test_small_writes_are_held_to_the_end_of_the_turn_or_for_at_most_the_longest_hold() -> None:
    async def test() -> None:
        loop = asyncio.get_running_loop()
        accepted: asyncio.Queue[asyncio.Transport] = asyncio.Queue()

        class Server(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                assert isinstance(transport, asyncio.Transport)
                accepted.put_nowait(transport)

        server = await loop.create_server(Server, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        transport = await accepted.get()
        assert type(writer.transport) is not type(transport)  # the client's connection: asyncio's own
        transport.write(b"one ")
        transport.writelines([b"two ", b"three"])
        assert transport.get_write_buffer_size() == len(b"one two three")  # held, not sent
        await asyncio.sleep(0)  # the end of the turn
        assert transport.get_write_buffer_size() == 0
        assert await reader.readexactly(len(b"one two three")) == b"one two three"
        transport.write(b"bye")
        transport.close()  # what is held goes first
        assert await reader.read() == b"bye"
        writer.close()

        first_reader, first_writer = await asyncio.open_connection("127.0.0.1", port)
        first = await accepted.get()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        transport = await accepted.get()
        first.write(b"waited")
        time.sleep(MAX_HOLD_SECONDS * 2)  # noqa: ASYNC251 - a long handler in the same turn, on purpose
        transport.write(b"held")  # the first answer is not held any longer
        assert first.get_write_buffer_size() == 0
        assert transport.get_write_buffer_size() == len(b"held")
        transport.abort()  # dropped with the connection, as asyncio drops its buffer
        assert await reader.read() == b""
        writer.close()
        assert await first_reader.readexactly(len(b"waited")) == b"waited"
        first_writer.close()

        server.close()
        await server.wait_closed()

    run(test)
