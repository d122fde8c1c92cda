"""What notifications keeps on its application besides the kernel's (`shared.keys`): the links its e-mails and
pages give out, and the renderer of its pages."""

from __future__ import annotations

from aiohttp import web

from services.notifications.releases import ReleaseLinks
from services.notifications.rendering import Renderer

LINKS = web.AppKey("release_links", ReleaseLinks)
RENDERER = web.AppKey("renderer", Renderer)
