"""Content-addressed storage by sha256, on the filesystem (default) or in an S3-compatible bucket: updates' kits
and support's attachments.

Content becomes visible under its sha256 only once its size and sha256 have been checked against what was
declared (an operator's kit) or computed while it was spooled (`spool.py`, an attachment); a mismatch leaves
nothing behind. Content is streamed in and out in chunks, never held whole in memory, and file I/O runs off
the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Protocol


class ContentStorage(Protocol):
    async def has(self, sha256: str) -> bool:
        """Whether the kit with this sha256 is stored."""
        ...

    async def size(self, sha256: str) -> int | None:
        """The stored kit's size in bytes, None if it is not stored."""
        ...

    async def put(self, chunks: AsyncIterable[bytes], *, sha256: str, size: int) -> None:
        """Store the streamed kit under its sha256 once size and sha256 match; else ContentMismatch, nothing kept.

        If the kit is stored already, the stream is still read and checked, and nothing is written."""
        ...

    def local_path(self, sha256: str) -> Path | None:
        """The stored file to sendfile (a regular file inside the root, reached through no symlink);
        None when it is missing, refused, or the storage is not local (blocking: call it in a thread)."""
        ...

    def open_range(self, sha256: str, start: int, stop: int) -> AsyncIterator[bytes]:
        """Bytes [start, stop) of a stored kit, in chunks (for storage without a local path)."""
        ...

    async def close(self) -> None: ...
