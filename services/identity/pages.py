"""The few pages identity answers a browser that follows a mailed link without the portal."""

from __future__ import annotations

import html

from aiohttp import web


def page(title: str, text: str, *, status: int = 200, raw: bool = False) -> web.Response:
    body = text if raw else html.escape(text)
    return web.Response(
        status=status,
        content_type="text/html",
        text=f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{body}</p></body></html>",
        headers={"Content-Security-Policy": "default-src 'none'; form-action 'self'", "Cache-Control": "no-store"},
    )
