"""The shared clock: one test-clock offset for the whole local stack; refused in production."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared import clock as clocks
from shared.clock import RELOAD_SECONDS, SystemClock, TestClock, make_clock, movable_clock, parse_duration

TOLERANCE = timedelta(seconds=2)


def close_to(actual: datetime, expected: datetime) -> bool:
    return abs(actual - expected) < TOLERANCE


def test_without_a_clock_file_the_test_clock_is_the_system_clock(tmp_path: Path) -> None:
    clock = TestClock(tmp_path)
    assert clock.offset() == timedelta(0)
    assert close_to(clock.now(), datetime.now(UTC))
    assert clock.now().tzinfo is not None


def test_a_move_is_seen_by_another_clock_on_the_same_file_within_a_second(tmp_path: Path) -> None:
    mover, other = TestClock(tmp_path), TestClock(tmp_path)
    assert other.offset() == timedelta(0)  # read and cached before the move

    mover.advance(timedelta(days=1))
    assert mover.offset() == timedelta(days=1)  # the mover sees its own move at once
    deadline = time.monotonic() + 1.0
    while other.offset() != timedelta(days=1):
        assert time.monotonic() < deadline, "the other clock did not see the move within a second"
        time.sleep(0.02)
    assert close_to(other.now(), datetime.now(UTC) + timedelta(days=1))

    mover.advance(timedelta(minutes=15))
    time.sleep(RELOAD_SECONDS + 0.05)
    assert other.offset() == timedelta(days=1, minutes=15)


def test_moves_within_one_file_timestamp_tick_are_not_missed(tmp_path: Path) -> None:
    """On file systems with coarse timestamps, two writes can carry the same mtime."""
    mover, other = TestClock(tmp_path), TestClock(tmp_path)
    mover.set_offset(timedelta(hours=1))
    assert other.offset() == timedelta(hours=1)
    assert mover.offset() == timedelta(hours=1)
    stamp = mover.path.stat().st_mtime_ns

    mover.set_offset(timedelta(hours=2))
    os.utime(mover.path, ns=(stamp, stamp))  # the second write landed in the same tick

    assert mover.offset() == timedelta(hours=2)
    time.sleep(RELOAD_SECONDS + 0.05)
    assert other.offset() == timedelta(hours=2)


def test_advance_adds_to_the_current_offset_and_set_and_reset(tmp_path: Path) -> None:
    clock = TestClock(tmp_path)
    clock.advance(timedelta(days=1))
    clock.advance(timedelta(hours=1))
    clock.advance(timedelta(minutes=-30))
    assert clock.offset() == timedelta(days=1, minutes=30)

    target = datetime(2031, 3, 8, 9, 0, tzinfo=UTC)
    clock.set(target)
    assert close_to(clock.now(), target)

    clock.reset()
    assert clock.offset() == timedelta(0)


def test_a_damaged_clock_file_keeps_the_last_good_offset(tmp_path: Path) -> None:
    clock = TestClock(tmp_path)
    clock.set_offset(timedelta(hours=3))
    assert clock.offset() == timedelta(hours=3)
    clock.path.write_text("{not json")
    time.sleep(RELOAD_SECONDS + 0.05)
    assert clock.offset() == timedelta(hours=3)


def test_production_uses_the_system_clock_and_refuses_to_move_it(tmp_path: Path) -> None:
    assert isinstance(make_clock(production=True, var_dir=tmp_path), SystemClock)
    assert isinstance(make_clock(production=False, var_dir=tmp_path), TestClock)
    with pytest.raises(clocks.TestClockRefused):
        movable_clock(production=True, var_dir=tmp_path)
    assert not (tmp_path / "clock.json").exists()
    movable_clock(production=False, var_dir=tmp_path).advance(timedelta(days=1))
    assert (tmp_path / "clock.json").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1d", timedelta(days=1)),
        ("15m", timedelta(minutes=15)),
        ("2h30m", timedelta(hours=2, minutes=30)),
        ("1w2d", timedelta(days=9)),
        ("90s", timedelta(seconds=90)),
        ("1.5h", timedelta(minutes=90)),
        ("-1d", timedelta(days=-1)),
        ("+2h", timedelta(hours=2)),
        (" 1D 2H ", timedelta(days=1, hours=2)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1", "d", "1x", "1d garbage", "1d-2h", "--1d", "+-1d", "-+1d", "1 day"])
def test_parse_duration_refuses_what_it_does_not_understand(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
