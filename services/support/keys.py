"""What support keeps on its application besides the kernel's (`shared.keys`): its settings, its service levels
(with the production calendar), the attachments' storage and the articles' rankings kept per query."""

from __future__ import annotations

from aiohttp import web

from services.support.article_rankings import ArticleRankings
from services.support.desk import ServiceLevels
from services.support.settings import SupportSettings
from shared.storage import ContentStorage

SETTINGS = web.AppKey("support_settings", SupportSettings)
LEVELS = web.AppKey("service_levels", ServiceLevels)
STORAGE: web.AppKey[ContentStorage] = web.AppKey("attachment_storage")
ARTICLES = web.AppKey("article_rankings", ArticleRankings)
