"""bench/scaling.py's table (issue 19): a row a point with its ratio, the rounds' range, target and verdict; a point
that is information only has no target and no verdict; a NOISY point counts as not at target; the clients' versions
of the update-plan points always have a chain to the newest release."""

from __future__ import annotations

import pytest

from bench.common import Result
from bench.scaling import Point, summary, table
from bench.update_plan import BEHIND, clients_versions
from services.updates.plan import Chain, NoChain, UpdateGraph
from services.updates.public import Version, synthetic_releases


def result(
    figure: float,
    rounds: list[float],
    *,
    unit: str = "req/s",
    higher_is_better: bool = True,
    target: float | None = 0.5,
) -> Result:
    return Result(
        name="x",
        figure=figure,
        reference=100.0,
        unit=unit,
        figure_label="service",
        reference_label="bare",
        target=target,
        higher_is_better=higher_is_better,
        rounds=rounds,
    )


POINTS = [
    Point("update-plan rate", "500 releases", result(60.0, [0.55, 0.6, 0.65])),
    Point("update-plan rate", "50,000 releases", result(40.0, [0.35, 0.4, 0.45])),
    Point("update-plan memory", "500 releases", result(250.0, [], unit="MiB", target=None), notes=("5 kB a release",)),
    Point("processing day", "10,000 contracts", result(60.0, [0.3, 0.6, 0.7], unit="s", higher_is_better=False)),
]


def test_a_row_a_point_with_its_ratio_range_target_and_verdict() -> None:
    lines = table(POINTS)
    assert lines[0].split() == ["workload", "work", "figure", "reference", "ratio", "(rounds)", "target", "result"]
    assert set(lines[1]) == {"-", " "}
    rows = lines[2:6]
    assert rows[0].startswith("update-plan rate") and "500 releases" in rows[0]
    assert "60.0 req/s (service)" in rows[0] and "100 req/s (bare)" in rows[0]
    assert "0.60x (0.55x-0.65x)" in rows[0] and "≥ 0.50x" in rows[0] and rows[0].endswith("PASS")
    assert rows[1].endswith("BELOW")
    assert "2.50x" in rows[2] and rows[2].endswith("-")  # information: no target, no verdict
    assert "≤ 0.50x" in rows[3] and rows[3].endswith("NOISY")  # 0.7 / 0.3 > 2
    assert rows[0].index("0.60x") == rows[2].index("2.50x") == lines[0].index("ratio")  # the columns line up
    assert lines[6:] == ["update-plan memory, 500 releases:", "  5 kB a release"]


def test_the_summary_counts_the_judged_points_at_target() -> None:
    outcome = summary(POINTS, 12.0)
    assert (outcome.figure, outcome.reference) == (1, 3)  # PASS, BELOW, NOISY; the memory point is not judged
    assert outcome.verdict == "BELOW"
    assert "BELOW: update-plan rate at 50,000 releases" in outcome.details
    assert "NOISY (rounds spread > 2x, not results): processing day at 10,000 contracts" in outcome.details


@pytest.mark.parametrize("size", [500, 5_000])
def test_every_clients_version_has_a_chain_to_the_newest(size: int) -> None:
    releases = synthetic_releases(size, 6)
    graph = UpdateGraph(releases)
    versions = clients_versions(releases)
    assert len(versions) == len(BEHIND)
    for version in versions:
        assert isinstance(graph.plan(Version.parse(version)), Chain), version
    if size == 5_000:  # as bench/update_plan.py asks: every one of its versions has a chain
        assert versions == [str(releases[-1 - behind].version) for behind in BEHIND]
    else:  # in a small catalogue some do not, and are moved on to a newer release that has
        assert any(isinstance(graph.plan(releases[-1 - behind].version), NoChain) for behind in BEHIND)
