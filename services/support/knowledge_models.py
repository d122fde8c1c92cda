"""The knowledge base's request and answer models (SUP-2): they validate the search and document it in OpenAPI."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.support.api_models import ConfigurationCode
from services.support.knowledge_store import Hit
from services.support.knowledge_text import safe_snippet
from shared.clock import local_date
from shared.pages import Cursor, decode_cursor, encode_cursor
from shared.parsing import StrictModel

MAX_QUERY = 300  # characters: a question's words, not a document
KNOWLEDGE_CURSOR = "k1"  # (rank, kind, key) of the last item seen, best first
KINDS = ("question", "article")
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("type a word to search for")
    return value


Query = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_QUERY),
    AfterValidator(_not_blank),
    Field(description='Words in Russian or English, in any grammatical form (also "a phrase", -word, or)'),
]
Day = Annotated[dt.date, Field(ge=EARLIEST, le=LATEST)]


def after(cursor: str | None) -> tuple[float, str, str] | None:
    if cursor is None:
        return None
    rank, kind, key = decode_cursor(KNOWLEDGE_CURSOR, cursor, 3)
    try:
        value = float(rank)
    except ValueError:
        raise ValueError("not a cursor from this list") from None
    if kind not in KINDS or not key or not 0 <= value <= 1:
        raise ValueError("not a cursor from this list")
    return value, kind, key


def next_cursor(hit: Hit) -> str:
    return encode_cursor(KNOWLEDGE_CURSOR, repr(hit.rank), hit.kind, hit.key)


class KnowledgeQuery(StrictModel):
    model_config = ConfigDict(populate_by_name=True)

    q: Query
    configuration: ConfigurationCode | None = Field(default=None, description="Only about this configuration")
    from_: Day | None = Field(default=None, alias="from", description="Asked or changed on this day or later")
    to: Day | None = Field(default=None, description="Asked or changed on this day or earlier")
    limit: int = Field(default=20, ge=1, le=50)
    cursor: Cursor | None = None

    @field_validator("cursor")
    @classmethod
    def _ours(cls, value: str | None) -> str | None:
        after(value)  # a cursor we did not hand out is a 422 naming the field
        return value


class KnowledgeItem(BaseModel):
    kind: Literal["question", "article"]
    id: str = Field(description="A question's id, or an article's slug")
    title: str = Field(description="A question's subject, an article's title (text, not HTML)")
    snippet: str = Field(description="HTML: the escaped text around the matches, each match in <b>…</b>, nothing else")
    configuration: str | None
    date: dt.date = Field(description="The day, in the vendor's zone, the question was asked or the article changed")
    rank: float = Field(ge=0, le=1, description="ts_rank_cd, scaled to 0..1: higher is better")


class KnowledgePage(BaseModel):
    items: list[KnowledgeItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")
    suggestion: str | None = Field(
        description="When nothing is found: the query with misspelled words corrected, if that finds something"
    )


def item_out(hit: Hit, zone: ZoneInfo) -> KnowledgeItem:
    return KnowledgeItem(
        kind="question" if hit.kind == "question" else "article",
        id=hit.key,
        title=hit.title,
        snippet=safe_snippet(hit.headline or ""),
        configuration=hit.configuration,
        date=local_date(hit.at, zone),
        rank=hit.rank,
    )
