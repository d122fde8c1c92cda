"""The update graph and the shortest chain of releases (UPD-5), checked on hand-made graphs and against brute force."""

from __future__ import annotations

from collections import deque
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.updates.plan import Chain, NoChain, PlanRelease, PlanResult, UpdateGraph, synthetic_releases
from services.updates.versions import Version

Release = PlanRelease[str]
T = TypeVar("T")


def v(text: str) -> Version:
    return Version.parse(text)


def rel(version: str, *updates_from: str, pre: bool = False, platform: str | None = "8.3.24.1") -> Release:
    return PlanRelease(
        version=v(version),
        updates_from=tuple(map(v, updates_from)),
        min_platform=None if platform is None else v(platform),
        prerelease=pre,
        release_id=f"id-{version}",
    )


def route(result: PlanResult[str]) -> list[str]:
    """The chain as "from->to" steps, after checking it is a chain from current to target."""
    assert isinstance(result, Chain), result
    assert_valid_chain(result)
    return [f"{step.from_version}->{step.release.version}" for step in result.steps]


def assert_valid_chain(chain: Chain[T]) -> None:
    at = chain.current
    for step in chain.steps:
        assert step.from_version == at and at in step.release.updates_from and step.release.version > at
        at = step.release.version
    assert at == chain.target


def no_chain(result: PlanResult[str]) -> NoChain:
    assert isinstance(result, NoChain), result
    return result


# ---- hand-made graphs --------------------------------------------------------------------------------

LINEAR = [rel("3.0.1", "3.0.0"), rel("3.0.2", "3.0.1"), rel("3.0.3", "3.0.2")]

# Two routes from 3.0.1 to 3.0.9: 1->2->3->4->9 (4 steps) and 1->5->9 (2 steps).
BRANCHING = [
    rel("3.0.2", "3.0.1"),
    rel("3.0.3", "3.0.2"),
    rel("3.0.4", "3.0.3"),
    rel("3.0.5", "3.0.1"),
    rel("3.0.9", "3.0.4", "3.0.5"),
]

# Two equally short routes 1->2->9 and 1->3->9: the plan prefers the larger version at each step.
TIE = [rel("3.0.2", "3.0.1"), rel("3.0.3", "3.0.1"), rel("3.0.9", "3.0.2", "3.0.3")]

# Two lines, 3.0 and 3.1; 3.1.1 updates from 3.0.2 only.
LINES = [
    rel("3.0.1", "3.0.0"),
    rel("3.0.2", "3.0.1"),
    rel("3.0.3", "3.0.2"),
    rel("3.1.1", "3.0.2"),
    rel("3.1.2", "3.1.1"),
]


@pytest.mark.parametrize(
    ("releases", "current", "target", "expected"),
    [
        (LINEAR, "3.0.1", None, ["3.0.1->3.0.2", "3.0.2->3.0.3"]),
        (LINEAR, "3.0.1", "3.0.2", ["3.0.1->3.0.2"]),
        # an old installed version that is not a published release, but is in an "updates from" list
        (LINEAR, "3.0.0", None, ["3.0.0->3.0.1", "3.0.1->3.0.2", "3.0.2->3.0.3"]),
        (BRANCHING, "3.0.1", None, ["3.0.1->3.0.5", "3.0.5->3.0.9"]),
        (BRANCHING, "3.0.2", None, ["3.0.2->3.0.3", "3.0.3->3.0.4", "3.0.4->3.0.9"]),
        (TIE, "3.0.1", None, ["3.0.1->3.0.3", "3.0.3->3.0.9"]),
        (LINES, "3.0.1", None, ["3.0.1->3.0.2", "3.0.2->3.1.1", "3.1.1->3.1.2"]),
        (LINES, "3.0.1", "3.0.3", ["3.0.1->3.0.2", "3.0.2->3.0.3"]),
        # a shortcut straight to the newest wins over the step-by-step route
        ([*LINEAR, rel("3.0.4", "3.0.3", "3.0.0")], "3.0.0", None, ["3.0.0->3.0.4"]),
    ],
)
def test_the_plan_is_the_shortest_chain(
    releases: list[Release], current: str, target: str | None, expected: list[str]
) -> None:
    graph = UpdateGraph(releases)
    result = graph.plan(v(current), None if target is None else v(target))
    assert route(result) == expected
    assert isinstance(result, Chain) and result.target == (v(target) if target else graph.newest())
    assert [s.release.release_id for s in result.steps] == [f"id-{e.split('->')[1]}" for e in expected]


def test_up_to_date_is_an_empty_chain() -> None:
    graph = UpdateGraph(LINEAR)
    for current, target in [("3.0.3", None), ("3.0.2", "3.0.2"), ("2.9", "2.9")]:
        result = graph.plan(v(current), None if target is None else v(target))
        assert isinstance(result, Chain) and result.up_to_date and result.steps == ()
        assert result.current == result.target == v(current)


def test_a_downgrade_or_self_reference_in_the_data_is_no_step_and_cannot_loop() -> None:
    # 3.0.2 claims to update from 3.0.3 and 3.0.3 from 3.0.2: a cycle in the data. 3.0.4 lists itself.
    graph = UpdateGraph(
        [
            rel("3.0.1", "3.0.0"),
            rel("3.0.2", "3.0.1", "3.0.3"),
            rel("3.0.3", "3.0.2"),
            rel("3.0.4", "3.0.3", "3.0.4", "3.0.5"),
            rel("3.0.5", "3.0.4"),
        ]
    )
    assert graph.ignored_edges == ((v("3.0.3"), v("3.0.2")), (v("3.0.4"), v("3.0.4")), (v("3.0.5"), v("3.0.4")))
    assert route(graph.plan(v("3.0.1"))) == ["3.0.1->3.0.2", "3.0.2->3.0.3", "3.0.3->3.0.4", "3.0.4->3.0.5"]
    assert route(graph.plan(v("3.0.3"), v("3.0.5"))) == ["3.0.3->3.0.4", "3.0.4->3.0.5"]
    refused = no_chain(graph.plan(v("3.0.5"), v("3.0.2")))
    assert refused.reason == "target-older-than-current" and refused.reachable == ()


# 3.0.1 -> 3.0.2 (prerelease) -> 3.0.9, or the longer stable route 3.0.1 -> 3.0.3 -> 3.0.4 -> 3.0.9;
# 3.0.10 is a prerelease newer than every stable release.
WITH_PRERELEASES = [
    rel("3.0.2", "3.0.1", pre=True),
    rel("3.0.3", "3.0.1"),
    rel("3.0.4", "3.0.3"),
    rel("3.0.9", "3.0.2", "3.0.4"),
    rel("3.0.10", "3.0.9", pre=True),
]


def test_steps_go_to_a_prerelease_only_when_allowed() -> None:
    graph = UpdateGraph(WITH_PRERELEASES)
    assert graph.newest() == v("3.0.9") and graph.newest(allow_prerelease=True) == v("3.0.10")
    assert route(graph.plan(v("3.0.1"))) == ["3.0.1->3.0.3", "3.0.3->3.0.4", "3.0.4->3.0.9"]
    assert route(graph.plan(v("3.0.1"), v("3.0.9"), allow_prerelease=True)) == ["3.0.1->3.0.2", "3.0.2->3.0.9"]
    assert route(graph.plan(v("3.0.1"), allow_prerelease=True)) == ["3.0.1->3.0.2", "3.0.2->3.0.9", "3.0.9->3.0.10"]
    # a client already on a prerelease updates from it without allowing prereleases
    assert route(graph.plan(v("3.0.2"))) == ["3.0.2->3.0.9"]


def test_an_explicit_prerelease_target_needs_allow_prerelease() -> None:
    graph = UpdateGraph(WITH_PRERELEASES)
    refused = no_chain(graph.plan(v("3.0.9"), v("3.0.10")))
    assert refused.reason == "target-is-prerelease" and "allow prereleases" in refused.detail
    assert refused.reachable == () and refused.newest_reachable is None  # 3.0.10 is the only thing after 3.0.9
    assert route(graph.plan(v("3.0.9"), v("3.0.10"), allow_prerelease=True)) == ["3.0.9->3.0.10"]


def test_when_only_prereleases_update_from_current_the_answer_says_so() -> None:
    graph = UpdateGraph([rel("3.0.2", "3.0.1", pre=True), rel("3.0.3", "3.0.2")])
    refused = no_chain(graph.plan(v("3.0.1")))
    assert refused.reason == "no-release-updates-from-current" and "only prereleases" in refused.detail
    assert route(graph.plan(v("3.0.1"), allow_prerelease=True)) == ["3.0.1->3.0.2", "3.0.2->3.0.3"]


def test_an_unreachable_target_lists_what_can_be_reached() -> None:
    # 3.0.x and 3.1.x are separate lines with no bridge; 3.0.5 updates from 3.0.3 only.
    graph = UpdateGraph(
        [
            rel("3.0.2", "3.0.1"),
            rel("3.0.3", "3.0.2"),
            rel("3.0.4", "3.0.2"),
            rel("3.0.5", "3.0.3"),
            rel("3.1.1", "3.1.0"),
            rel("3.1.2", "3.1.1"),
        ]
    )
    refused = no_chain(graph.plan(v("3.0.1")))
    assert refused.reason == "no-chain-to-target" and refused.target == v("3.1.2")
    assert refused.reachable == tuple(map(v, ["3.0.2", "3.0.3", "3.0.4", "3.0.5"]))
    assert refused.newest_reachable == v("3.0.5") and "3.0.5" in refused.detail
    refused = no_chain(graph.plan(v("3.0.4"), v("3.0.5")))
    assert refused.reason == "no-release-updates-from-current" and refused.reachable == ()
    assert route(graph.plan(v("3.0.1"), v("3.0.5"))) == ["3.0.1->3.0.2", "3.0.2->3.0.3", "3.0.3->3.0.5"]


@pytest.mark.parametrize(
    ("current", "target", "reason", "reachable"),
    [
        ("3.0.5", None, "current-newer-than-newest", []),  # a newer build than anything published
        ("3.0.3", "3.0.2", "target-older-than-current", []),
        ("3.0.1", "3.0.1.5", "unknown-target", ["3.0.2", "3.0.3"]),
        ("3.0.1", "3.0.0", "unknown-target", ["3.0.2", "3.0.3"]),  # known only from "updates from": no release
        ("2.9.9", None, "no-release-updates-from-current", []),  # a version the graph has never heard of
        ("3.0.1.1", "3.0.3", "no-release-updates-from-current", []),
    ],
)
def test_no_chain_says_why(current: str, target: str | None, reason: str, reachable: list[str]) -> None:
    graph = UpdateGraph(LINEAR)
    refused = no_chain(graph.plan(v(current), None if target is None else v(target)))
    assert refused.reason == reason and refused.detail and refused.current == v(current)
    assert refused.target == (v(target) if target else v("3.0.3"))
    assert refused.reachable == tuple(map(v, reachable))
    assert refused.newest_reachable == (v(reachable[-1]) if reachable else None)


def test_an_empty_catalogue_or_only_prereleases_has_no_target() -> None:
    refused = no_chain(UpdateGraph[str]([]).plan(v("3.0.1")))
    assert refused.reason == "no-releases" and refused.target is None
    graph = UpdateGraph([rel("3.0.2", "3.0.1", pre=True)])
    assert graph.newest() is None and no_chain(graph.plan(v("3.0.1"))).reason == "no-releases"
    assert route(graph.plan(v("3.0.1"), allow_prerelease=True)) == ["3.0.1->3.0.2"]


def test_a_configuration_has_one_release_per_version() -> None:
    with pytest.raises(ValueError, match=r"two releases of version 3\.0\.1"):
        UpdateGraph([rel("3.0.1", "3.0.0"), rel("3.0.1", "2.9")])


def test_the_graph_answers_the_catalogue() -> None:
    graph = UpdateGraph(list(reversed(LINEAR)))
    assert len(graph) == 3 and [r.version for r in graph.releases] == list(map(v, ["3.0.1", "3.0.2", "3.0.3"]))
    assert graph.release(v("3.0.2")) == LINEAR[1] and graph.release(v("3.0.0")) is None
    assert graph.reachable(v("3.0.0")) == tuple(map(v, ["3.0.1", "3.0.2", "3.0.3"]))
    assert graph.plan(v("3.0.1")) == graph.plan(v("3.0.1"))  # memoised or not, the same answer


# ---- synthetic catalogues ----------------------------------------------------------------------------


def test_synthetic_catalogues_are_reproducible_and_shaped_like_real_ones() -> None:
    releases = synthetic_releases(600, seed=7)
    assert releases == synthetic_releases(600, seed=7) and releases != synthetic_releases(600, seed=8)
    assert len(releases) == 600 and len({r.version for r in releases}) == 600
    assert len({r.release_id for r in releases}) == 600
    assert {r.version.key[:2] for r in releases} == {(3, 0), (3, 1), (3, 2)}
    assert all(u < r.version for r in releases for u in r.updates_from)
    assert any(r.prerelease for r in releases) and sum(r.prerelease for r in releases) < 100
    assert any(u.key[:2] != r.version.key[:2] for r in releases[1:] for u in r.updates_from)  # cross-line
    graph = UpdateGraph(releases)
    assert graph.ignored_edges == ()
    newest = graph.newest()
    assert newest is not None and newest.key[:2] == (3, 2)
    for start in [v("2.9.9.9"), releases[0].version, releases[300].version]:
        chain = graph.plan(start)
        assert isinstance(chain, Chain) and chain.steps and all(not s.release.prerelease for s in chain.steps)
        assert_valid_chain(chain)


def test_a_big_catalogue_answers_every_current_version() -> None:
    releases = synthetic_releases(5000, seed=1)
    graph = UpdateGraph(releases)
    for release in releases[::50]:
        result = graph.plan(release.version)
        assert isinstance(result, Chain) or result.reason in {"no-chain-to-target", "no-release-updates-from-current"}


# ---- property: valid, and no shorter (or preferred) chain exists ----------------------------------------

POOL = [Version((1, i)) for i in range(9)]


@st.composite
def catalogues(draw: st.DrawFn) -> list[Release]:
    published = draw(st.lists(st.sampled_from(POOL[1:]), unique=True, max_size=8))
    return [
        PlanRelease(
            version=version,
            # any version of the pool, newer ones and itself included: those are data errors, no steps
            updates_from=tuple(draw(st.lists(st.sampled_from(POOL), max_size=4))),
            min_platform=None,
            prerelease=draw(st.booleans()),
            release_id=str(version),
        )
        for version in published
    ]


def brute_force(
    releases: list[Release], current: Version, target: Version, allow: bool
) -> tuple[set[Version], list[list[Version]]]:
    """What is reachable from current, and every shortest chain to target as its list of versions."""
    steps = {
        r.version: [u for u in r.updates_from if u < r.version]
        for r in releases
        if allow or not r.prerelease  # a step may go to it
    }
    reachable: set[Version] = set()
    queue = deque([current])
    while queue:
        at = queue.popleft()
        for to, sources in steps.items():
            if at in sources and to not in reachable:
                reachable.add(to)
                queue.append(to)
    shortest: list[list[Version]] = []
    paths = [[current]]
    while paths and not shortest:
        paths = [[*p, to] for p in paths for to, sources in steps.items() if p[-1] in sources]
        shortest = [p for p in paths if p[-1] == target]
    return reachable, shortest


@settings(max_examples=400, deadline=None)
@given(
    catalogues(),
    st.sampled_from([*POOL, Version((9, 9))]),
    st.none() | st.sampled_from(POOL),
    st.booleans(),
)
def test_every_chain_is_valid_and_none_is_shorter(
    releases: list[Release], current: Version, target: Version | None, allow: bool
) -> None:
    graph = UpdateGraph(releases)
    result = graph.plan(current, target, allow)
    admitted = [r for r in releases if allow or not r.prerelease]
    goal = target if target is not None else max((r.version for r in admitted), default=None)
    if goal is None:
        assert no_chain(result).reason == "no-releases"
        return
    reachable, shortest = brute_force(releases, current, goal, allow)
    if isinstance(result, Chain):
        assert_valid_chain(result)
        assert result.current == current and result.target == goal
        assert all(allow or not s.release.prerelease for s in result.steps)
        if current == goal:
            assert result.steps == ()
        else:
            versions = [current, *(s.release.version for s in result.steps)]
            assert versions in shortest and versions == max(shortest)  # fewest steps; then larger at each step
        return
    assert result.reachable == tuple(sorted(reachable))
    assert result.newest_reachable == (max(reachable) if reachable else None)
    by_version = {r.version: r for r in releases}
    goal_release = by_version.get(goal)
    if goal_release is None or (goal_release.prerelease and not allow) or goal < current:
        assert result.reason in {
            "unknown-target",
            "target-is-prerelease",
            "target-older-than-current",
            "current-newer-than-newest",
        }
    else:
        assert shortest == [] and current != goal
        assert result.reason == ("no-chain-to-target" if reachable else "no-release-updates-from-current")
