"""What the pages of lists that page, search, filter and sort share (portal issue 17): the filters read from the
query string as the page's GET form sent them, and the links to the first and the next page, which keep them.

A choice the form does not offer (an edited or old link) is dropped, so the page shows the whole list rather than
an error; the services still check every value (422 naming the field)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlencode

from aiohttp import web

SEARCH_MAX = 100  # the services' longest search text
CONFIGURATION_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")  # registration's configuration codes


def search_text(request: web.Request, name: str = "q") -> str:
    return request.query.get(name, "").strip()[:SEARCH_MAX]


def chosen(request: web.Request, name: str, offered: Iterable[str]) -> str:
    """The option chosen in select `name`, or "" (every one) when the form does not offer it."""
    value = request.query.get(name, "")
    return value if value in offered else ""


def configuration_code(request: web.Request, name: str) -> str:
    value = request.query.get(name, "").strip()
    return value if CONFIGURATION_CODE.fullmatch(value) else ""


def given(filters: Mapping[str, str]) -> dict[str, str]:
    """The filters the person set (the empty ones left out of the query and the links)."""
    return {name: value for name, value in filters.items() if value}


def link(path: str, query: Mapping[str, str]) -> str:
    return f"{path}?{urlencode(query)}" if query else path
