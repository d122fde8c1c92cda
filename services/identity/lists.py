"""How identity's lists page, search and sort: a subscriber's users and invitations, the partners, a partner's staff.

A page is a keyset window (shared/pages.py, never OFFSET): rows after the last one seen, in the chosen order. The
cursor names only the id of that last row; the store reads its sort key from the row itself, so a cursor stays
short whatever the name (a 200-character Cyrillic name would not fit the kernel's 400-character cursor) and a
cursor of another subscriber's row finds no row: an empty page, nothing leaked. A cursor is bound to its list and
its sort: one handed out for another is a 422 naming `cursor`.

The search `q` is a case-insensitive substring (ILIKE) of the names, logins and addresses a list shows, its
wildcards escaped. Where it runs is said with each store query: on one subscriber's or one partner's rows (found
by their primary key's first column), or on the partners, the vendor's franchisee network.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, ClassVar, Generic, Literal, TypeVar

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from shared.pages import Cursor, decode_cursor, encode_cursor
from shared.parsing import StrictModel

T = TypeVar("T")
Sort = Literal["name", "newest"]
MAX_PAGE = 500

Search = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    Field(description="Part of a name, login or e-mail address, in any case"),
]


@dataclass(frozen=True)
class Window:
    """The rows a page shows: those matching `q` after the row `after`, in `sort` order, at most `limit`."""

    sort: Sort
    limit: int
    after: uuid.UUID | None = None
    q: str | None = None

    @property
    def pattern(self) -> str | None:
        """`q` as an ILIKE pattern (its own `%`, `_` and `\\` matched as themselves), None when not searching."""
        if self.q is None:
            return None
        escaped = self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"%{escaped}%"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; `more`: rows follow the last one (the store read one row beyond `limit`)."""

    items: list[T]
    more: bool

    @classmethod
    def of(cls, rows: list[T], limit: int) -> Page[T]:
        return cls(rows[:limit], len(rows) > limit)


def encode_list_cursor(list_name: str, sort: str, last_id: uuid.UUID) -> str:
    return encode_cursor(f"{list_name}.{sort}", str(last_id))


def decode_list_cursor(list_name: str, sort: str, cursor: str) -> uuid.UUID:
    """The id of the last row seen; ValueError for a cursor this list did not hand out for this sort."""
    [last_id] = decode_cursor(f"{list_name}.{sort}", cursor, 1)
    try:
        return uuid.UUID(last_id)
    except ValueError:
        raise ValueError("not a cursor from this list") from None


class ListQuery(StrictModel):
    """The query of a paged list: each list names itself (`LIST`) and adds its filters and its default sort."""

    LIST: ClassVar[str]

    q: Search | None = None
    sort: Sort = "name"
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)
    cursor: Cursor | None = None  # last: its check reads `sort`

    @field_validator("cursor")
    @classmethod
    def _cursor_is_ours(cls, value: str | None, info: ValidationInfo) -> str | None:
        sort = info.data.get("sort")
        if value is not None and sort is not None:  # (a bad `sort` is refused on its own)
            decode_list_cursor(cls.LIST, sort, value)  # a cursor we did not hand out is a 422 naming the field
        return value

    def window(self) -> Window:
        after = decode_list_cursor(self.LIST, self.sort, self.cursor) if self.cursor is not None else None
        return Window(sort=self.sort, limit=self.limit, after=after, q=self.q)

    def next_cursor(self, page: Page[T], last_id: uuid.UUID | None) -> str | None:
        """The cursor after `last_id`, the page's last row, when rows follow it."""
        return encode_list_cursor(self.LIST, self.sort, last_id) if page.more and last_id is not None else None
