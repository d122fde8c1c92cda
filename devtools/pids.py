"""The local stack's processes by their pids (var/run/<name>.pid): alive, ours (not a recycled pid), signalled.

Standard library only: `make stop` and `make status` run before the venv exists."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Protocol


class Started(Protocol):
    """What a pid is checked against: the module the stack ran (devtools.stack.Proc)."""

    @property
    def module(self) -> str: ...


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not alive
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def is_ours(pid: int, proc: Started) -> bool:
    """The pid is alive and runs this process's module (not a recycled pid)."""
    if not is_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return not Path("/proc/self").exists()  # no /proc: trust the pid file
    return proc.module.encode() in cmdline


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group `up` created for `pid` (start_new_session), else the pid."""
    try:
        if os.getpgid(pid) == pid and pid != os.getpgrp():
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass
