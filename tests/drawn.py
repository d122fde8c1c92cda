"""Test data drawn at random from a small space of real-looking values, never twice in one run.

A run's database holds everything its tests made, and some values are unique in it: a subscriber's code, a reporting
form's code beside its version. Drawn at random from the few values that look real (seven digits), two tests would
sooner or later draw the same one, and the second would fail for no reason of its own."""

from __future__ import annotations

import secrets

from devtools.demo.updates import DEMO_FORMS
from shared.db import Pool

_form_codes_drawn: set[str] = {form.code for form in DEMO_FORMS}  # some tests publish the demo's forms too


def form_code() -> str:
    """A KND-like reporting form code (`11` and five digits) that no other test of this run has drawn."""
    while True:
        code = f"11{secrets.randbelow(10**5):05d}"
        if code not in _form_codes_drawn:
            _form_codes_drawn.add(code)
            return code


async def unused_subscriber_code(pool: Pool) -> str:
    """A `CL-` code no subscriber in the pool's schema has yet, for a test that announces a subscriber itself.

    Identity keeps the codes it draws unique (SUB-2), but they are not this process's to remember: the schema says
    which are taken. A code announced twice would be parked by the service as a duplicate."""
    while True:
        code = f"CL-{secrets.randbelow(10**7):07d}"
        async with pool.acquire() as conn:
            if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM subscribers WHERE code = $1)", code):
                return code
