"""DAT-2 without I/O: form versions as regulators write them, ordered by their numbers, and which forms a program
should receive."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.updates.form_rules import form_version_key, forms_to_receive


@dataclass(frozen=True)
class Form:
    code: str
    version: str

    @property
    def version_key(self) -> tuple[int, ...]:
        return form_version_key(self.version)


@pytest.mark.parametrize(("text", "key"), [("5.01", (5, 1)), ("5.10", (5, 10)), ("1.0.3", (1, 0, 3)), ("0.0", (0, 0))])
def test_dat2_a_form_version_is_its_numbers(text: str, key: tuple[int, ...]) -> None:
    assert form_version_key(text) == key


@pytest.mark.parametrize(
    "text", ["", "5", "5.", ".5", "5..1", "5.x", "٣.0", "+5.1", " 5.1", "5.1 ", "1.2.3.4.5.6.7", "1." * 40]
)
def test_dat2_anything_else_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError, match="dot-separated numbers"):
        form_version_key(text)


def test_dat2_a_program_receives_the_newest_of_each_form_it_holds_older_or_not_at_all() -> None:
    published = [Form("1151001", "5.9"), Form("1151001", "5.10"), Form("0710099", "1.0"), Form("1110018", "2.01")]
    held = {"1151001": form_version_key("5.09"), "1110018": form_version_key("2.1")}
    assert forms_to_receive(published, held) == [Form("0710099", "1.0"), Form("1151001", "5.10")]


def test_dat2_a_program_holding_a_newer_version_than_published_is_not_sent_an_older_one() -> None:
    assert forms_to_receive([Form("1151001", "5.9")], {"1151001": (5, 11)}) == []
