"""DAT-2, pure: which reporting forms a client program should receive, given the versions it holds. No I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Protocol, TypeVar

from services.updates.versions import MAX_PART_DIGITS, MAX_PARTS, MIN_PARTS

# A form's version as regulators write it: 5.01, 5.10, 1.0.3. Unlike a release's, a part may have leading zeros
# ("5.01" is the fifth format's first version); versions are still compared by their numbers, part by part, so
# "5.01" and "5.1" are one version, and a form has only one of the two spellings (the table's unique key).
FORM_VERSION_PATTERN = (
    rf"^[0-9]{{1,{MAX_PART_DIGITS}}}(\.[0-9]{{1,{MAX_PART_DIGITS}}}){{{MIN_PARTS - 1},{MAX_PARTS - 1}}}$"
)
_FORM_VERSION = re.compile(FORM_VERSION_PATTERN.removeprefix("^").removesuffix("$"))
FORM_VERSION_EXAMPLE = "5.01"


class Versioned(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def version_key(self) -> tuple[int, ...]: ...


F = TypeVar("F", bound=Versioned)


def form_version_key(text: str) -> tuple[int, ...]:
    """The numbers of a form's version, which order it ("5.01" → (5, 1)); ValueError saying what is wrong. Only
    ASCII digits count (`int()` would take '٣', '+3' or ' 3')."""
    if len(text) <= MAX_PARTS * (MAX_PART_DIGITS + 1) and _FORM_VERSION.fullmatch(text):
        return tuple(int(part) for part in text.split("."))
    raise ValueError(
        f"a form's version is {MIN_PARTS} to {MAX_PARTS} dot-separated numbers of ASCII digits like "
        f"{FORM_VERSION_EXAMPLE}, not {text[:80]!r}"
    )


def newest_by_code(forms: Iterable[F]) -> dict[str, F]:
    """The newest version of each form among these (published ones: a withdrawn version is never offered)."""
    newest: dict[str, F] = {}
    for form in forms:
        kept = newest.get(form.code)
        if kept is None or form.version_key > kept.version_key:
            newest[form.code] = form
    return newest


def forms_to_receive(published: Iterable[F], held: Mapping[str, tuple[int, ...]]) -> list[F]:
    """DAT-2: the newest published version of each form that the program does not hold, or holds older (`held`: the
    version keys held, by code); by code.

    A program holding a version newer than every published one (a version since withdrawn) is not sent an older
    one: a form is never downgraded behind the program's back."""
    return [
        form
        for code, form in sorted(newest_by_code(published).items())
        if code not in held or form.version_key > held[code]
    ]
