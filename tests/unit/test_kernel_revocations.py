"""The revocations view (shared.revocations), pure: which token a revocation refuses, and how it is learnt."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest

from shared.auth import Caller, SubscriberClaim
from shared.events import Envelope, wrap
from shared.events.identity import MemberExcluded, MemberRightsChanged, PartnerClientRevoked, SubscriberRenamed
from shared.revocations import (
    FORGET_AFTER_US,
    PRUNE_ABOVE,
    Grant,
    Reason,
    Revocation,
    Revocations,
    issued_us,
    micros,
    revocation_of,
)

T = datetime(2026, 12, 1, 12, 0, 0, 500_000, tzinfo=UTC)


def member(account: uuid.UUID, subscriber: uuid.UUID, issued: int) -> Caller:
    claims: dict[str, Any] = {"iat": issued // 1_000_000, "iat_us": issued}
    return Caller(account, frozenset(), claims, SubscriberClaim(subscriber, "CL-1234567", "user", frozenset()))


def test_the_latest_revocation_decides_whatever_the_order_events_arrive_in() -> None:
    account, subscriber = uuid.uuid4(), uuid.uuid4()
    view = Revocations()
    grant = Grant.member(account, subscriber)
    view.add(Revocation(grant, micros(T), Reason.EXCLUDED))
    view.add(Revocation(grant, micros(T) - 10, Reason.RIGHTS_CHANGED))  # older, arriving late: changes nothing
    view.add(Revocation(grant, micros(T), Reason.EXCLUDED))  # a replay
    refusal = view.refusal(member(account, subscriber, micros(T)))
    assert refusal is not None and refusal.status == 403 and refusal.slug == "membership-ended"
    assert view.refusal(member(account, subscriber, micros(T) + 1)) is None
    assert view.refusal(member(account, uuid.uuid4(), 0)) is None


def test_a_token_without_the_precise_time_counts_from_the_start_of_its_second() -> None:
    assert issued_us({"iat": 1_700_000_000}) == 1_700_000_000_000_000
    assert issued_us({"iat": 1_700_000_000, "iat_us": 1_700_000_000_700_000}) == 1_700_000_000_700_000
    assert issued_us({"iat": True}) == 0 and issued_us({}) == 0


def test_events_name_the_grant_and_the_moment() -> None:
    account, subscriber, client = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    later = T + timedelta(seconds=3)
    rights = wrap(
        MemberRightsChanged(subscriber_id=subscriber, account_id=account, its_access=False, changed_at=T),
        producer="identity",
        occurred_at=later,
    )
    assert revocation_of(rights) == Revocation(Grant.member(account, subscriber), micros(T), Reason.RIGHTS_CHANGED)
    # Written before the event carried its time: the envelope's says the same.
    old = wrap(PartnerClientRevoked(partner_id=uuid.uuid4(), client_id=client), producer="identity", occurred_at=T)
    assert revocation_of(old) == Revocation(Grant.partner_client(client), micros(T), Reason.CLIENT_REVOKED)
    renamed = wrap(
        SubscriberRenamed(subscriber_id=subscriber, code="CL-1234567", name="x"), producer="identity", occurred_at=T
    )
    assert revocation_of(renamed) is None
    broken = Envelope(type=MemberExcluded.TYPE, version=1, occurred_at=T, producer="identity", data={"x": 1})
    with pytest.raises(pydantic.ValidationError):
        revocation_of(broken)


def test_the_view_forgets_what_only_expired_tokens_could_carry() -> None:
    view = Revocations()
    old = Grant.member(uuid.uuid4(), uuid.uuid4())
    view.add(Revocation(old, micros(T), Reason.EXCLUDED))
    for n in range(PRUNE_ABOVE):
        view.add(Revocation(Grant.partner_client(uuid.uuid4()), micros(T) + FORGET_AFTER_US + n, Reason.CLIENT_REVOKED))
    assert len(view) <= PRUNE_ABOVE
    assert view.refusal(member(old.ids[0], old.ids[1], micros(T) - 1)) is None
