"""HTTP API of notifications: the delivery log, for operators; accounts' preferences (preferences_api.py)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field, field_validator

from services.notifications import deliveries
from services.notifications.delivery import Delivery, DeliveryStatus
from services.notifications.preferences_api import preferences
from shared.auth import Caller
from shared.http import Api, Link
from shared.keys import POOL
from shared.pages import Cursor, decode_cursor, encode_cursor
from shared.parsing import StrictModel

OPERATOR_SCOPE = "operator"
MAX_PAGE = 200

api = Api(
    "ITS Portal notifications",
    description="E-mail sent on behalf of the other services, the log of every delivery, and what each account "
    "wants to receive.",
)
api.include(preferences)

# ---- cursor: opaque to clients (shared/pages.py), "the last id seen" to us ------------------------

PAGE_CURSOR = "d1"
_MAX_ID = 2**63 - 1  # bigserial


def before_id(cursor: str) -> int:
    """The id the next page starts below; ValueError for anything we did not hand out."""
    (number,) = decode_cursor(PAGE_CURSOR, cursor, 1)
    if not number.isdigit() or not 0 < int(number) <= _MAX_ID:
        raise ValueError("not a cursor from this list")
    return int(number)


# ---- models ------------------------------------------------------------------------------------


class DeliveryQuery(StrictModel):
    recipient: str | None = Field(
        default=None, min_length=1, max_length=320, description="E-mail address, exact match, case-insensitive"
    )
    status: DeliveryStatus | None = None
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: Cursor | None = None

    @field_validator("cursor")
    @classmethod
    def _cursor_is_ours(cls, value: str | None) -> str | None:
        if value is not None:
            before_id(value)  # a bad cursor is a 422 naming the field, never a 500
        return value


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


# ---- routes ------------------------------------------------------------------------------------


@api.get(
    "/v1/deliveries",
    summary="The delivery log, newest first (operators)",
    query=DeliveryQuery,
    response=DeliveryPage,
    scope=OPERATOR_SCOPE,
    links={"NextPage": Link("list_deliveries", {"cursor": "$response.body#/next_cursor"})},
    tags=("deliveries",),
)
async def list_deliveries(request: web.Request, *, caller: Caller, query: DeliveryQuery) -> DeliveryPage:
    page, more = await deliveries.log_page(
        request.app[POOL],
        recipient=query.recipient,
        status=query.status,
        before_id=before_id(query.cursor) if query.cursor is not None else None,
        limit=query.limit,
    )
    return DeliveryPage(
        items=page,
        next_cursor=encode_cursor(PAGE_CURSOR, str(page[-1].id)) if more else None,
    )
