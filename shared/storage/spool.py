"""Storing content whose sha256 nobody declared (support's attachments): the stream is spooled to a temporary
file while it is counted and hashed, then put into the storage under the sha256 it turned out to have.

Never whole in memory: chunks go to the file as they arrive, at most WRITE_BATCH bytes at a time. Past
`max_bytes` the spooling stops at once (`TooLarge`) and nothing is kept; the temporary file is always removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from shared.storage import ContentStorage
from shared.storage.check import READ_CHUNK, WRITE_BATCH


class TooLarge(Exception):
    """The stream grew past `max_bytes`; nothing was stored."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"more than {max_bytes} bytes")
        self.max_bytes = max_bytes


@dataclass(frozen=True)
class Stored:
    sha256: str
    size: int


async def store_stream(
    storage: ContentStorage, chunks: AsyncIterable[bytes], *, max_bytes: int, tmp_dir: Path
) -> Stored:
    """Spool `chunks` (at most `max_bytes`) and store them by their sha256; one content is stored once."""
    file, path = await asyncio.to_thread(_open_spool, tmp_dir)
    try:
        with file:
            hasher, size, batch = hashlib.sha256(), 0, bytearray()
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(max_bytes)
                batch += chunk
                if len(batch) >= WRITE_BATCH:
                    await asyncio.to_thread(_write_and_hash, file, hasher, batch)
                    batch = bytearray()
            await asyncio.to_thread(_write_and_hash, file, hasher, batch)
            await asyncio.to_thread(file.flush)
            stored = Stored(hasher.hexdigest(), size)
            if not await storage.has(stored.sha256):
                await storage.put(_read_back(file), sha256=stored.sha256, size=stored.size)
            return stored
    finally:
        # shield: even a cancelled upload must not leave its spool file behind.
        await asyncio.shield(asyncio.to_thread(_unlink, path))


def _open_spool(tmp_dir: Path) -> tuple[IO[bytes], Path]:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="spool.", suffix=".part", dir=tmp_dir)
    return os.fdopen(fd, "w+b"), Path(name)


def _write_and_hash(file: IO[bytes], hasher: hashlib._Hash, data: bytearray) -> None:
    hasher.update(data)
    file.write(data)


async def _read_back(file: IO[bytes]) -> AsyncIterator[bytes]:
    await asyncio.to_thread(file.seek, 0)
    while chunk := await asyncio.to_thread(file.read, READ_CHUNK):
        yield chunk


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
