"""A server of the local stack (nginx, Prometheus, Alertmanager) run in the foreground of its devtools process.

The stack knows each process by its pid and its module in /proc/<pid>/cmdline (devtools.pids.is_ours), so the
devtools process stays, with the server as its child: SIGTERM or SIGINT to it stops the server with `stop_signal`
(its graceful stop), and it ends with the server's exit status.
"""

from __future__ import annotations

import signal
import subprocess
from types import FrameType


def wait_stopping_with(server: subprocess.Popen[bytes], stop_signal: signal.Signals) -> int:
    """Wait for `server`, stopping it with `stop_signal` when this process is told to stop."""

    def stop(signum: int, frame: FrameType | None) -> None:
        if server.poll() is None:
            server.send_signal(stop_signal)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return server.wait()
    finally:
        if server.poll() is None:
            server.kill()


def run(argv: list[str], stop_signal: signal.Signals = signal.SIGTERM) -> int:
    """`argv` as a child with this process's output, until it ends or this process is told to stop."""
    return wait_stopping_with(subprocess.Popen(argv, stdin=subprocess.DEVNULL), stop_signal)
