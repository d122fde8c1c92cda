"""support (port 8106): questions to the consulting line and feedback to the vendor (SUP-1): routed to the partner
accompanying the product's ITS contract or to the vendor, a first answer due within business hours, the
conversation with its attachments, the staff's queue and the figures; the knowledge base searched over the
subscriber's questions and the vendor's articles (SUP-2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from prometheus_client import Counter

from services.support import api, attachments_api, knowledge_api, queue_api
from services.support.article_rankings import ArticleRankings
from services.support.consumers import subscriptions
from services.support.desk import ServiceLevels
from services.support.keys import ARTICLES, LEVELS, SETTINGS, STORAGE
from services.support.knowledge_store import ARTICLES_CHANNEL
from services.support.overdue import overdue_job
from services.support.questions import OVERDUE_JOB
from services.support.settings import SupportSettings
from shared.app import create_app as create_service_app
from shared.app import (
    setup_auth,
    setup_bus,
    setup_calendar,
    setup_consumers,
    setup_db,
    setup_jobs,
    setup_outbox,
    setup_revocations,
)
from shared.auth import KeySource
from shared.http import Api
from shared.keys import CALENDAR, CLOCK, METRICS, OUTBOX
from shared.listen import setup_change_listener
from shared.logging import get_logger
from shared.storage.configured import configured_storage

SERVICE = "support"
SCHEMA = "support"
MIGRATIONS = Path(__file__).parent / "migrations"

ROUTES = Api(
    "ITS Portal support",
    description="Questions to the consulting line and feedback to the vendor, their conversations and attachments, "
    "the staff's queue and the figures (SUP-1); the subscriber's knowledge base (SUP-2).",
)
ROUTES.include(api.routes)
ROUTES.include(attachments_api.routes)
ROUTES.include(queue_api.routes)
ROUTES.include(knowledge_api.routes)

__all__ = ["MIGRATIONS", "SCHEMA", "SupportSettings", "create_app"]

log = get_logger(__name__)


def create_app(settings: SupportSettings, keys: KeySource | None = None) -> web.Application:
    """`keys` verifies access tokens (tests pass their own); by default identity's JWKS."""
    app = create_service_app(settings, service=SERVICE, api=ROUTES)
    app[SETTINGS] = settings
    app[LEVELS] = service_levels(app, settings)
    setup_db(app, settings, SCHEMA)
    setup_bus(app, settings, SERVICE)
    setup_outbox(app, settings, producer=SERVICE, schema=SCHEMA)
    setup_consumers(app, settings, subscriptions())
    setup_auth(app, settings, keys)
    setup_revocations(app)  # SUB-5, SUB-6: an excluded user loses the questions at once
    setup_jobs(app, settings, {OVERDUE_JOB: overdue_job(app[OUTBOX], app[CLOCK])})
    setup_storage(app, settings)
    setup_article_rankings(app, settings)
    return app


def setup_article_rankings(app: web.Application, settings: SupportSettings) -> None:
    """SUP-2: the articles' ranking per query, kept in this process and forgotten when an article changes."""
    searches = Counter(
        "support_article_rankings_total",
        "Knowledge-base searches by whether the articles' ranking of the query was kept (hit) or read (miss)",
        ["outcome"],
        registry=app[METRICS].registry,
    )
    app[ARTICLES] = ArticleRankings(counted=lambda outcome: searches.labels(outcome).inc())
    setup_change_listener(app, settings.database_url, {ARTICLES_CHANNEL: app[ARTICLES].forget}, name="support")


def service_levels(app: web.Application, settings: SupportSettings) -> ServiceLevels:
    """SUP-1's service levels on the production calendar (the kernel's, as contracts' ITS-2 uses it)."""
    setup_calendar(app, settings)
    calendar = app[CALENDAR]
    return ServiceLevels(
        first_response_hours=settings.support_first_response_hours,
        opens=settings.support_opens,
        closes=settings.support_closes,
        zone=settings.vendor_zone,
        calendar=calendar,
        reopen_within=timedelta(days=settings.support_reopen_days),
    )


def setup_storage(app: web.Application, settings: SupportSettings) -> None:
    """The attachments' content storage (S3: with an HTTP session for the app's life)."""

    async def storage(app: web.Application) -> AsyncIterator[None]:
        app[STORAGE] = configured_storage(settings.attachment_storage, settings.attachments_dir, settings.s3)
        yield
        await app[STORAGE].close()

    app.cleanup_ctx.append(storage)
