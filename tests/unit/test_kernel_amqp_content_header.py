"""The outbox relay's content header frames (shared.amqp_batch.content_header_frame) are the bytes pamqp writes for
the same message, whatever its ids, type and headers: written directly for text headers, by pamqp otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.amqp_batch import Outgoing, _pamqp_content_header_frame, content_header_frame

TEXT = st.text(max_size=300)  # past 255 bytes a short string is refused, by both
HEADER_VALUES = st.one_of(st.text(max_size=40), st.integers(), st.booleans(), st.none())


def message(
    message_id: str, message_type: str | None, correlation_id: str | None, headers: dict[str, Any], body: bytes = b"{}"
) -> Outgoing:
    return Outgoing("contracts.contract.received", body, message_id, message_type, headers, correlation_id)


def written(write: Any, outgoing: Outgoing, channel: int) -> bytes | type[BaseException]:
    try:
        return bytes(write(outgoing, channel))
    except Exception as exc:
        return type(exc)


@settings(max_examples=400, deadline=None)
@given(
    message_id=TEXT,
    message_type=st.one_of(st.none(), TEXT),
    correlation_id=st.one_of(st.none(), TEXT),
    headers=st.dictionaries(st.text(max_size=150), HEADER_VALUES, max_size=4),
    body=st.binary(max_size=64),
    channel=st.integers(min_value=1, max_value=2047),
)
def test_every_message_is_written_as_pamqp_writes_it(
    message_id: str,
    message_type: str | None,
    correlation_id: str | None,
    headers: dict[str, Any],
    body: bytes,
    channel: int,
) -> None:
    outgoing = message(message_id, message_type, correlation_id, headers, body)
    assert written(content_header_frame, outgoing, channel) == written(_pamqp_content_header_frame, outgoing, channel)


@pytest.mark.parametrize(
    "outgoing",
    [
        message("e5ac2122-683a-4b1c-9d6e-1234567890ab", "contracts.contract.received", "c-1", {"x-request-id": "r1"}),
        message("id", None, None, {}),  # no type, no correlation, empty headers (still written: 4 zero bytes)
        message("id", "", "", {"traceparent": "00-abc-def-01", "x-request-id": "запрос"}),  # empty = left out
        message("id", "t", "c", {"n": 5}),  # a header that is not text: by pamqp
    ],
)
def test_the_relays_own_messages(outgoing: Outgoing) -> None:
    assert content_header_frame(outgoing, 1) == _pamqp_content_header_frame(outgoing, 1)
