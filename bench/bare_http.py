"""A bare HTTP/1.1 client on one kept-alive connection, for timing one request at a time.

A login is timed against the hash inside it, so the client's own work must not count: aiohttp's client spends about
0.6 ms of CPU building a form POST and reading its answer (bench/RESULTS.md), this one about a tenth of that. It
speaks only what the benchmarks need: requests built once, answers with a Content-Length.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


class KeptConnection:
    """One connection to `url`'s host, its requests sent one after the other."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self._reader, self._writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, url: str) -> KeptConnection:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "http" or parsed.hostname is None or parsed.port is None:
            raise ValueError(f"a plain http://host:port URL is needed, not {url}")
        reader, writer = await asyncio.open_connection(parsed.hostname, parsed.port)
        return cls(reader, writer, parsed.netloc)

    def form_post(self, path: str, form: dict[str, str]) -> bytes:
        """The bytes of a form POST to `path`, built once and sent as often as wanted."""
        body = urllib.parse.urlencode(form).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def get(self, path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode()

    async def send(self, request: bytes) -> Answer:
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *headers = head.decode("latin-1").split("\r\n")
        length = None
        for header in headers:
            name, _, value = header.partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding":
                raise RuntimeError(f"answered with Transfer-Encoding {value.strip()}: only Content-Length is read")
        if length is None:
            raise RuntimeError(f"answered without a Content-Length: {status_line}")
        return Answer(int(status_line.split(" ", 2)[1]), await self._reader.readexactly(length))

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()
