"""identity's partner directory: the vendor's active partners (name, city, contact e-mail), readable by any
logged-in account, so the portal can say where to buy a product or ITS. Nothing of their staff, clients or TIN."""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import BaseModel, Field, field_validator

from services.identity import partner_directory
from services.identity.partner_directory_store import ListedPartner
from services.identity.partners_api import path_uuid
from shared.auth import Caller
from shared.http import Api, Link
from shared.keys import POOL
from shared.pages import Cursor, decode_cursor, encode_cursor
from shared.parsing import StrictModel
from shared.problems import NotFound

routes = Api("ITS Portal identity: partner directory")

TAGS = ("partner directory",)
DIRECTORY_CURSOR = "pd1"  # (name, id) of the last partner seen


class DirectoryQuery(StrictModel):
    limit: int = Field(default=50, ge=1, le=200)
    cursor: Cursor | None = None

    @field_validator("cursor")
    @classmethod
    def _cursor_is_ours(cls, value: str | None) -> str | None:
        if value is not None:
            _after(value)  # a cursor we did not hand out is a 422 naming the field
        return value


def _after(cursor: str) -> tuple[str, uuid.UUID]:
    name, partner_id = decode_cursor(DIRECTORY_CURSOR, cursor, 2)
    try:
        return name, uuid.UUID(partner_id)
    except ValueError:
        raise ValueError("not a cursor from this list") from None


class DirectoryPartner(BaseModel):
    id: uuid.UUID = Field(description="The partner's id, as contracts name a contract's accompanying partner")
    name: str
    city: str
    contact_email: str


class DirectoryList(BaseModel):
    items: list[DirectoryPartner]  # by name
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


def _out(partner: ListedPartner) -> DirectoryPartner:
    return DirectoryPartner(**partner.__dict__)


@routes.get(
    "/v1/partner-directory",
    summary="The vendor's active partners by name, a page at a time (any logged-in account)",
    auth=True,
    query=DirectoryQuery,
    response=DirectoryList,
    links={"NextPage": Link("partner_directory_list", {"cursor": "$response.body#/next_cursor"})},
    tags=TAGS,
)
async def partner_directory_list(request: web.Request, caller: Caller, query: DirectoryQuery) -> DirectoryList:
    after = _after(query.cursor) if query.cursor is not None else None
    page = await partner_directory.directory_page(request.app[POOL], after=after, limit=query.limit)
    last = page.partners[-1] if page.more else None
    return DirectoryList(
        items=[_out(p) for p in page.partners],
        next_cursor=encode_cursor(DIRECTORY_CURSOR, last.name, str(last.id)) if last else None,
    )


@routes.get(
    "/v1/partner-directory/{partner_id:uuid}",
    summary="One active partner of the directory (any logged-in account); unknown or deactivated: 404",
    auth=True,
    response=DirectoryPartner,
    errors=(404,),
    tags=TAGS,
)
async def partner_directory_entry(request: web.Request, caller: Caller) -> DirectoryPartner:
    found = await partner_directory.directory_entry(request.app[POOL], path_uuid(request, "partner_id"))
    if found is None:
        raise NotFound("no such active partner")
    return _out(found)
