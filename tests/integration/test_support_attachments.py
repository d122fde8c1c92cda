"""SUP-1 attachments against a support app in this process: streamed into the content storage by sha256 (memory
does not grow by the attachment's size), at most 10 per question and 6 MiB here (20 MiB by default), the declared
type checked against the bytes, served to the question's participants only and always as a download."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.support_fixtures import (
    MAX_ATTACHMENT_BYTES,
    PROBLEM,
    World,
    attachments_dir,
    keys,
    pool,
    publisher,
    support,
    world,
)

__all__ = ["attachments_dir", "keys", "pool", "publisher", "support", "world"]  # fixtures

pytestmark = pytest.mark.asyncio(loop_scope="session")

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


async def question(world: World) -> tuple[dict[str, str], str, Any]:
    customer = world.customer()
    headers = world.owner(customer)
    status, asked = await world.ask(headers, None, kind="feedback")
    assert status == 201
    return headers, f"/v1/questions/{asked['id']}", customer


async def put(world: World, headers: dict[str, str], path: str, data: Any, content_type: str) -> tuple[int, Any]:
    body = io.BytesIO(data) if isinstance(data, bytes) else data
    return await world.call("PUT", path, {**headers, "Content-Type": content_type}, data=body)


async def test_sup1_an_attachment_is_stored_by_content_and_served_as_a_download(
    world: World, attachments_dir: Path
) -> None:
    headers, path, _ = await question(world)
    status, stored = await put(world, headers, path + "/attachments/screen.png", PNG, "image/png")
    assert status == 201, stored
    assert stored["sha256"] == hashlib.sha256(PNG).hexdigest() and stored["size"] == len(PNG)
    sha = stored["sha256"]
    assert (attachments_dir / sha[:2] / sha[2:4] / sha).read_bytes() == PNG
    async with world.app.http.get(path + "/attachments/screen.png", headers=headers) as response:
        assert response.status == 200
        assert await response.read() == PNG
        assert response.headers["Content-Disposition"] == 'attachment; filename="screen.png"'
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Type"] == "image/png"
        assert "sandbox" in response.headers["Content-Security-Policy"]
    _, thread = await world.call("GET", path, headers)
    assert [a["name"] for a in thread["attachments"]] == ["screen.png"]
    # The same name twice is refused; the same bytes under another name are stored once.
    status, problem = await put(world, headers, path + "/attachments/screen.png", PNG, "image/png")
    assert status == 409 and problem["type"] == PROBLEM + "attachment-exists"
    status, _ = await put(world, headers, path + "/attachments/again.png", PNG, "image/png")
    assert status == 201


async def test_sup1_bad_attachments_are_refused_and_nothing_is_stored(world: World, attachments_dir: Path) -> None:
    headers, path, customer = await question(world)

    def stored_files() -> int:
        return sum(1 for p in attachments_dir.rglob("*") if p.is_file())

    before_rows, before_files = await world.count("attachments"), stored_files()
    too_large = b"x" * (MAX_ATTACHMENT_BYTES + 1)
    status, problem = await put(world, headers, path + "/attachments/big.log", too_large, "text/plain")
    assert status == 413, problem

    async def streamed() -> AsyncIterator[bytes]:  # chunked: no Content-Length to refuse it early
        for _ in range(7):
            yield b"y" * (1024 * 1024)

    status, problem = await put(world, headers, path + "/attachments/big2.log", streamed(), "text/plain")
    assert status == 413, problem
    status, problem = await put(world, headers, path + "/attachments/fake.png", b"MZ\x90\x00 not a png", "image/png")
    assert status == 422 and problem["errors"][0]["field"] == "Content-Type", problem
    status, problem = await put(world, headers, path + "/attachments/empty.txt", b"", "text/plain")
    assert status == 422 and problem["type"] == PROBLEM + "validation", problem
    status, problem = await put(world, headers, path + "/attachments/page.html", b"<script>", "text/html")
    assert status == 415, problem
    status, problem = await put(world, headers, path + "/attachments/.hidden", b"x", "text/plain")
    assert status == 404, problem
    status, problem = await put(world, world.owner(world.customer()), path + "/attachments/a.txt", b"x", "text/plain")
    assert status == 404, problem
    assert await world.count("attachments") == before_rows and stored_files() == before_files
    assert not list((attachments_dir / "tmp").glob("*")) if (attachments_dir / "tmp").exists() else True

    for n in range(10):
        status, _ = await put(world, headers, path + f"/attachments/log{n}.txt", f"line {n}".encode(), "text/plain")
        assert status == 201
    status, problem = await put(world, headers, path + "/attachments/log10.txt", b"one too many", "text/plain")
    assert status == 409 and problem["type"] == PROBLEM + "too-many-attachments"
    await world.call("POST", path + "/close", headers)
    status, problem = await world.call("GET", path + "/attachments/log0.txt", world.owner(world.customer()))
    assert status == 404
    status, problem = await world.call("GET", path + "/attachments/nothing.txt", headers)
    assert status == 404
    del customer


async def test_sup1_an_attachment_streams_memory_does_not_grow_by_its_size(world: World) -> None:
    headers, path, _ = await question(world)
    size = 5 * 1024 * 1024
    chunk = hashlib.shake_256(b"log").digest(64 * 1024)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(size // len(chunk)):
            yield chunk

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start, _ = tracemalloc.get_traced_memory()
        status, stored = await put(
            world, headers, path + f"/attachments/{uuid.uuid4().hex}.log", body(), "application/octet-stream"
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 201 and stored["size"] == size, stored
    # Buffers of a fixed size (the spool's and the storage's 1 MiB batches, the client's and server's chunks): about
    # 3 MiB measured, whatever the attachment's size; a body read whole would be 5 MiB and more.
    assert peak - start < size * 0.7, f"peak grew by {(peak - start) / 2**20:.1f} MiB for a 5 MiB attachment"
