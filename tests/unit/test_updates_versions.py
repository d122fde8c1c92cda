"""Release versions (UPD-1, UPD-5): one canonical spelling, numeric order part by part."""

from __future__ import annotations

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.updates.versions import MAX_LENGTH, MAX_PART, Version

keys = st.lists(st.integers(0, MAX_PART), min_size=2, max_size=6).map(tuple)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("3.0.41.60", (3, 0, 41, 60)),
        ("3.0", (3, 0)),
        ("0.0", (0, 0)),
        ("8.3.24.1342", (8, 3, 24, 1342)),
        ("1.2.3.4.5.6", (1, 2, 3, 4, 5, 6)),
        ("999999999.0", (999_999_999, 0)),
    ],
)
def test_a_version_parses_to_its_numbers_and_prints_as_written(text: str, key: tuple[int, ...]) -> None:
    version = Version.parse(text)
    assert version.key == key and str(version) == text and version == Version(key)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("3", "has 1 part;"),
        ("1.2.3.4.5.6.7", "has 7 parts"),
        ("3..1", "empty part"),
        ("3.0.", "empty part"),
        (".3.0", "empty part"),
        ("+3.0", "a sign"),
        ("3.-1", "a sign"),
        (" 3.0", "whitespace"),
        ("3.0 ", "whitespace"),
        ("3.0\n", "whitespace"),
        ("3.0.٣", "non-ASCII digit '٣'"),
        ("3.0.²", "non-ASCII digit"),
        ("3.0.\uff11", "non-ASCII digit"),  # fullwidth one
        ("3.1_0", "'_'"),
        ("3.0a", "'a'"),
        ("3,0", "','"),
        ("03.0", "leading zero"),
        ("3.00", "leading zero"),
        ("1000000000.0", f"above {MAX_PART}"),
        ("1" * (MAX_LENGTH + 1), "too long"),
        ("1." * 100_000 + "1", "too long"),
    ],
)
def test_bad_versions_are_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(ValueError, match="version") as refused:
        Version.parse(text)
    assert says in str(refused.value)
    assert len(str(refused.value)) < 250  # an absurd input is not echoed back whole


def test_only_text_is_parsed_and_a_key_is_checked_too() -> None:
    with pytest.raises(TypeError):
        Version.parse(3.0)  # type: ignore[arg-type]
    for key in [(3,), (1, 2, 3, 4, 5, 6, 7), (3, -1), (3, MAX_PART + 1), (3, True), [3, 0]]:
        with pytest.raises(ValueError, match="whole numbers"):
            Version(key)  # type: ignore[arg-type]


def test_versions_compare_numerically_part_by_part() -> None:
    v = Version.parse
    assert v("3.0.9") < v("3.0.10") < v("3.0.100.1")
    assert v("3.0.41.60") < v("3.0.100.1") < v("3.1.0.1")
    assert v("3.0") < v("3.0.0") and v("3.0") != v("3.0.0")  # different versions, tuple order
    assert sorted(map(v, ["3.1.2", "3.0.10", "3.0.9", "3.0"])) == list(map(v, ["3.0", "3.0.9", "3.0.10", "3.1.2"]))
    assert {v("3.0.41.60"), v("3.0.41.60")} == {Version((3, 0, 41, 60))}


@given(keys)
def test_the_text_of_a_version_parses_back_to_it(key: tuple[int, ...]) -> None:
    version = Version(key)
    assert Version.parse(str(version)) == version and Version.parse(str(version)).key == key


@given(keys, keys)
def test_versions_order_as_their_keys(a: tuple[int, ...], b: tuple[int, ...]) -> None:
    x, y = Version(a), Version(b)
    assert (x < y, x <= y, x == y, x > y, x >= y) == (a < b, a <= b, a == b, a > b, a >= b)
    assert (hash(x) == hash(y)) if a == b else True


@given(st.text(alphabet=st.sampled_from("0123456789.+- ٣²a\n"), max_size=70) | st.text(max_size=70))
def test_any_text_is_either_its_own_canonical_version_or_refused(text: str) -> None:
    try:
        version = Version.parse(text)
    except ValueError:
        return
    assert str(version) == text


class _Body(pydantic.BaseModel):
    version: Version


def test_a_pydantic_field_parses_refuses_and_serialises_as_text() -> None:
    body = _Body.model_validate_json('{"version": "3.0.41.60"}')
    assert body.version == Version((3, 0, 41, 60))
    assert body.model_dump_json() == '{"version":"3.0.41.60"}'
    assert _Body(version=Version((3, 1))).version == Version((3, 1))
    for bad in ('"3.0.٣"', '"03.1"', "3.1", "null"):
        with pytest.raises(pydantic.ValidationError):
            _Body.model_validate_json(f'{{"version": {bad}}}')
    schema = _Body.model_json_schema()["properties"]["version"]
    assert schema["type"] == "string" and schema["maxLength"] == MAX_LENGTH and "pattern" in schema
