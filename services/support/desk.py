"""What support's use cases work with: the pool, the outbox, the clock and the service levels (SUP-1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.calendar import ProductionCalendar, add_business_hours
from shared.clock import Clock
from shared.db import Pool
from shared.outbox import Outbox


@dataclass(frozen=True)
class ServiceLevels:
    first_response_hours: int
    opens: time
    closes: time
    zone: ZoneInfo
    calendar: ProductionCalendar
    reopen_within: timedelta

    def first_response_due(self, asked_at: datetime) -> datetime:
        """SUP-1: N business hours after the question, on the production calendar, within working hours."""
        hours = self.first_response_hours
        return add_business_hours(asked_at, hours, self.zone, self.opens, self.closes, calendar=self.calendar)


@dataclass(frozen=True)
class Desk:
    pool: Pool
    outbox: Outbox
    clock: Clock
    levels: ServiceLevels
