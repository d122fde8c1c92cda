"""updates' exchange rates over HTTP (DAT-1): client programs read them, operators import the bank's files.

`GET /v1/rates?currencies=USD,EUR&from=2001-01-01&to=2001-12-31` (or `since=<the last day the program has>`: the
days after it up to today) answers a row for each currency and each calendar day — weekends and holidays carry the
rate last set before them — one currency after another, in day order:

    {"from": "2001-01-01", "to": "2001-12-31",
     "currencies": {"USD": {"name": "Доллар США"}},
     "columns": ["date", "currency", "nominal", "value"],
     "rates": [["2001-01-01", "USD", 1, "28.1600"], …]}

Values are strings, exactly as the bank set them (`nominal` units cost `value` roubles). `Accept: text/csv` or
`format=csv` answers the same rows as CSV with the header `date,currency,nominal,value` (what the import takes).
A long period is streamed: a whole history (1991 on, ~13,000 days a currency) is read through a cursor in chunks
and never held in memory. A short one (what programs ask every day) is the same bytes for every entitled caller:
each process keeps it whole until an import changes a rate (rates_cache.py), so it costs no database round trip.

Caching: the ETag is strong, made from the stamp of the rates' last change (the newest import that changed a row)
and the request as read (currencies, period, format): the same bytes for the same tag. `If-None-Match` answers 304
— after the entitlement is checked, so a subscriber whose coverage ended learns so rather than "not modified".
`Cache-Control: private`: whether the rates may be given depends on the caller's subscriber and this month's ITS
coverage, so no shared cache (a CDN, the gateway) may keep an answer and hand it to another caller — it would serve a
subscriber whose contract ended, or one that never had one; the program's own cache may, for RATES_MAX_AGE, and
revalidates with the ETag after. (The answers kept inside updates are kept after the entitlement check, which every
request still passes.)
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from aiohttp import web
from pydantic import Field, StringConstraints

from rules.refusal import Refused
from services.updates import rates
from services.updates.caller import caller_access
from services.updates.catalogue_models import OPERATOR
from services.updates.keys import RATES_CACHE, SETTINGS
from services.updates.problems import refusals_answered
from services.updates.ranges import etag_matches
from services.updates.rates_formats import FORMATS, RatesFileRefused, RatesFormat
from services.updates.rates_query import CSV_HEAD, Media, RatesRequest, csv_rows, json_head, json_rows, rates_request
from shared.auth import Caller
from shared.clock import local_date
from shared.http import Api, Header
from shared.keys import CLOCK, POOL
from shared.parsing import StrictModel
from shared.problems import BadRequest, PayloadTooLarge, Problem, UnsupportedMediaType, invalid

routes = Api("ITS Portal updates: exchange rates")

RATES_MAX_AGE = 600
# Short enough that no request line outgrows what aiohttp reads (8 KiB) even with every character percent-encoded.
_CODES = Annotated[str, StringConstraints(max_length=200)]
_DAY = Annotated[str, StringConstraints(max_length=10)]
_FORMAT = Annotated[str, StringConstraints(max_length=4)]
MEDIA_FORMATS: dict[str, RatesFormat] = {"application/xml": "xml", "text/xml": "xml", "text/csv": "csv"}


class RatesQuery(StrictModel):
    currencies: _CODES | None = Field(default=None, description="ISO 4217 codes, comma-separated: USD,EUR")
    from_: _DAY | None = Field(default=None, alias="from", description="The first day, YYYY-MM-DD (1991-01-01 on)")
    to: _DAY | None = Field(default=None, description="The last day, YYYY-MM-DD; default today (vendor's zone)")
    since: _DAY | None = Field(default=None, description="The last day the program has: the days after it")
    format: _FORMAT | None = Field(default=None, description="json or csv (else by Accept)")


class ImportQuery(StrictModel):
    format: RatesFormat | None = Field(default=None, description="xml or csv (else by Content-Type)")
    source: _CODES | None = Field(default=None, description="The file's name, kept with the import")


class InvalidRatesQuery(BadRequest):
    slug, title = "invalid-rates-query", "The rates request has invalid parameters"


class RatesFileInvalid(Problem):
    status, slug, title = 422, "rates-file-refused", "The rates file was refused: nothing of it was stored"


_ROW_SCHEMA = {
    "type": "array",
    "description": "date, currency, nominal, value (a decimal in a string)",
    "prefixItems": [
        {"type": "string", "format": "date"},
        {"type": "string"},
        {"type": "integer"},
        {"type": "string"},
    ],
    "minItems": 4,
    "maxItems": 4,
}
_RATES_SCHEMA = {
    "type": "object",
    "required": ["from", "to", "currencies", "columns", "rates"],
    "properties": {
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
        "currencies": {
            "type": "object",
            "additionalProperties": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
        "columns": {"type": "array", "items": {"type": "string"}},
        "rates": {"type": "array", "items": _ROW_SCHEMA},
    },
}
_CACHE_HEADERS = {
    "ETag": {"required": True, "schema": {"type": "string"}},
    "Cache-Control": {"required": True, "schema": {"type": "string"}},
}


@routes.get(
    "/v1/rates",
    summary="DAT-1: exchange rates of every day of a period (or since the last day the program has), JSON or CSV",
    auth=True,
    query=RatesQuery,
    headers=(
        Header("If-None-Match", {"type": "string"}, description="The ETag of an answer the program has"),
        Header("Accept", {"type": "string"}, description="text/csv for CSV"),
    ),
    responses={
        200: {
            "description": "A row for each currency and day, currency by currency (streamed)",
            "headers": _CACHE_HEADERS,
            "content": {
                "application/json": {"schema": _RATES_SCHEMA},
                "text/csv": {"schema": {"type": "string", "description": "date,currency,nominal,value"}},
            },
        },
        304: {"description": "Not modified (If-None-Match)", "headers": _CACHE_HEADERS},
    },
    errors=(400, 402, 403),
    tags=("client programs",),
)
async def exchange_rates(request: web.Request, caller: Caller, query: RatesQuery) -> web.StreamResponse:
    access = await caller_access(request, caller)
    with refusals_answered():
        access.require_rates()  # DAT-1, ITS-7, SUB-5: before anything about the rates is told
    asked = _rates_request(request, query, access.today)
    headers = {"Cache-Control": f"private, max-age={RATES_MAX_AGE}", "Vary": "Accept, Authorization"}
    content_type = "text/csv" if asked.media == "csv" else "application/json"
    if_none_match = request.headers.get("If-None-Match")
    if rates.is_short(asked):  # what programs ask every day: kept whole, no database round trip
        kept = await request.app[RATES_CACHE].answer(request.app[POOL], asked)
        headers["ETag"] = etag = asked.etag(kept.stamp)
        if if_none_match and etag_matches(if_none_match, etag, weak=True):
            return web.Response(status=304, headers=headers)
        return web.Response(body=kept.body, content_type=content_type, charset="utf-8", headers=headers)
    async with rates.reading(request.app[POOL], asked) as read:
        headers["ETag"] = etag = asked.etag(read.stamp)
        if if_none_match and etag_matches(if_none_match, etag, weak=True):
            return web.Response(status=304, headers=headers)
        response = web.StreamResponse(headers=headers)
        response.content_type, response.charset = content_type, "utf-8"
        await response.prepare(request)
        await response.write(CSV_HEAD if asked.media == "csv" else json_head(asked, read.names))
        first = True
        async for days in read.every_day():
            await response.write(csv_rows(days) if asked.media == "csv" else json_rows(days, first))
            first = False
    if asked.media == "json":
        await response.write(b"]}")
    await response.write_eof()
    return response


def _rates_request(request: web.Request, query: RatesQuery, today: date) -> RatesRequest:
    media = _media(query.format, request.headers.get("Accept", ""))
    try:
        return rates_request(
            currencies=query.currencies, from_=query.from_, to=query.to, since=query.since, media=media, today=today
        )
    except Refused as refused:
        errors = [invalid(r.field or "query", r.message, r.reason) for r in refused.refusals]
        raise InvalidRatesQuery(refused.first.message, errors=errors) from None


def _media(asked: str | None, accept: str) -> Media:
    if asked is None:
        return "csv" if "text/csv" in accept.lower() else "json"
    if asked not in ("json", "csv"):
        raise InvalidRatesQuery(
            "format is json or csv", errors=[invalid("format", "write json or csv", "invalid-parameter")]
        )
    return "csv" if asked == "csv" else "json"


# ---- operators ---------------------------------------------------------------------------------------------------


@routes.post(
    "/v1/rates/imports",
    summary="DAT-1: import a rates file (the bank's daily or dynamic XML, or CSV) whole or not at all; the report",
    scope=OPERATOR,
    query=ImportQuery,
    raw_body=tuple(MEDIA_FORMATS),
    response=rates.ImportReport,
    errors=(413, 415, 422),
    tags=("exchange rates",),
)
async def import_rates(request: web.Request, caller: Caller, query: ImportQuery) -> rates.ImportReport:
    app = request.app
    rates_format = query.format or MEDIA_FORMATS.get(request.content_type)
    if rates_format is None:
        raise UnsupportedMediaType(
            f"send the file as {', '.join(MEDIA_FORMATS)} or say format={'|'.join(FORMATS)}",
            received=request.content_type,
        )
    body = await _read_body(request, app[SETTINGS].max_rates_file_bytes)
    now = app[CLOCK].now()
    try:
        return await rates.import_rates(
            app[POOL],
            body,
            rates_format,
            source=query.source or "upload",
            now=now,
            today=local_date(now, app[SETTINGS].vendor_zone),
        )
    except RatesFileRefused as refused:
        problems = [{"line": p.line, "message": p.message} for p in refused.problems]
        raise RatesFileInvalid(str(refused.problems[0]), problems=problems, more=refused.more) from None


async def _read_body(request: web.Request, limit: int) -> bytes:
    """The whole file (it is parsed whole), refused past `limit` without reading further."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"a rates file is at most {limit} bytes (ITS_MAX_RATES_FILE_BYTES)")
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"a rates file is at most {limit} bytes (ITS_MAX_RATES_FILE_BYTES)")
        chunks.append(chunk)
    return b"".join(chunks)
