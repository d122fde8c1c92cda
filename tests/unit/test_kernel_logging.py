"""The access log's own path (shared.logging.log_request) writes the line structlog's chain would write."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import textwrap

from shared.logging import LineBatcher

# Run in a process of its own: configuring logging is global to a process.
SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from shared.logging import CORRELATION_ID, REQUEST_ID, configure_logging, get_logger, log_request

    import shared.logging
    configure_logging("contracts", sys.argv[1])
    assert (shared.logging._requests_written is not None) == (sys.argv[1] == "INFO")  # the own path is taken

    async def main() -> None:  # in a loop, as a service logs: the lines are written at the end of the turn
        REQUEST_ID.set("req-1")
        CORRELATION_ID.set("corr-1")
        log_request("GET", "/v1/support-status", 200, 1.25)
        get_logger("shared.middlewares").info("http.request", method="GET", path="/v1/support-status", status=200,
                                              ms=1.25)

    asyncio.run(main())
    """
)


def logged(level: str) -> list[dict[str, object]]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, level], capture_output=True, text=True, timeout=60, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_a_request_line_has_the_keys_and_values_of_a_structlog_line() -> None:
    fast, chain = logged("INFO")
    for line in (fast, chain):  # ISO 8601 UTC with milliseconds
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(line.pop("timestamp")))
    assert fast == chain
    assert fast == {
        "event": "http.request",
        "method": "GET",
        "path": "/v1/support-status",
        "status": 200,
        "ms": 1.25,
        "request_id": "req-1",
        "correlation_id": "corr-1",
        "level": "info",
        "service": "contracts",
    }


def test_no_request_line_when_info_is_off() -> None:
    assert logged("WARNING") == []


class _Writes:
    """A stream that keeps each write apart."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.writes.append(data)
        return len(data)

    def flush(self) -> None:
        pass


async def test_lines_on_the_serving_loop_are_written_together_at_the_end_of_its_turn() -> None:
    stream = _Writes()
    lines = LineBatcher(stream)  # type: ignore[arg-type]  # a stream's write and flush are all it uses
    lines.serve_on(asyncio.get_running_loop())
    lines.msg(b"one")
    lines.msg(b"two")
    assert stream.writes == []  # not before the turn ends
    await asyncio.sleep(0)
    assert stream.writes == [b"one\ntwo\n"]

    # Another thread, with no loop of its own: at once.
    await asyncio.to_thread(lines.msg, b"elsewhere")
    assert stream.writes[-1] == b"elsewhere\n"

    lines.msg(b"pending")
    lines.serve_on(None)  # the loop stops serving: what waits is written first
    assert stream.writes[-1] == b"pending\n"
    lines.msg(b"after")  # still in a running loop, found the ordinary way
    await asyncio.sleep(0)
    assert stream.writes[-1] == b"after\n"
    assert len(stream.writes) == 4
