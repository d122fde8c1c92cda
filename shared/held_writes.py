"""Answers sent together at the end of the event loop's turn, not one system call as each is ready.

A service answers many requests in one turn of its loop under load (about ten a turn in the support-status
benchmark). Sent one by one, each `send()` finds the client asleep again and wakes it inside the sender's system
call; on a virtual machine that wake-up is an interrupt to another virtual CPU, the most expensive step of a
cached answer. perf on contracts under the support-status benchmark: 7.5 % of its time in that wake-up (about 7.5 us
a poll), against 2.7 us a request for a bare aiohttp server the client keeps busy. Held to the turn's end, the
first answer wakes the client and the others reach it awake (bench/RESULTS.md: the process's system time a poll
halved). A turn of many answers does not hold its first ones to its end: once one has waited MAX_HOLD_SECONDS, the
next answer held sends it and the others with it.

Only connections the process accepted (its HTTP server's) hold their writes, and only small ones: a write over
HELD_BYTES_LIMIT (a file's chunk), a write behind data the socket has not taken yet, and anything after close()
or write_eof() go as asyncio writes them, after what was held, in order. What is held counts in the transport's
write buffer, so aiohttp's flow control sees it; sendfile, close() and write_eof() send it first. Connections the
process opens (the database, the broker) are asyncio's own.

Built on asyncio's selector transport (a private class of CPython 3.11's asyncio), so that everything else,
sendfile included, stays asyncio's: tests/integration/test_kernel_held_writes.py holds it to that.
"""

from __future__ import annotations

import asyncio
import socket
import time
from asyncio import selector_events
from typing import Any

HELD_BYTES_LIMIT = 64 * 1024
MAX_HOLD_SECONDS = 0.001  # an answer held this long goes with the next one held, not at the turn's end


class HeldWritesLoop(asyncio.SelectorEventLoop):
    """asyncio's loop, whose accepted connections hold their small writes to the end of the turn."""

    def __init__(self) -> None:
        super().__init__()
        self._holding: list[_HeldWritesTransport] = []
        self._held_since = 0.0
        self._sending_at_turn_end = False

    def _make_socket_transport(
        self,
        sock: socket.socket,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[Any] | None = None,
        *,
        extra: dict[str, Any] | None = None,
        server: Any = None,
    ) -> asyncio.Transport:
        if server is None:  # a connection this process opened: as asyncio writes it
            return super()._make_socket_transport(  # type: ignore[misc, no-any-return]
                sock, protocol, waiter, extra=extra, server=server
            )
        return _HeldWritesTransport(self, sock, protocol, waiter, extra, server)

    def hold(self, transport: _HeldWritesTransport) -> None:
        """`transport` holds writes: sent at the start of the next turn, before anything else is read; or, when
        another transport starts holding after the first held has waited MAX_HOLD_SECONDS, with it at once (a
        turn of many answers does not hold its first ones to its end)."""
        now = time.monotonic()
        if not self._holding:
            self._held_since = now
        elif now - self._held_since > MAX_HOLD_SECONDS:
            self.send_held()
            self._held_since = now
        if not self._sending_at_turn_end:
            self._sending_at_turn_end = True
            self.call_soon(self._turn_ended)
        self._holding.append(transport)

    def send_held(self) -> None:
        holding, self._holding = self._holding, []
        for transport in holding:
            transport.send_held()

    def _turn_ended(self) -> None:
        self._sending_at_turn_end = False
        self.send_held()


class _HeldWritesTransport(selector_events._SelectorSocketTransport):  # type: ignore[name-defined, misc]
    _loop: HeldWritesLoop

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._held: list[bytes] = []
        self._held_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        size = len(data)
        if (
            size
            and self._held_bytes + size <= HELD_BYTES_LIMIT
            and not (self._buffer or self._closing or self._eof or self._conn_lost or self._empty_waiter)
        ):
            if not self._held:
                self._loop.hold(self)
            self._held.append(bytes(data))
            self._held_bytes += size
            return
        self.send_held()
        super().write(data)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def send_held(self) -> None:
        """What is held, handed to asyncio's write (sent now, or buffered if the socket takes less)."""
        if self._held:
            data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
            self._held, self._held_bytes = [], 0
            super().write(data)

    def get_write_buffer_size(self) -> int:
        return super().get_write_buffer_size() + self._held_bytes  # type: ignore[no-any-return]

    def write_eof(self) -> None:
        self.send_held()
        super().write_eof()

    def close(self) -> None:
        self.send_held()
        super().close()

    def abort(self) -> None:
        self._held, self._held_bytes = [], 0
        super().abort()

    def _make_empty_waiter(self) -> asyncio.Future[None]:
        self.send_held()  # sendfile waits for the buffer to empty: what is held goes before the file
        return super()._make_empty_waiter()  # type: ignore[no-any-return]
