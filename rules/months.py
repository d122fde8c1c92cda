"""Whole months (`YYYY-MM`): the unit of contract periods (ITS-1), free periods (ITS-7), maintenance (CMS-5)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, order=True)  # ordered by (year, month): every comparison direct, none derived from another
class Month:
    year: int
    month: int  # 1..12

    @classmethod
    def parse(cls, text: str) -> Month:
        """`2026-11`; ValueError for anything else (2026-13, 2026-1, 26-11)."""
        found = _PATTERN.fullmatch(text)
        if found is None:
            raise ValueError(f"a month is YYYY-MM, e.g. 2026-11 (got {text!r})")
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def plus(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    def months_until(self, other: Month) -> int:
        """How many months from this one to `other` (0 for the same month; negative if earlier)."""
        return (other.year * 12 + other.month) - (self.year * 12 + self.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.plus(1).first_day - timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """Whole months, both ends included."""

    start: Month
    end: Month

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def parse(cls, start: str, end: str) -> Period:
        return cls(Month.parse(start), Month.parse(end))

    def __contains__(self, month: object) -> bool:
        return isinstance(month, Month) and self.start <= month <= self.end

    def covers(self, other: Period) -> bool:
        return self.start <= other.start and other.end <= self.end

    @property
    def months(self) -> int:
        return self.start.months_until(self.end) + 1
