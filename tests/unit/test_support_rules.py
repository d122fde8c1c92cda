"""SUP-1's pure rules: business hours on the production calendar, the conversation's table of who may do what in
which state, and routing to the accompanying partner."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules.months import Month, Period
from rules.refusal import Refusal
from services.support import asking, conversation
from services.support.conversation import Facts, Participant
from services.support.read_models import Accompanying
from shared.calendar import add_business_hours, business_time_between, load_calendar

MOSCOW = ZoneInfo("Europe/Moscow")
CALENDAR = load_calendar("ru", range(2025, 2029))
OPENS, CLOSES = time(9), time(18)


def msk(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MOSCOW)


@pytest.mark.parametrize(
    ("asked", "hours", "due"),
    [
        (msk(2026, 12, 1, 10, 0), 8, msk(2026, 12, 1, 18, 0)),  # Tuesday morning: the same evening
        (msk(2026, 12, 1, 15, 0), 8, msk(2026, 12, 2, 14, 0)),  # 3 h today, 5 h tomorrow
        (msk(2026, 12, 1, 20, 0), 8, msk(2026, 12, 2, 17, 0)),  # evening: counting starts at 09:00
        (msk(2026, 12, 4, 17, 0), 8, msk(2026, 12, 7, 16, 0)),  # Friday 17:00: 1 h, then Monday
        (msk(2026, 12, 5, 12, 0), 2, msk(2026, 12, 7, 11, 0)),  # Saturday: Monday
        (msk(2026, 12, 30, 17, 0), 8, msk(2027, 1, 11, 16, 0)),  # the New Year holidays, 31 December too
        (msk(2026, 12, 1, 9, 0), 27, msk(2026, 12, 3, 18, 0)),  # exactly three working days
    ],
)
def test_sup1_first_response_due_in_business_hours(asked: datetime, hours: int, due: datetime) -> None:
    assert add_business_hours(asked, hours, MOSCOW, OPENS, CLOSES, calendar=CALENDAR) == due.astimezone(UTC)
    # And back: the business time between them is the hours given.
    assert business_time_between(asked.astimezone(UTC), due, MOSCOW, OPENS, CLOSES, calendar=CALENDAR) == timedelta(
        hours=hours
    )


ASKER, OWNER, READER, STAFF = (
    Participant(asker=True),
    Participant(owner=True),
    Participant(reader=True),
    Participant(staff=True),
)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def facts(state: conversation.State = "new", **kw: object) -> Facts:
    base: dict[str, object] = {
        "state": state,
        "closed_at": None,
        "rated": False,
        "attachments": 0,
        "answered_once": False,
    }
    return Facts(**{**base, **kw})  # type: ignore[arg-type]


def test_sup1_who_writes_and_which_state_follows() -> None:
    assert conversation.may_message(READER, facts(), minutes_spent=None) is not None
    assert conversation.may_message(STAFF, facts(), minutes_spent=None) is not None  # minutes required
    assert conversation.may_message(ASKER, facts(), minutes_spent=5) is not None  # minutes are the staff's
    assert conversation.may_message(ASKER, facts("closed"), minutes_spent=None) is not None
    assert conversation.after_message(STAFF, facts("new"), asks_for_details=True) == "waiting_for_customer"
    assert conversation.after_message(STAFF, facts("in_progress"), asks_for_details=False) == "answered"
    assert conversation.after_message(ASKER, facts("new"), asks_for_details=False) == "new"
    assert (
        conversation.after_message(ASKER, facts("answered", answered_once=True), asks_for_details=False)
        == "in_progress"
    )
    assert conversation.after_assign(facts("new")) == "in_progress"
    assert conversation.may_assign(ASKER, facts()) is not None and conversation.may_assign(STAFF, facts()) is None


def test_sup1_close_reopen_rate_share() -> None:
    closed = facts("closed", closed_at=NOW - timedelta(days=14))
    assert conversation.may_close(READER, facts()) is not None and conversation.may_close(OWNER, facts()) is None
    assert conversation.may_reopen(ASKER, closed, NOW, timedelta(days=14)) is None
    late = conversation.may_reopen(ASKER, closed, NOW + timedelta(seconds=1), timedelta(days=14))
    assert late is not None and late.reason == "reopen-period-over"
    assert conversation.may_reopen(OWNER, closed, NOW, timedelta(days=14)) is not None
    assert conversation.may_rate(ASKER, facts("answered")) is not None
    assert conversation.may_rate(OWNER, closed) is None and conversation.may_rate(STAFF, closed) is not None
    rated = conversation.may_rate(ASKER, facts("closed", rated=True))
    assert rated is not None and rated.reason == "already-rated"
    assert conversation.may_share(OWNER) is None and conversation.may_share(ASKER) is not None
    full = conversation.may_attach(ASKER, facts(attachments=10), 10)
    assert full is not None and full.reason == "too-many-attachments"


def test_sup1_routing_to_the_accompanying_partner() -> None:
    one, two = uuid.uuid4(), uuid.uuid4()
    period = Period(Month(2026, 1), Month(2026, 12))
    assert asking.route([], None) == asking.Route("vendor", None, asking.VENDOR_NAME)
    assert asking.route([Accompanying(one, "A", period)], None) == asking.Route("partner", one, "A")
    both = [Accompanying(one, "A", period), Accompanying(two, "B", period)]
    choice = asking.route(both, None)
    assert isinstance(choice, Refusal) and choice.reason == "partner-choice-needed"
    assert asking.route(both, two) == asking.Route("partner", two, "B")
    wrong = asking.route(both, uuid.uuid4())
    assert isinstance(wrong, Refusal) and wrong.field == "partner_id"
