"""A stateful property test of invitations and membership (rules INV-3, INV-4, INV-5, SUB-6).

Hypothesis drives invite / resend / revoke / accept / exclude in any order against the real identity
app and database; after every step the invariants must hold:
  - at most one valid (pending, not expired) invitation per (subscriber, e-mail);
  - no member without an accepted invitation, except the owner;
  - the owner is always a member (can never be excluded).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from shared.keys import POOL
from tests.infra import RunningApp
from tests.integration.identity_fixtures import identity
from tests.integration.test_identity_subscribers import Person, invitation_link, person

__all__ = ["identity"]

T = TypeVar("T")
PEOPLE = 3


def machine_for(app: RunningApp, loop: asyncio.AbstractEventLoop) -> type[RuleBasedStateMachine]:
    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    class Invitations(RuleBasedStateMachine):
        @initialize()
        def start(self) -> None:
            self.owner: Person = run(person(app))
            self.subscriber_id: str = run(self.owner.call("GET", "/v1/subscriber"))[1]["id"]
            self.people: list[Person] = [run(person(app)) for _ in range(PEOPLE)]
            self.invitations: list[str] = []
            self.links: dict[str, list[str]] = {}  # invitation id -> every link it had

        @rule(who=st.integers(0, PEOPLE - 1), its_access=st.booleans())
        def invite(self, who: int, its_access: bool) -> None:
            email = self.people[who].account["email"]
            status, body = run(
                self.owner.call(
                    "POST",
                    "/v1/subscriber/invitations",
                    json={"full_name": "Someone", "email": email.upper(), "its_access": its_access},
                )
            )
            assert status == 201, body
            self.invitations.append(body["id"])
            self.links[body["id"]] = [run(invitation_link(app, body["id"]))]

        @rule(pick=st.integers(0, 1000))
        def resend(self, pick: int) -> None:
            if not self.invitations:
                return
            invitation_id = self.invitations[pick % len(self.invitations)]
            status, _ = run(self.owner.call("POST", f"/v1/subscriber/invitations/{invitation_id}/resend"))
            assert status in (200, 409)
            if status == 200:
                self.links[invitation_id].append(run(invitation_link(app, invitation_id)))

        @rule(pick=st.integers(0, 1000))
        def revoke(self, pick: int) -> None:
            if not self.invitations:
                return
            invitation_id = self.invitations[pick % len(self.invitations)]
            status, _ = run(self.owner.call("POST", f"/v1/subscriber/invitations/{invitation_id}/revoke"))
            assert status in (200, 409)

        @rule(who=st.integers(0, PEOPLE - 1), pick=st.integers(0, 1000), old=st.booleans())
        def accept(self, who: int, pick: int, old: bool) -> None:
            if not self.invitations:
                return
            links = self.links[self.invitations[pick % len(self.invitations)]]
            link = links[0] if old else links[-1]
            status, _ = run(self.people[who].call("POST", f"{link}/accept"))
            assert status in (200, 403, 404, 409)

        @rule(who=st.integers(0, PEOPLE - 1))
        def exclude(self, who: int) -> None:
            status, _ = run(self.owner.call("DELETE", f"/v1/subscriber/users/{self.people[who].account['id']}"))
            assert status in (204, 404)

        @rule()
        def exclude_the_owner(self) -> None:
            status, _ = run(self.owner.call("DELETE", f"/v1/subscriber/users/{self.owner.account['id']}"))
            assert status == 409

        @invariant()
        def at_most_one_valid_invitation_per_address(self) -> None:
            if not hasattr(self, "subscriber_id"):
                return
            rows = run(
                self._fetch(
                    "SELECT lower(email), count(*) FROM invitations WHERE subscriber_id = $1 AND accepted_at IS NULL "
                    "AND revoked_at IS NULL AND superseded_at IS NULL AND valid_until > now() GROUP BY 1"
                )
            )
            assert all(row[1] <= 1 for row in rows)

        @invariant()
        def every_member_but_the_owner_accepted_an_invitation(self) -> None:
            if not hasattr(self, "subscriber_id"):
                return
            rows = run(
                self._fetch(
                    "SELECT m.account_id FROM members m WHERE m.subscriber_id = $1 AND m.excluded_at IS NULL "
                    "AND m.role <> 'owner' AND NOT EXISTS (SELECT 1 FROM invitations i WHERE i.subscriber_id = "
                    "m.subscriber_id AND i.accepted_by = m.account_id)"
                )
            )
            assert rows == []

        @invariant()
        def the_owner_remains(self) -> None:
            if not hasattr(self, "subscriber_id"):
                return
            rows = run(
                self._fetch("SELECT 1 FROM members WHERE subscriber_id = $1 AND role = 'owner' AND excluded_at IS NULL")
            )
            assert len(rows) == 1

        async def _fetch(self, sql: str) -> list[Any]:
            async with app.app[POOL].acquire() as conn:
                return list(await conn.fetch(sql, uuid.UUID(self.subscriber_id)))

    return Invitations


async def test_invitation_invariants_hold_in_any_sequence(identity: RunningApp) -> None:
    machine = machine_for(identity, asyncio.get_running_loop())
    machine.TestCase.settings = settings(
        max_examples=12, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck)
    )
    await asyncio.to_thread(machine.TestCase().runTest)
