"""Range and entity-tag parsing for kit downloads (RFC 9110 §13, §14), pure: which bytes of a kit a request
asks for, and whether an If-Match / If-None-Match / If-Range list names the kit's entity tag.

Range policy (RFC 9110 §14.2 lets a server ignore or coalesce ranges):
- a malformed Range, an unknown unit, or a Range on HEAD is ignored: the whole kit, 200;
- more than MAX_RANGES ranges is ignored too (200, never more bytes than a plain GET);
- overlapping ranges, or ranges closer than COALESCE_GAP bytes, are merged and the parts sent in file order,
  so a request like `bytes=0-,0-,0-` can never make the answer larger than the kit;
- a range set none of whose ranges is satisfiable → 416 with `Content-Range: bytes */size`;
- an empty kit has no satisfiable range: the Range is ignored (200, empty body).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_RANGES = 16
# Ranges closer than a multipart part's own headers are sent as one (RFC 9110 §14.2 allows it).
COALESCE_GAP = 80
_RANGE_SPEC = re.compile(r"([0-9]+)-([0-9]*)|-([0-9]+)")
_ENTITY_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')


@dataclass(frozen=True, order=True)
class ByteRange:
    """Bytes [start, stop) of the kit."""

    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.stop - 1}/{size}"


UNSATISFIABLE: tuple[ByteRange, ...] = ()


def parse_ranges(header: str | None, size: int) -> tuple[ByteRange, ...] | None:
    """The ranges to send for a `Range` header and a kit of `size` bytes (RFC 9110 §14.1-14.2).

    None: send the whole kit (no header, malformed, unknown unit, too many ranges, empty kit).
    UNSATISFIABLE (empty): 416. Otherwise sorted, non-overlapping ranges (overlaps and near ones merged).
    """
    if header is None or size == 0:
        return None
    unit, equals, range_set = header.partition("=")
    if not equals or unit.lower() != "bytes":
        return None
    # Empty list elements (", ,") are allowed by the list syntax (RFC 9110 §5.6.1).
    specs = [spec for spec in (part.strip(" \t") for part in range_set.split(",")) if spec]
    if not specs or len(specs) > MAX_RANGES:
        return None
    wanted: list[ByteRange] = []
    for spec in specs:
        match = _RANGE_SPEC.fullmatch(spec)
        if match is None:
            return None
        first, last, suffix = match.groups()
        if suffix is not None:
            length = _number(suffix)
            if length > 0:
                wanted.append(ByteRange(max(0, size - length), size))
            continue
        start = _number(first)
        if last and _number(last) < start:  # an invalid range-spec makes the whole header invalid
            return None
        if start < size:
            wanted.append(ByteRange(start, size if not last else min(_number(last) + 1, size)))
    if not wanted:
        return UNSATISFIABLE
    wanted.sort()
    merged = [wanted[0]]
    for current in wanted[1:]:
        previous = merged[-1]
        if current.start <= previous.stop + COALESCE_GAP:
            merged[-1] = ByteRange(previous.start, max(previous.stop, current.stop))
        else:
            merged.append(current)
    return tuple(merged)


def _number(digits: str) -> int:
    # Positions beyond any kit are all alike; avoids parsing a header-long number.
    return int(digits) if len(digits) <= 18 else 10**18


def etag_matches(header: str, etag: str, *, weak: bool) -> bool:
    """Whether an If-Match/If-None-Match/If-Range list names `etag` (a quoted strong tag); `*` names any.
    `weak=False` is the strong comparison: W/ tags never match. A malformed list matches nothing."""
    if header.strip() == "*":
        return True
    position, opaque = 0, etag.strip('"')
    while position < len(header):
        match = _ENTITY_TAG.match(header, position)
        if match is None or match.end() == position:
            return False
        if match.group(2) == opaque and (weak or match.group(1) is None):
            return True
        position = match.end()
    return False
