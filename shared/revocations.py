"""Revocations: access that ends when it is taken away, not when a token happens to expire.

Access tokens live 15 minutes and every service verifies them itself, without asking identity. When identity
takes a grant away it writes an event through its outbox; every process follows those events on the stream
`its.revocations` (REVOCATIONS: those events alone, so a process does not read every event of the system to find
them; `shared.app.setup_revocations`) into this in-memory view, and `TokenVerifier` refuses a token that
was issued at or before the latest revocation of a grant it carries:

- `identity.member.excluded` (SUB-6): the member's tokens for that subscriber, 403 `membership-ended`;
- `identity.member.rights_changed` (SUB-5): the same, whose `rights` claim is stale: 401 `rights-changed`, and
  a refresh gives a token with the current rights;
- `identity.partner_client.revoked`: the API client's tokens, 401 `access-revoked`;
- `identity.partner_staff.removed`: the person's tokens for that partner, 401 `access-revoked`;
- `identity.partner.deactivated`: every token of the partner's clients and staff, 401 `access-revoked`.

A token issued after the revocation passes (the person re-joined, the rights were set again, the partner was
reactivated). Times are identity's clock in whole microseconds: the token's `iat_us` claim and the event's time
(`iat` is whole seconds, so a token issued in the same second after a change would be refused for ever).
identity stamps a change after it holds the row's lock, and a token after reading its grant under a share lock
of the same row (or, at a login, just before a statement that takes that lock and finds the row as the login first
read it), so a token that carries the old grant is never stamped after the change (services.identity.grants).

Not a database lookup per request: every service would depend on identity (or a shared table) being up for
every request, and pay a round trip for what changes a few times a day; the view is a dictionary, rebuilt on
start from the stream's last 15 minutes (older revocations concern only tokens that have expired anyway).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from shared.bus import Stream
from shared.events import Envelope, unwrap
from shared.events.identity import (
    MemberExcluded,
    MemberRightsChanged,
    PartnerClientRevoked,
    PartnerDeactivated,
    PartnerStaffRemoved,
)
from shared.problems import Forbidden, Problem, Unauthorized

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
# Identity's access tokens live this long (services.identity.tokens.ACCESS_TOKEN_TTL).
ACCESS_TOKEN_LIFETIME = timedelta(minutes=15)
# The view forgets revocations older than this behind the newest one: every token they concern has expired.
FORGET_AFTER_US = 2 * ACCESS_TOKEN_LIFETIME // MICROSECOND
PRUNE_ABOVE = 10_000

# The events that take a grant away: the only ones the view reads from the stream.
REVOKING_TYPES = frozenset(
    {
        MemberExcluded.TYPE,
        MemberRightsChanged.TYPE,
        PartnerClientRevoked.TYPE,
        PartnerStaffRemoved.TYPE,
        PartnerDeactivated.TYPE,
    }
)
# The stream of those events (routing key = event type). Kept a day: a process replays the last
# ACCESS_TOKEN_LIFETIME on start; the rest is there for whoever looks into an incident.
REVOCATIONS = Stream("its.revocations", tuple(sorted(REVOKING_TYPES)), "1D")


def micros(moment: datetime) -> int:
    """A moment as whole microseconds since the epoch: exact, unlike a float timestamp."""
    return (moment - EPOCH) // MICROSECOND


def issued_us(claims: dict[str, Any]) -> int:
    """When the token was issued, in microseconds. A token without `iat_us` (issued before it existed) counts
    as issued at the start of its `iat` second: refused if a change came in that second, and refreshed."""
    precise = claims.get("iat_us")
    if isinstance(precise, int) and not isinstance(precise, bool):
        return precise
    iat = claims.get("iat", 0)
    return int(iat) * 1_000_000 if isinstance(iat, int | float) and not isinstance(iat, bool) else 0


class MembershipEnded(Forbidden):
    slug, title = "membership-ended", "You are no longer a user of this subscriber"


class RightsChanged(Unauthorized):
    """Rule SUB-5: the token's `rights` are stale. A client refreshes and gets a token with the current ones."""

    slug, title = "rights-changed", "Your rights have changed: get a new access token"


class AccessRevoked(Unauthorized):
    slug, title = "access-revoked", "This access has been taken away"


class Reason(enum.Enum):
    EXCLUDED = "excluded"
    RIGHTS_CHANGED = "rights_changed"
    CLIENT_REVOKED = "client_revoked"
    STAFF_REMOVED = "staff_removed"
    PARTNER_DEACTIVATED = "partner_deactivated"

    def problem(self) -> Problem:
        match self:
            case Reason.EXCLUDED:
                return MembershipEnded("you were excluded from this subscriber")
            case Reason.RIGHTS_CHANGED:
                return RightsChanged("your rights in this subscriber changed after this token was issued; refresh it")
            case Reason.CLIENT_REVOKED:
                return AccessRevoked("this API client has been revoked")
            case Reason.STAFF_REMOVED:
                return AccessRevoked("you are no longer on the staff of this partner")
            case Reason.PARTNER_DEACTIVATED:
                return AccessRevoked("this partner has been deactivated")


@dataclass(frozen=True)
class Grant:
    """What a token carries and identity can take away: `kind` and the ids that name it."""

    kind: str
    ids: tuple[uuid.UUID, ...]

    @classmethod
    def member(cls, account_id: uuid.UUID, subscriber_id: uuid.UUID) -> Grant:
        return cls("member", (account_id, subscriber_id))

    @classmethod
    def partner(cls, partner_id: uuid.UUID) -> Grant:
        return cls("partner", (partner_id,))

    @classmethod
    def partner_staff(cls, partner_id: uuid.UUID, account_id: uuid.UUID) -> Grant:
        return cls("partner_staff", (partner_id, account_id))

    @classmethod
    def partner_client(cls, client_id: uuid.UUID) -> Grant:
        return cls("partner_client", (client_id,))


class _Identified(Protocol):
    @property
    def id(self) -> uuid.UUID: ...


class Bearer(Protocol):
    """What revocation reads of a verified token's caller (`shared.auth.Caller` is one)."""

    @property
    def account_id(self) -> uuid.UUID: ...
    @property
    def claims(self) -> dict[str, Any]: ...
    @property
    def subscriber(self) -> _Identified | None: ...
    @property
    def partner_id(self) -> uuid.UUID | None: ...


def grants_of(caller: Bearer) -> list[Grant]:
    """The grants a token carries: its subscriber membership; or its partner, and the staff member or the API
    client it was issued to (a client's id and an account's are both random uuids: they never collide)."""
    grants: list[Grant] = []
    if caller.subscriber is not None:
        grants.append(Grant.member(caller.account_id, caller.subscriber.id))
    if caller.partner_id is not None:
        grants.append(Grant.partner(caller.partner_id))
        grants.append(Grant.partner_staff(caller.partner_id, caller.account_id))
        grants.append(Grant.partner_client(caller.account_id))
    return grants


@dataclass(frozen=True)
class Revocation:
    grant: Grant
    at_us: int
    reason: Reason


def revocation_of(envelope: Envelope) -> Revocation | None:
    """The grant an event takes away (None for an event that takes none); pydantic.ValidationError if the
    event's data does not fit its schema."""
    match envelope.type:
        case MemberExcluded.TYPE:
            excluded = unwrap(envelope, MemberExcluded)
            return _revocation(
                Grant.member(excluded.account_id, excluded.subscriber_id), excluded.excluded_at, Reason.EXCLUDED
            )
        case MemberRightsChanged.TYPE:
            changed = unwrap(envelope, MemberRightsChanged)
            return _revocation(
                Grant.member(changed.account_id, changed.subscriber_id),
                changed.changed_at or envelope.occurred_at,
                Reason.RIGHTS_CHANGED,
            )
        case PartnerClientRevoked.TYPE:
            revoked = unwrap(envelope, PartnerClientRevoked)
            return _revocation(
                Grant.partner_client(revoked.client_id),
                revoked.revoked_at or envelope.occurred_at,
                Reason.CLIENT_REVOKED,
            )
        case PartnerStaffRemoved.TYPE:
            removed = unwrap(envelope, PartnerStaffRemoved)
            return _revocation(
                Grant.partner_staff(removed.partner_id, removed.account_id), removed.removed_at, Reason.STAFF_REMOVED
            )
        case PartnerDeactivated.TYPE:
            deactivated = unwrap(envelope, PartnerDeactivated)
            return _revocation(
                Grant.partner(deactivated.partner_id), deactivated.deactivated_at, Reason.PARTNER_DEACTIVATED
            )
    return None


def _revocation(grant: Grant, at: datetime, reason: Reason) -> Revocation:
    return Revocation(grant, micros(at), reason)


class Revocations:
    """The latest revocation of each grant, as this process has learnt them from the event log."""

    def __init__(self) -> None:
        self._latest: dict[Grant, tuple[int, Reason]] = {}
        self._newest_us = 0

    def add(self, revocation: Revocation) -> None:
        """Idempotent and order-free: a replayed or late event changes nothing that a later one decided."""
        known = self._latest.get(revocation.grant)
        if known is None or revocation.at_us > known[0]:
            self._latest[revocation.grant] = (revocation.at_us, revocation.reason)
        self._newest_us = max(self._newest_us, revocation.at_us)
        if len(self._latest) > PRUNE_ABOVE:
            horizon = self._newest_us - FORGET_AFTER_US
            self._latest = {grant: seen for grant, seen in self._latest.items() if seen[0] >= horizon}

    def refusal(self, caller: Bearer) -> Problem | None:
        """Why this token no longer gives access, or None while it does."""
        if not self._latest:
            return None
        issued = issued_us(caller.claims)
        for grant in grants_of(caller):
            known = self._latest.get(grant)
            if known is not None and issued <= known[0]:
                return known[1].problem()
        return None

    def __len__(self) -> int:
        return len(self._latest)
