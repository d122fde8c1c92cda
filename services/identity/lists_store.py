"""The SQL of one keyset page of a list (services.identity.lists): the rows of a source within its scope, the
filters, the search, the rows after the cursor's row and the order. Every value is a parameter; the SQL text
comes from the store modules' own constants only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from services.identity.lists import Window
from shared.db import Connection


@dataclass(frozen=True)
class Order:
    """A sort: its key and the row's id (the tie-breaker), as SQL over the source's aliases. An ascending key may be
    several expressions ("a, b"); a descending one is one expression."""

    key: str
    id: str
    descending: bool = False

    def clause(self) -> str:
        direction = " DESC" if self.descending else ""
        return f"ORDER BY {self.key}{direction}, {self.id}{direction}"


@dataclass
class PageQuery:
    """`SELECT columns FROM source WHERE scope AND …`: built up by a store, then read one row beyond the page."""

    columns: str
    source: str
    scope: str  # the rows of the list at all, e.g. "m.subscriber_id = $1"
    args: list[Any] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def where(self, condition: str) -> None:
        self.conditions.append(condition)

    def search(self, window: Window, *texts: str) -> None:
        """Rows where one of `texts` (SQL over the source) holds `q`, in any case."""
        if window.pattern is not None:
            pattern = self.arg(window.pattern)
            self.where("(" + " OR ".join(f"{text} ILIKE {pattern}" for text in texts) + ")")

    def _after(self, order: Order, after: uuid.UUID) -> str:
        """Rows after the cursor's row, whose key is read from the row itself, within the same scope (a cursor of
        a row outside it, or gone, finds none: the comparison with NULL holds for no row)."""
        operator = "<" if order.descending else ">"
        cursor_row = f"SELECT {order.key}, {order.id} FROM {self.source} WHERE {self.scope} AND {order.id} = "
        return f"({order.key}, {order.id}) {operator} ({cursor_row}{self.arg(after)})"

    async def fetch(self, conn: Connection, order: Order, window: Window) -> list[asyncpg.Record]:
        conditions = [self.scope, *self.conditions]
        if window.after is not None:
            conditions.append(self._after(order, window.after))
        limit = self.arg(window.limit + 1)
        where = " AND ".join(conditions)
        sql = f"SELECT {self.columns} FROM {self.source} WHERE {where} {order.clause()} LIMIT {limit}"
        return await conn.fetch(sql, *self.args)
