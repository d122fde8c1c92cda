"""identity's SQL for invitations (INV-1..6): to a subscriber's users and to a partner's staff."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import asyncpg

from services.identity.domain import InvitationTimes
from services.identity.lists import Page, Window
from services.identity.lists_store import Order, PageQuery
from shared.db import Connection

# ---- invitations (INV-1..6) ---------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Whom an invitation is to: a subscriber (its users) or a partner (its staff)."""

    column: Literal["subscriber_id", "partner_id"]  # a column of invitations and invitation_sends
    id: uuid.UUID

    @classmethod
    def subscriber(cls, subscriber_id: uuid.UUID) -> Target:
        return cls("subscriber_id", subscriber_id)

    @classmethod
    def partner(cls, partner_id: uuid.UUID) -> Target:
        return cls("partner_id", partner_id)


@dataclass(frozen=True)
class Invitation:
    id: uuid.UUID
    subscriber_id: uuid.UUID | None
    partner_id: uuid.UUID | None
    partner_admin: bool
    email: str
    full_name: str
    its_access: bool
    text: str
    created_at: datetime
    sent_at: datetime
    valid_until: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None
    superseded_at: datetime | None

    @classmethod
    def new(
        cls,
        target: Target,
        *,
        email: str,
        full_name: str,
        text: str,
        now: datetime,
        valid_for: timedelta,
        its_access: bool = False,
        partner_admin: bool = False,
    ) -> Invitation:
        """A pending invitation created now."""
        return cls(
            id=uuid.uuid4(),
            subscriber_id=target.id if target.column == "subscriber_id" else None,
            partner_id=target.id if target.column == "partner_id" else None,
            partner_admin=partner_admin,
            email=email,
            full_name=full_name,
            its_access=its_access,
            text=text,
            created_at=now,
            sent_at=now,
            valid_until=now + valid_for,
            accepted_at=None,
            revoked_at=None,
            superseded_at=None,
        )

    @property
    def times(self) -> InvitationTimes:
        return InvitationTimes(self.valid_until, self.accepted_at, self.revoked_at, self.superseded_at)

    @property
    def target(self) -> Target:
        if self.partner_id is not None:
            return Target.partner(self.partner_id)
        assert self.subscriber_id is not None
        return Target.subscriber(self.subscriber_id)


INVITATION_COLUMNS = (
    "id, subscriber_id, partner_id, partner_admin, email, full_name, its_access, text, created_at, sent_at, "
    "valid_until, accepted_at, revoked_at, superseded_at"
)
OPEN = "accepted_at IS NULL AND revoked_at IS NULL AND superseded_at IS NULL"


def _invitation(row: asyncpg.Record | None) -> Invitation | None:
    return Invitation(**dict(row)) if row is not None else None


async def sends_since(conn: Connection, target: Target, since: datetime) -> int:
    count: int = await conn.fetchval(
        f"SELECT count(*) FROM invitation_sends WHERE {target.column} = $1 AND sent_at > $2", target.id, since
    )
    return count


async def insert_invitation(conn: Connection, invitation: Invitation, token_hash: bytes) -> None:
    """Rule INV-4: the new invitation voids the open ones to the same address for the same target."""
    target = invitation.target
    await conn.execute(
        f"UPDATE invitations SET superseded_at = $3 WHERE {target.column} = $1 AND lower(email) = lower($2) AND {OPEN}",
        target.id,
        invitation.email,
        invitation.created_at,
    )
    await conn.execute(
        "INSERT INTO invitations (id, subscriber_id, partner_id, partner_admin, email, full_name, its_access, text, "
        "token_hash, created_at, sent_at, valid_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)",
        invitation.id,
        invitation.subscriber_id,
        invitation.partner_id,
        invitation.partner_admin,
        invitation.email,
        invitation.full_name,
        invitation.its_access,
        invitation.text,
        token_hash,
        invitation.created_at,
        invitation.valid_until,
    )
    await _record_send(conn, target, invitation.id, invitation.created_at)


async def resend_invitation(
    conn: Connection,
    target: Target,
    invitation_id: uuid.UUID,
    token_hash: bytes,
    now: datetime,
    valid_until: datetime,
) -> Invitation | None:
    """A new token and a new validity for an open (pending or expired) invitation; None if it is not open."""
    invitation = _invitation(
        await conn.fetchrow(
            f"UPDATE invitations SET token_hash = $3, sent_at = $4, valid_until = $5 "
            f"WHERE {target.column} = $1 AND id = $2 AND {OPEN} RETURNING {INVITATION_COLUMNS}",
            target.id,
            invitation_id,
            token_hash,
            now,
            valid_until,
        )
    )
    if invitation is not None:
        await _record_send(conn, target, invitation_id, now)
    return invitation


async def _record_send(conn: Connection, target: Target, invitation_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(
        f"INSERT INTO invitation_sends ({target.column}, invitation_id, sent_at) VALUES ($1, $2, $3)",
        target.id,
        invitation_id,
        at,
    )


async def revoke_invitation(
    conn: Connection, target: Target, invitation_id: uuid.UUID, now: datetime
) -> Invitation | None:
    return _invitation(
        await conn.fetchrow(
            f"UPDATE invitations SET revoked_at = $3 WHERE {target.column} = $1 AND id = $2 AND {OPEN} "
            f"RETURNING {INVITATION_COLUMNS}",
            target.id,
            invitation_id,
            now,
        )
    )


async def invitation(conn: Connection, target: Target, invitation_id: uuid.UUID) -> Invitation | None:
    return _invitation(
        await conn.fetchrow(
            f"SELECT {INVITATION_COLUMNS} FROM invitations WHERE {target.column} = $1 AND id = $2",
            target.id,
            invitation_id,
        )
    )


INVITATION_ORDERS = {
    "name": Order("lower(full_name)", "id"),
    "newest": Order("created_at", "id", descending=True),
}
# Rule INV-6 in SQL, state by state, as domain.invitation_state decides it (the first that holds wins); `$now`
# stands for the moment the states are judged at.
STATE_CONDITIONS = {
    "accepted": "accepted_at IS NOT NULL",
    "revoked": "accepted_at IS NULL AND revoked_at IS NOT NULL",
    "superseded": "accepted_at IS NULL AND revoked_at IS NULL AND superseded_at IS NOT NULL",
    "expired": f"{OPEN} AND valid_until <= $now",
    "pending": f"{OPEN} AND valid_until > $now",
}


async def invitations_page(
    conn: Connection, target: Target, window: Window, *, state: str | None, now: datetime
) -> Page[Invitation]:
    """One page of the target's invitations, in `state` (INV-6) when given. The search runs on this target's
    invitations only (found by the index on the target and created_at): every invitation a subscriber or a partner
    ever made, hundreds or a few thousand, which ILIKE reads at once."""
    query = PageQuery(INVITATION_COLUMNS, "invitations", f"{target.column} = $1", [target.id])
    if state is not None:
        condition = STATE_CONDITIONS[state]
        query.where(condition.replace("$now", query.arg(now)) if "$now" in condition else condition)
    query.search(window, "full_name", "email")
    rows = await query.fetch(conn, INVITATION_ORDERS[window.sort], window)
    return Page.of([Invitation(**dict(row)) for row in rows], window.limit)


async def open_invitation_by_token(conn: Connection, token_hash: bytes, now: datetime) -> Invitation | None:
    """The invitation behind a link, if it can still be accepted (pending and not expired)."""
    return _invitation(
        await conn.fetchrow(
            f"SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = $1 AND {OPEN} AND valid_until > $2",
            token_hash,
            now,
        )
    )


async def accept_invitation(
    conn: Connection, token_hash: bytes, account_id: uuid.UUID, now: datetime
) -> Invitation | None:
    """Mark it accepted by the account; of two concurrent accepts exactly one gets the invitation."""
    return _invitation(
        await conn.fetchrow(
            f"UPDATE invitations SET accepted_at = $3, accepted_by = $2 WHERE token_hash = $1 AND {OPEN} "
            f"AND valid_until > $3 RETURNING {INVITATION_COLUMNS}",
            token_hash,
            account_id,
            now,
        )
    )
