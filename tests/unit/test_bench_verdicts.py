"""bench's verdicts (issue 19): a ratio at or beyond its target passes, short of it is BELOW, and a figure whose
alternating rounds spread by more than 2x is NOISY rather than a result; the table shows the rounds' range."""

from __future__ import annotations

import dataclasses
import io

import pytest

from bench.common import Result, print_table


def result(figure: float, rounds: list[float], *, higher_is_better: bool = True) -> Result:
    return Result(
        name="GET /x",
        figure=figure,
        reference=100.0,
        unit="req/s",
        figure_label="service",
        reference_label="bare",
        target=0.5,
        higher_is_better=higher_is_better,
        rounds=rounds,
    )


@pytest.mark.parametrize(
    ("figure", "rounds", "verdict"),
    [
        (60.0, [0.55, 0.6, 0.65], "PASS"),
        (40.0, [0.35, 0.4, 0.45], "BELOW"),
        (60.0, [0.3, 0.6, 0.61], "NOISY"),  # 0.61 / 0.3 > 2
        (60.0, [0.31, 0.6, 0.62], "PASS"),  # exactly 2x: still a result
        (60.0, [], "PASS"),  # a benchmark without rounds is judged on its figure
        (60.0, [0.0, 0.6], "NOISY"),  # a round that measured nothing
    ],
)
def test_a_figure_passes_falls_below_or_is_noisy(figure: float, rounds: list[float], verdict: str) -> None:
    assert result(figure, rounds).verdict == verdict


def test_a_figure_with_no_target_is_reported_not_judged() -> None:
    # A target of 0 would always PASS: a figure without a target says so instead.
    reported = dataclasses.replace(result(60.0, [0.55, 0.6, 0.65]), target=None)
    assert reported.verdict == "-" and not reported.passed
    out = io.StringIO()
    print_table([reported], out)
    row = out.getvalue().splitlines()[2]
    assert row.split()[-2:] == ["-", "-"]  # no target, no verdict
    assert dataclasses.replace(reported, rounds=[0.2, 0.6]).verdict == "NOISY"


def test_alternating_rounds_are_judged_on_the_median_of_their_ratios() -> None:
    # The medians' ratio would be 45 / 100 (BELOW); each round's pair shared the machine, and most pairs pass.
    judged = result(45.0, [0.4, 0.55, 0.6])
    assert judged.ratio == 0.55 and judged.verdict == "PASS"


def test_lower_is_better_passes_at_or_under_its_target() -> None:
    assert result(40.0, [0.4, 0.41, 0.42], higher_is_better=False).verdict == "PASS"
    assert result(60.0, [0.6, 0.61, 0.62], higher_is_better=False).verdict == "BELOW"


def test_the_table_shows_the_rounds_range_and_the_verdict() -> None:
    out = io.StringIO()
    print_table([result(60.0, [0.55, 0.6, 0.65]), result(60.0, [0.2, 0.6, 0.7])], out)
    lines = out.getvalue().splitlines()
    assert "0.60x (0.55x to 0.65x)" in lines[2] and lines[2].endswith("PASS")
    assert "0.60x (0.20x to 0.70x)" in lines[3] and lines[3].endswith("NOISY")
