"""Content on the filesystem (kits, attachments), by sha256: written through a temporary file and an atomic rename,
served with sendfile."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import IO

from shared.storage.check import READ_CHUNK, SHA256_PATTERN, Checker, batches, check_sha256, drain_and_check


class FileSystemStorage:
    """Kits at `root/ab/cd/<sha256>`, read-only, written through `root/tmp/` and an atomic rename."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = Path(os.path.realpath(root))
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def local_path(self, sha256: str) -> Path | None:
        if not SHA256_PATTERN.fullmatch(sha256):
            return None
        expected = self.path_for(sha256)
        # Stricter than "inside the root": the kit must sit exactly where its sha256 says, reached through
        # no symlink at all, so a link planted in storage (to /etc/passwd or to another kit) is never served.
        if os.path.realpath(expected) != str(expected):
            return None
        try:
            st = os.lstat(expected)
        except OSError:
            return None
        return expected if stat.S_ISREG(st.st_mode) else None

    async def has(self, sha256: str) -> bool:
        return await asyncio.to_thread(self.local_path, sha256) is not None

    async def size(self, sha256: str) -> int | None:
        def size() -> int | None:
            path = self.local_path(sha256)
            return None if path is None else path.stat().st_size

        return await asyncio.to_thread(size)

    async def put(self, chunks: AsyncIterable[bytes], *, sha256: str, size: int) -> None:
        checker = Checker(sha256, size)
        if await self.has(sha256):
            await drain_and_check(chunks, checker)
            return
        file, temp = await asyncio.to_thread(self._open_temp, sha256)
        try:
            async for data in batches(chunks, checker):
                await asyncio.to_thread(_write_and_hash, file, checker, data)
            checker.finish()
            await asyncio.to_thread(self._commit, file, temp, sha256)
        except BaseException:
            # shield: even a cancelled upload must not leave its temp file behind.
            await asyncio.shield(asyncio.to_thread(_discard, file, temp))
            raise

    def _open_temp(self, sha256: str) -> tuple[IO[bytes], Path]:
        # A unique temp file per upload, on the same filesystem as the kits so the final rename is atomic:
        # two uploads of the same kit at once each write their own and the last rename wins (same bytes).
        fd, name = tempfile.mkstemp(prefix=f"{sha256[:16]}.", suffix=".part", dir=self.tmp)
        return os.fdopen(fd, "wb"), Path(name)

    def _commit(self, file: IO[bytes], temp: Path, sha256: str) -> None:
        file.flush()
        os.fsync(file.fileno())
        os.fchmod(file.fileno(), 0o444)  # kits never change once stored
        file.close()
        final = self.path_for(sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, final)  # atomic: readers see no kit or the whole kit
        _fsync_dir(final.parent)

    async def open_range(self, sha256: str, start: int, stop: int) -> AsyncIterator[bytes]:
        path = await asyncio.to_thread(self.local_path, sha256)
        if path is None:
            raise FileNotFoundError(sha256)
        file = await asyncio.to_thread(path.open, "rb")
        try:
            await asyncio.to_thread(file.seek, start)
            position = start
            while position < stop:
                chunk = await asyncio.to_thread(file.read, min(READ_CHUNK, stop - position))
                if not chunk:
                    raise EOFError(f"kit {sha256} is shorter than {stop} bytes")
                position += len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(file.close)

    async def close(self) -> None:
        return None


def _write_and_hash(file: IO[bytes], checker: Checker, data: bytearray) -> None:
    checker.hasher.update(data)  # hashlib releases the GIL: hashing in the thread keeps the loop free
    file.write(data)


def _discard(file: IO[bytes], temp: Path) -> None:
    with contextlib.suppress(OSError):
        file.close()
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
