"""Ids in contracts' URLs."""

from __future__ import annotations

import uuid

from aiohttp import web

from shared.problems import NotFound


def id_in_path(request: web.Request, name: str, not_found: str) -> uuid.UUID:
    """The id in the URL; one that is not even an id is as unknown as any other (404)."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise NotFound(not_found) from None
