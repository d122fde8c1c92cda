"""Test data drawn at random from a small space of real-looking values, never twice in one run.

A run's database holds everything its tests made, and some values are unique in it: a reporting form's code
beside its version, say. Drawn at random from the few values that look real (a KND code is seven digits),
two tests would sooner or later draw the same one, and the second would fail for no reason of its own."""

from __future__ import annotations

import secrets

from devtools.demo.updates import DEMO_FORMS

_drawn: set[str] = set()


def form_code() -> str:
    """A KND-like reporting form code (`11` and five digits) that no other test of this run has drawn."""
    while True:
        code = f"11{secrets.randbelow(10**5):05d}"
        if code not in _drawn and all(form.code != code for form in DEMO_FORMS):  # some tests publish those too
            _drawn.add(code)
            return code
