"""The only source of "now".

In production it is the system clock. Elsewhere it is the system clock plus an
offset kept in `<var_dir>/clock.json`, shared by every process of the local
stack and moved with `itsctl clock set|advance`; a process sees a move within
`RELOAD_SECONDS`.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

RELOAD_SECONDS = 0.25
CLOCK_FILE = "clock.json"


class Clock(Protocol):
    def now(self) -> datetime: ...


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar date of `moment` in `zone`: "today" for the vendor is the date in the vendor's zone."""
    return moment.astimezone(zone).date()


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class TestClockRefused(RuntimeError):
    """Raised when someone tries to move the clock in production."""


class TestClock:
    """System time plus an offset read from a file shared by the local stack."""

    __test__ = False  # not a pytest test class

    def __init__(self, var_dir: Path) -> None:
        self.path = var_dir / CLOCK_FILE
        self._offset = timedelta(0)
        self._checked_at = float("-inf")

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset()

    def offset(self) -> timedelta:
        monotonic = time.monotonic()
        if monotonic - self._checked_at >= RELOAD_SECONDS:
            self._checked_at = monotonic
            self._reload()
        return self._offset

    def _reload(self) -> None:
        # Read the (tiny) file every time: an mtime check misses a second move made within
        # one file-system timestamp tick, and the clock would then lag until the next move.
        try:
            seconds = float(json.loads(self.path.read_text())["offset_seconds"])
        except FileNotFoundError:
            self._offset = timedelta(0)
            return
        except (OSError, ValueError, KeyError, TypeError):
            return  # a damaged file: keep the last good offset, retry next time
        self._offset = timedelta(seconds=seconds)

    def set_offset(self, offset: timedelta) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")  # two processes moving it at once don't collide
        tmp.write_text(json.dumps({"offset_seconds": offset.total_seconds()}))
        os.replace(tmp, self.path)  # atomic: readers see the old or the new file
        self._checked_at = float("-inf")

    def set(self, when: datetime) -> None:
        self.set_offset(when - datetime.now(UTC))

    def advance(self, by: timedelta) -> None:
        self._checked_at = float("-inf")
        self.set_offset(self.offset() + by)

    def reset(self) -> None:
        self.set_offset(timedelta(0))


def make_clock(*, production: bool, var_dir: Path) -> Clock:
    return SystemClock() if production else TestClock(var_dir)


def movable_clock(*, production: bool, var_dir: Path) -> TestClock:
    """The test clock, for `itsctl clock`; refuses in production."""
    if production:
        raise TestClockRefused("the clock cannot be moved in production (ITS_ENV=production)")
    return TestClock(var_dir)


_DURATION = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>w|d|h|m|s)")
_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """`1d`, `15m`, `2h30m`, `-1d` → timedelta."""
    text = text.strip().lower()
    sign = -1 if text.startswith("-") else 1
    body = (text[1:] if text.startswith(("+", "-")) else text).replace(" ", "")  # one sign at most
    parts = list(_DURATION.finditer(body))
    if not body or "".join(p.group(0) for p in parts) != body:
        raise ValueError(f"not a duration: {text!r} (use e.g. 1d, 15m, 2h30m)")
    seconds = sum(float(p["n"]) * _UNITS[p["unit"]] for p in parts)
    return timedelta(seconds=sign * seconds)
