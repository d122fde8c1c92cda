"""The update graph of one configuration and the shortest chain of releases through it (UPD-5). Pure: no I/O.

A release r can be installed over version u when u is in r's "updates from" list (UPD-1): that is the
edge u -> r. u need not be a published release (an old installed version is a node of the graph too).
The graph is built once per catalogue change and then queried many times, so everything a query needs is
precomputed or memoised:

- nodes are numbered in version order, so "the larger version" is "the larger number";
- for a target, one breadth-first search over the reversed edges gives every node's distance to it and,
  per node, the next step of a shortest chain (memoised per target and prerelease setting); a plan is then
  a walk of as many steps as the chain has.

Our decisions (documented here, relied on by the update-plan API):
- A step always goes to a NEWER version. An "updates from" entry that is not older than its release (a
  downgrade or a self-reference in the data) is no edge; such entries are listed in `ignored_edges` for
  the catalogue to warn about. Data cycles therefore cannot make a plan loop.
- Among chains of the fewest steps, the plan takes at each step the largest version that still lies on a
  shortest chain (deterministic; favours the newer branch when two branches are equally short).
- A step never goes to a prerelease unless `allow_prerelease`; that holds for the target too: an explicit
  prerelease target without `allow_prerelease` is refused ("target-is-prerelease"), it does not silently
  allow prereleases. The current version may be a prerelease: it is where the client already is.
- current == target: an empty chain ("up to date"), even when current is not a published release.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, Literal, NamedTuple, TypeVar

from services.updates.versions import Version

IdT = TypeVar("IdT")

# Memo sizes: per target a plan needs two int lists of the graph's size; reachable sets are only asked
# for when there is no chain. Bounded, because targets and current versions come from clients.
TARGET_MEMO = 32
REACHABLE_MEMO = 256


@dataclass(frozen=True, slots=True)
class PlanRelease(Generic[IdT]):
    """What the plan needs of one published release of the configuration; `release_id` is opaque to it."""

    version: Version
    updates_from: tuple[Version, ...]
    min_platform: Version | None
    prerelease: bool
    release_id: IdT


class Step(NamedTuple, Generic[IdT]):
    """Install `release` over `from_version` (which is in `release.updates_from`)."""

    from_version: Version
    release: PlanRelease[IdT]


@dataclass(frozen=True, slots=True)
class Chain(Generic[IdT]):
    """The shortest chain from `current` to `target`; no steps when current == target (up to date)."""

    current: Version
    target: Version
    steps: tuple[Step[IdT], ...]

    @property
    def up_to_date(self) -> bool:
        return not self.steps


NoChainReason = Literal[
    "no-releases",  # nothing published (that the prerelease setting admits): no target
    "unknown-target",  # the target asked for is not a published release
    "target-is-prerelease",  # the target asked for is a prerelease and prereleases are not allowed
    "target-older-than-current",  # the target asked for is older than the current version
    "current-newer-than-newest",  # no target asked for, and current is newer than the newest release
    "no-release-updates-from-current",  # no (admitted) release lists the current version in "updates from"
    "no-chain-to-target",  # some releases can be reached, but no chain leads to the target
]


@dataclass(frozen=True, slots=True)
class NoChain:
    """Why there is no chain, and what can be reached from `current` instead (sorted, oldest first)."""

    current: Version
    target: Version | None  # None only with "no-releases"
    reason: NoChainReason
    detail: str
    reachable: tuple[Version, ...]
    newest_reachable: Version | None


PlanResult = Chain[IdT] | NoChain


class _Towards(NamedTuple, Generic[IdT]):
    """A reverse BFS from one target: per node, steps to the target (-1: none) and the next node of the plan."""

    distance: list[int]
    next_node: list[int]
    step: dict[int, Step[IdT]]  # the step out of a node, made when a plan first passes it (shared after)


class UpdateGraph(Generic[IdT]):
    """The immutable update graph of one configuration's published releases (UPD-5). Build a new one on change."""

    def __init__(self, releases: Iterable[PlanRelease[IdT]]) -> None:
        by_version: dict[Version, PlanRelease[IdT]] = {}
        for release in releases:
            if release.version in by_version:
                raise ValueError(f"two releases of version {release.version} in one configuration")
            by_version[release.version] = release
        nodes = set(by_version)
        for release in by_version.values():
            nodes.update(release.updates_from)
        versions = sorted(nodes)
        index = {version: i for i, version in enumerate(versions)}
        successors: list[list[int]] = [[] for _ in versions]
        predecessors: list[list[int]] = [[] for _ in versions]
        ignored: list[tuple[Version, Version]] = []
        for release in by_version.values():
            to = index[release.version]
            for source in set(release.updates_from):
                at = index[source]
                if at >= to:
                    ignored.append((source, release.version))
                    continue
                successors[at].append(to)
                predecessors[to].append(at)

        self._versions: tuple[Version, ...] = tuple(versions)
        self._index = index
        self._release: tuple[PlanRelease[IdT] | None, ...] = tuple(by_version.get(v) for v in versions)
        self._successors = tuple(tuple(sorted(s)) for s in successors)
        self._predecessors = tuple(tuple(p) for p in predecessors)
        # _enterable[allow_prerelease][node]: may a step go to this node?
        self._enterable = (
            tuple(r is not None and not r.prerelease for r in self._release),
            tuple(r is not None for r in self._release),
        )
        self._newest = (
            max((r.version for r in by_version.values() if not r.prerelease), default=None),
            max(by_version, default=None),
        )
        self.ignored_edges: tuple[tuple[Version, Version], ...] = tuple(sorted(ignored))
        """(from_version, release version) pairs of "updates from" entries that are no step (not older)."""
        # Per instance, so that a graph and its memos go away together when the catalogue changes.
        self._towards = lru_cache(maxsize=TARGET_MEMO)(self._towards_uncached)
        self._reachable = lru_cache(maxsize=REACHABLE_MEMO)(self._reachable_uncached)

    # ---- the catalogue ------------------------------------------------------------------------------

    def __len__(self) -> int:
        """The number of published releases."""
        return sum(r is not None for r in self._release)

    @property
    def releases(self) -> tuple[PlanRelease[IdT], ...]:
        """The published releases, oldest first."""
        return tuple(r for r in self._release if r is not None)

    def release(self, version: Version) -> PlanRelease[IdT] | None:
        at = self._index.get(version)
        return None if at is None else self._release[at]

    def newest(self, allow_prerelease: bool = False) -> Version | None:
        """The newest published release (a prerelease only when allowed), or None when there is none."""
        return self._newest[allow_prerelease]

    # ---- the plan (UPD-5) ---------------------------------------------------------------------------

    def plan(self, current: Version, target: Version | None = None, allow_prerelease: bool = False) -> PlanResult[IdT]:
        """The shortest chain of releases from `current` to `target` (default: the newest), or why there is none."""
        asked = target
        if target is None:
            target = self._newest[allow_prerelease]
            if target is None:
                detail = "no release is published" + ("" if allow_prerelease else " except prereleases")
                return self._no_chain(current, None, "no-releases", detail, allow_prerelease)
        if current == target:
            return Chain(current, target, ())
        to = self._index.get(target)
        release = None if to is None else self._release[to]
        if to is None or release is None:
            return self._no_chain(
                current, target, "unknown-target", f"{target} is not a published release", allow_prerelease
            )
        if release.prerelease and not allow_prerelease:
            detail = f"{target} is a prerelease; allow prereleases to update to it"
            return self._no_chain(current, target, "target-is-prerelease", detail, allow_prerelease)
        if current > target:
            if asked is None:
                detail = f"{current} is newer than the newest published release {target}"
                return self._no_chain(current, target, "current-newer-than-newest", detail, allow_prerelease)
            detail = f"the target {target} is older than the current version {current}"
            return self._no_chain(current, target, "target-older-than-current", detail, allow_prerelease)
        at = self._index.get(current)
        enterable = self._enterable[allow_prerelease]
        if at is None or not any(enterable[s] for s in self._successors[at]):
            detail = f"no published release updates from {current}"
            if at is not None and not allow_prerelease and self._successors[at]:
                detail += "; only prereleases do, allow prereleases to see them"
            return self._no_chain(current, target, "no-release-updates-from-current", detail, allow_prerelease)
        towards = self._towards(to, allow_prerelease)
        if towards.distance[at] < 0:
            reachable = self._reachable(at, allow_prerelease)
            detail = f"no chain of releases leads from {current} to {target}; the newest reachable is {reachable[-1]}"
            return NoChain(current, target, "no-chain-to-target", detail, reachable, reachable[-1])
        steps: list[Step[IdT]] = []
        step_out = towards.step
        next_node = towards.next_node
        while at != to:
            step = step_out.get(at)
            if step is None:
                after = self._release[next_node[at]]
                assert after is not None  # a next node is always a release: only releases have predecessors
                step = step_out[at] = Step(self._versions[at], after)
            steps.append(step)
            at = next_node[at]
        return Chain(current, target, tuple(steps))

    def reachable(self, current: Version, allow_prerelease: bool = False) -> tuple[Version, ...]:
        """Every release some chain from `current` reaches, oldest first."""
        at = self._index.get(current)
        return () if at is None else self._reachable(at, allow_prerelease)

    # ---- internals ----------------------------------------------------------------------------------

    def _no_chain(
        self, current: Version, target: Version | None, reason: NoChainReason, detail: str, allow_prerelease: bool
    ) -> NoChain:
        reachable = self.reachable(current, allow_prerelease)
        return NoChain(current, target, reason, detail, reachable, reachable[-1] if reachable else None)

    def _towards_uncached(self, to: int, allow_prerelease: bool) -> _Towards[IdT]:
        """BFS over reversed edges from `to`, level by level; ties go to the larger next node."""
        size = len(self._versions)
        distance = [-1] * size
        next_node = [-1] * size
        predecessors = self._predecessors
        enterable = self._enterable[allow_prerelease]
        distance[to] = 0
        frontier = [to]
        level = 0
        while frontier:
            level += 1
            reached: list[int] = []
            for node in frontier:
                for before in predecessors[node]:
                    seen = distance[before]
                    if seen < 0:
                        distance[before] = level
                        next_node[before] = node
                        # A node no step may go to can still start a chain (the client is there already).
                        if enterable[before]:
                            reached.append(before)
                    elif seen == level and node > next_node[before]:
                        next_node[before] = node
            frontier = reached
        return _Towards(distance, next_node, {})

    def _reachable_uncached(self, start: int, allow_prerelease: bool) -> tuple[Version, ...]:
        successors = self._successors
        enterable = self._enterable[allow_prerelease]
        seen = {start}
        stack = [start]
        while stack:
            for after in successors[stack.pop()]:
                if after not in seen and enterable[after]:
                    seen.add(after)
                    stack.append(after)
        seen.discard(start)
        return tuple(self._versions[i] for i in sorted(seen))


# ---- synthetic catalogues (tests and `make bench`) ----------------------------------------------------


def synthetic_releases(n: int, seed: int) -> list[PlanRelease[uuid.UUID]]:
    """`n` releases of one configuration shaped like a real catalogue, in publication order, reproducible by `seed`.

    Three lines (3.0, 3.1, 3.2) open one after another (at 0, n/4 and n/2) and then live side by side, the
    newest getting most releases. A release updates from the previous 1-3 releases of its line and always
    from the line's newest non-prerelease; about one in ten also from a recent release of an older line; one
    in fifty is cumulative and also updates from a release 10-50 back. The first release of a line updates
    from the newest release of the line before; the very first from an old, unpublished 2.9.9.9. About one
    release in twenty is a prerelease.
    """
    rng = random.Random(seed)  # noqa: S311  # reproducible test data, not secrets
    starts = [0, n // 4, n // 2]
    lines: list[list[PlanRelease[uuid.UUID]]] = [[], [], []]
    out: list[PlanRelease[uuid.UUID]] = []
    for i in range(n):
        opened = [line for line, start in enumerate(starts) if start <= i]
        if i in starts[1:]:
            line = opened[-1]  # a new line opens with its first release
        else:
            weights = [1.0] * (len(opened) - 1) + [3.0]
            line = rng.choices(opened, weights)[0]
        history = lines[line]
        count = len(history)
        version = Version((3, line, 1 + count // 100, count % 100))
        sources: set[Version] = set()
        if not history:
            older = lines[line - 1] if line else []
            sources.add(older[-1].version if older else Version((2, 9, 9, 9)))
        else:
            sources.update(r.version for r in history[-rng.randint(1, 3) :])
            stable = next((r for r in reversed(history) if not r.prerelease), None)
            if stable is not None:
                sources.add(stable.version)
            if line and rng.random() < 0.1:
                older = lines[rng.randrange(line)]
                sources.update(r.version for r in older[-rng.randint(1, 5) :][:1])
            if count > 10 and rng.random() < 0.02:
                sources.add(history[-rng.randint(10, min(50, count))].version)
        release = PlanRelease(
            version=version,
            updates_from=tuple(sorted(sources)),
            min_platform=Version((8, 3, 20 + 8 * i // max(n, 1), 1000 + i % 7 * 10)),
            prerelease=bool(history) and rng.random() < 0.05,
            release_id=uuid.UUID(int=rng.getrandbits(128), version=4),
        )
        history.append(release)
        out.append(release)
    return out
