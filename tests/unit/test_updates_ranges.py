"""Range and entity-tag parsing of the download handler (RFC 9110 §13, §14), as pure functions."""

from __future__ import annotations

import pytest

from services.updates.ranges import COALESCE_GAP, MAX_RANGES, UNSATISFIABLE, ByteRange, etag_matches, parse_ranges

SIZE = 10_000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-499", [(0, 500)]),
        ("bytes=500-999", [(500, 1000)]),
        ("bytes=9500-", [(9500, SIZE)]),  # open-ended: to the end
        ("bytes=-500", [(9500, SIZE)]),  # suffix: the last 500 bytes
        ("bytes=-20000", [(0, SIZE)]),  # a suffix longer than the kit: all of it
        ("bytes=0-0", [(0, 1)]),
        ("bytes=9999-9999", [(9999, SIZE)]),
        ("bytes=9000-20000", [(9000, SIZE)]),  # last-pos past the end is clipped
        ("bytes=0-", [(0, SIZE)]),
        ("BYTES=0-9", [(0, 10)]),  # the unit is case-insensitive
        ("bytes=0-9, 5000-5009", [(0, 10), (5000, 5010)]),
        ("bytes= 0-9 ,\t5000-5009 ", [(0, 10), (5000, 5010)]),  # optional whitespace
        ("bytes=0-9,,5000-5009,", [(0, 10), (5000, 5010)]),  # empty list elements
        ("bytes=5000-5009,0-9", [(0, 10), (5000, 5010)]),  # sent in file order
        ("bytes=20000-,0-9", [(0, 10)]),  # an unsatisfiable range among others is dropped
        ("bytes=-0,0-9", [(0, 10)]),
    ],
)
def test_satisfiable_ranges(header: str, expected: list[tuple[int, int]]) -> None:
    assert parse_ranges(header, SIZE) == tuple(ByteRange(a, b) for a, b in expected)


@pytest.mark.parametrize(
    "header",
    ["bytes=10000-", "bytes=10000-10005", "bytes=99999999999999999999999-", "bytes=-0", "bytes=20000-,30000-40000"],
)
def test_no_satisfiable_range_is_416(header: str) -> None:
    assert parse_ranges(header, SIZE) == UNSATISFIABLE


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes",
        "bytes=",
        "bytes=,",
        "items=0-9",  # unknown unit
        "bytes =0-9",
        "bytes=a-b",
        "bytes=5-1",  # last before first: an invalid spec voids the header
        "bytes=0-9,5-1",
        "bytes=-",
        "bytes=--5",
        "bytes=+1-5",
        "bytes=1-5-7",
        "bytes=0x10-20",
        "bytes=\u0661-\u0665",  # non-ASCII (Arabic-Indic) digits
        "bytes=0-9;5-6",
    ],
)
def test_a_missing_or_malformed_range_is_ignored(header: str | None) -> None:
    """RFC 9110 §14.2: a server MAY ignore a Range it does not understand; the whole kit is sent."""
    assert parse_ranges(header, SIZE) is None


def test_too_many_ranges_are_ignored_not_served() -> None:
    many = ",".join(f"{n * 200}-{n * 200 + 9}" for n in range(MAX_RANGES))
    assert len(parse_ranges(f"bytes={many}", SIZE) or ()) == MAX_RANGES
    too_many = ",".join(f"{n * 200}-{n * 200 + 9}" for n in range(MAX_RANGES + 1))
    assert parse_ranges(f"bytes={too_many}", SIZE) is None


def test_overlapping_ranges_are_merged_so_the_answer_is_never_larger_than_the_kit() -> None:
    assert parse_ranges("bytes=0-,0-,0-,-10000", SIZE) == (ByteRange(0, SIZE),)
    assert parse_ranges("bytes=0-99,50-149,100-199", SIZE) == (ByteRange(0, 200),)
    assert parse_ranges("bytes=100-199,0-99", SIZE) == (ByteRange(0, 200),)  # adjacent
    assert parse_ranges("bytes=-100,9000-", SIZE) == (ByteRange(9000, SIZE),)


def test_ranges_closer_than_a_part_header_are_merged() -> None:
    near = f"bytes=0-9,{10 + COALESCE_GAP}-{20 + COALESCE_GAP}"
    assert parse_ranges(near, SIZE) == (ByteRange(0, 21 + COALESCE_GAP),)
    far = f"bytes=0-9,{11 + COALESCE_GAP}-{20 + COALESCE_GAP}"
    assert parse_ranges(far, SIZE) == (ByteRange(0, 10), ByteRange(11 + COALESCE_GAP, 21 + COALESCE_GAP))


def test_an_empty_kit_ignores_ranges() -> None:
    assert parse_ranges("bytes=0-", 0) is None
    assert parse_ranges("bytes=-5", 0) is None


def test_content_range_of_a_byte_range() -> None:
    assert ByteRange(0, 500).content_range(SIZE) == "bytes 0-499/10000"
    assert ByteRange(9999, 10000).length == 1


ETAG = '"' + "ab" * 32 + '"'


@pytest.mark.parametrize(
    ("header", "weak", "expected"),
    [
        (ETAG, False, True),
        ("*", False, True),
        (" * ", True, True),
        (f'"other", {ETAG}', False, True),
        (f'"other",{ETAG}', True, True),
        (f"W/{ETAG}", True, True),  # If-None-Match compares weakly
        (f"W/{ETAG}", False, False),  # If-Range and If-Match compare strongly
        ('"other"', True, False),
        (ETAG.strip('"'), True, False),  # unquoted: not an entity-tag
        (f"{ETAG} garbage", True, False),
        ("", True, False),
        ('"a,b", ' + ETAG, False, True),  # a comma inside a tag
        ("Wed, 21 Oct 2015 07:28:00 GMT", False, False),  # an If-Range date never matches: no Last-Modified
    ],
)
def test_entity_tag_lists(header: str, weak: bool, expected: bool) -> None:
    assert etag_matches(header, ETAG, weak=weak) is expected
