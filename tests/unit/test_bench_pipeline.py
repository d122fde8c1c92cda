"""bench/pipeline.py: backlogs drained one after another in a round are timed together: their events over their time,
so a slow backlog weighs by the time it took (not a mean of rates, which would let a fast one hide it)."""

from __future__ import annotations

import pytest

from bench.pipeline import _backlogs_text, _rate


def test_backlogs_in_a_round_are_all_their_events_over_all_their_time() -> None:
    # 1,000 events in 0.5 s and in 0.25 s: 2,000 events in 0.75 s
    assert _rate(1_000, [2_000.0, 4_000.0]) == pytest.approx(2_000 / 0.75)
    assert _rate(1_000, [2_500.0]) == 2_500.0


def test_the_rounds_shape_says_how_many_backlogs() -> None:
    assert _backlogs_text(10_000, 1) == "10,000 events"
    assert _backlogs_text(1_000, 5) == "5 backlogs of 1,000 events, one after another,"
