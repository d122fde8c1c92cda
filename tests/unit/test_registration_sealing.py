"""A deferred batch's PINs sealed to the operator's key (REG-2: a PIN is shown once, to whoever asked)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest

from services.registration import sealing

BATCH = uuid.UUID("00000000-0000-0000-0000-00000000b001")
ROWS: sealing.Issued = [("12345678903", "000000000042"), ("98765432106", None)]
PUBLIC, KEY = sealing.new_batch_key()
SEALED = sealing.seal(PUBLIC, BATCH, 0, ROWS)


def test_the_key_opens_its_batch() -> None:
    assert sealing.open_sealed(KEY, BATCH, 0, SEALED) == ROWS
    assert sealing.opens(KEY, PUBLIC) and len(KEY) == sealing.KEY_TEXT_LENGTH
    # Nothing readable is kept: not a PIN, not the key.
    kept = PUBLIC + SEALED.ephemeral_key + SEALED.nonce + SEALED.box
    assert b"000000000042" not in kept and KEY.encode() not in kept


def test_each_seal_is_new() -> None:
    again = sealing.seal(PUBLIC, BATCH, 0, ROWS)
    assert again.box != SEALED.box and again.ephemeral_key != SEALED.ephemeral_key


REFUSED: list[tuple[str, dict[str, Any]]] = [
    ("another-batchs-key", {"key": sealing.new_batch_key()[1]}),
    ("a-key-of-the-wrong-length", {"key": KEY[:-1]}),
    ("not-base64", {"key": "!" * sealing.KEY_TEXT_LENGTH}),
    ("passed-off-as-another-chunk", {"chunk": 1}),
    ("passed-off-as-another-batch", {"batch": uuid.uuid4()}),
    ("a-box-changed", {"sealed": replace(SEALED, box=bytes([SEALED.box[0] ^ 1]) + SEALED.box[1:])}),
    ("an-ephemeral-key-changed", {"sealed": replace(SEALED, ephemeral_key=sealing.new_batch_key()[0])}),
]


@pytest.mark.parametrize("change", [c[1] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_anything_else_opens_nothing(change: dict[str, Any]) -> None:
    attempt: dict[str, Any] = {"key": KEY, "batch": BATCH, "chunk": 0, "sealed": SEALED, **change}
    with pytest.raises(sealing.WrongKey):
        sealing.open_sealed(attempt["key"], attempt["batch"], attempt["chunk"], attempt["sealed"])


def test_opens_tells_a_batchs_key_from_any_other_text() -> None:
    assert not sealing.opens(sealing.new_batch_key()[1], PUBLIC)
    assert not sealing.opens("", PUBLIC) and not sealing.opens("x" * 43, PUBLIC)
