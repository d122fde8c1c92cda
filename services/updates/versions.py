"""Release versions such as `3.0.41.60` (UPD-1, UPD-2, UPD-5): parsed strictly, compared numerically part by part.

A version is 2..6 dot-separated whole numbers, each 0..999999999 (fits PostgreSQL `integer`, so `key` is
stored as `releases.version_key integer[]`). Only ASCII digits count: `int()` would accept '٣', '+3', ' 3'
and '3_0', and two spellings of one version would break the catalogue's natural key, so they are refused.
Leading zeros are refused for the same reason: `str(Version.parse(text)) == text` for every accepted text.
"3.0" and "3.0.0" are different versions; tuple order puts (3, 0) before (3, 0, 0).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue
    from pydantic_core import CoreSchema

MIN_PARTS = 2
MAX_PARTS = 6
MAX_PART = 999_999_999
MAX_PART_DIGITS = 9
# Six nine-digit parts and five dots: anything longer is refused before any other work.
MAX_LENGTH = MAX_PARTS * MAX_PART_DIGITS + MAX_PARTS - 1

_PART = r"(?:0|[1-9][0-9]{0,8})"
PATTERN = rf"^{_PART}(?:\.{_PART}){{{MIN_PARTS - 1},{MAX_PARTS - 1}}}$"
_CANONICAL = re.compile(rf"{_PART}(?:\.{_PART}){{{MIN_PARTS - 1},{MAX_PARTS - 1}}}")
_ASCII_DIGITS = frozenset("0123456789")
EXAMPLE = "3.0.41.60"


@dataclass(frozen=True, order=True, slots=True)
class Version:
    """A release version; `key` is its numeric parts, and versions order exactly as their keys do."""

    key: tuple[int, ...]

    def __post_init__(self) -> None:
        key = self.key
        if (
            type(key) is not tuple
            or not MIN_PARTS <= len(key) <= MAX_PARTS
            or any(type(p) is not int or not 0 <= p <= MAX_PART for p in key)
        ):
            raise ValueError(f"a version is {MIN_PARTS} to {MAX_PARTS} whole numbers 0..{MAX_PART}, not {key!r:.80}")

    @classmethod
    def parse(cls, text: str) -> Version:
        """The version written as `text` (e.g. "3.0.41.60"); ValueError saying what is wrong otherwise."""
        if not isinstance(text, str):
            raise TypeError(f"a version is parsed from str, not {type(text).__name__}")
        if len(text) <= MAX_LENGTH and _CANONICAL.fullmatch(text):
            return cls(tuple(int(part) for part in text.split(".")))
        raise ValueError(_why_not(text))

    def __str__(self) -> str:
        return ".".join(map(str, self.key))

    def __repr__(self) -> str:
        return f"Version('{self}')"

    # pydantic: a `Version` field accepts the canonical text, answers a bad one with a 422 that says why,
    # serialises back to the text and documents itself as a string with PATTERN.
    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        from pydantic_core import core_schema

        from_text = core_schema.no_info_after_validator_function(cls.parse, core_schema.str_schema())
        return core_schema.json_or_python_schema(
            json_schema=from_text,
            python_schema=core_schema.union_schema([core_schema.is_instance_schema(cls), from_text]),
            serialization=core_schema.to_string_ser_schema(),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "pattern": PATTERN, "maxLength": MAX_LENGTH, "examples": [EXAMPLE]}


def _why_not(text: str) -> str:
    """The first thing wrong with a text that is not a canonical version (the message of the ValueError)."""
    shape = f"a version is {MIN_PARTS} to {MAX_PARTS} dot-separated numbers like {EXAMPLE}"
    if not text:
        return f"the version is empty; {shape}"
    if len(text) > MAX_LENGTH:
        return f"the version is too long ({len(text)} characters, at most {MAX_LENGTH}); {shape}"
    shown = repr(text)
    bad = next((ch for ch in text if ch != "." and ch not in _ASCII_DIGITS), None)
    if bad is not None:
        what = "whitespace" if bad.isspace() else "a sign" if bad in "+-" else f"{bad!r}"
        if bad.isdigit():
            what = f"the non-ASCII digit {bad!r}"
        return f"version {shown} contains {what}; {shape} (ASCII digits 0-9 and dots only)"
    parts = text.split(".")
    if any(part == "" for part in parts):
        return f"version {shown} has an empty part; {shape}"
    if not MIN_PARTS <= len(parts) <= MAX_PARTS:
        return f"version {shown} has {len(parts)} part{'s' if len(parts) > 1 else ''}; {shape}"
    if any(len(part) > MAX_PART_DIGITS for part in parts):
        return f"version {shown} has a part above {MAX_PART}; {shape}"
    return f"version {shown} has a part with a leading zero; write each part without one, like {EXAMPLE}"


# The versions client programs ask about (their installed version, their platform's, a target): the same few all
# day, each asked on every request, so each is parsed once. A catalogue's own versions are parsed with
# `Version.parse` when it is loaded (tens of thousands, once: they would only push these out).
asked_version = functools.lru_cache(maxsize=4_096)(Version.parse)
