"""updates (port 8104): the release catalogue (UPD-1, UPD-2, UPD-6), entitlement to it (UPD-3, UPD-4),
update plans for client programs (UPD-5), kit downloads through short-lived signed links, and the signed update
metadata (TUF, issue 21) client programs verify the kits with.

Downloads are the heaviest load of the system: the link handler needs no database, so any number of
replicas (or nginx, or a CDN) can serve the links.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from services.updates import (
    api,
    articles_api,
    catalogue_api,
    delivery,
    form_updates_api,
    forms_api,
    kits_api,
    pages_api,
    publishing_api,
    rates_api,
    release_api,
    tuf_api,
)
from services.updates.consumers import subscriptions
from services.updates.download_figures import DownloadFigures
from services.updates.downloads import LinkSigner
from services.updates.entitlement_cache import EntitlementCache
from services.updates.entitlement_store import CHANNEL as ENTITLEMENT_CHANNEL
from services.updates.graphs import Catalogues
from services.updates.keys import CACHE, CATALOGUES, DOWNLOADS, RATES_CACHE, SETTINGS, SIGNER, STORAGE, TUF_KEYS
from services.updates.rates_cache import CHANNEL as RATES_CHANNEL
from services.updates.rates_cache import RatesCache
from services.updates.rates_fetch import FETCH_JOB, fetch_at_start, fetch_job
from services.updates.settings import UpdatesSettings
from services.updates.store import CATALOGUE_CHANNEL
from services.updates.tuf_figures import MetadataFigures
from services.updates.tuf_keys import OnlineKeys
from services.updates.tuf_renewal import RENEW_JOB, renewal_at_start, renewal_job
from shared.app import create_app as create_service_app
from shared.app import setup_auth, setup_bus, setup_consumers, setup_db, setup_jobs, setup_outbox, setup_revocations
from shared.auth import KeySource
from shared.http import Api
from shared.jobs import JobHandler
from shared.keys import CLOCK, METRICS, POOL, SAMPLERS
from shared.listen import setup_change_listener
from shared.logging import get_logger
from shared.storage.configured import S3Bucket, configured_storage

SERVICE = "updates"
SCHEMA = "updates"
MIGRATIONS = Path(__file__).parent / "migrations"

ROUTES = Api(
    "ITS Portal updates",
    description="Configuration and platform releases, known problems, update plans for client programs and "
    "kit downloads through signed links (UPD-1..6); regulated reporting forms published like releases (DAT-2).",
)
ROUTES.include(catalogue_api.routes)
ROUTES.include(kits_api.routes)
ROUTES.include(publishing_api.routes)
ROUTES.include(release_api.routes)
ROUTES.include(articles_api.routes)
ROUTES.include(forms_api.routes)
ROUTES.include(form_updates_api.routes)
ROUTES.include(pages_api.routes)
ROUTES.include(api.routes)
ROUTES.include(delivery.routes)
ROUTES.include(tuf_api.routes)
ROUTES.include(rates_api.routes)

log = get_logger(__name__)

__all__ = ["MIGRATIONS", "SCHEMA", "UpdatesSettings", "create_app"]


def create_app(settings: UpdatesSettings, keys: KeySource | None = None) -> web.Application:
    """`keys` verifies access tokens (tests pass their own); by default identity's JWKS."""
    app = create_service_app(settings, service=SERVICE, api=ROUTES)
    app[SETTINGS] = settings
    setup_db(app, settings, SCHEMA)
    setup_bus(app, settings, SERVICE)
    setup_outbox(app, settings, producer=SERVICE, schema=SCHEMA)
    setup_consumers(app, settings, subscriptions())
    setup_auth(app, settings, keys)
    setup_revocations(app)  # SUB-5, SUB-6, partners: a token whose grant is taken away is refused at once
    setup_storage(app, settings)
    app[CACHE] = EntitlementCache()
    app[METRICS].caches.watch("entitlements", app[CACHE])
    app[RATES_CACHE] = RatesCache()
    app[METRICS].caches.watch("rates", app[RATES_CACHE])
    app[CATALOGUES] = Catalogues(lambda: app[POOL])
    app[DOWNLOADS] = DownloadFigures.registered(app[METRICS].registry)
    app[SIGNER] = LinkSigner(
        settings.download_link_secret.get_secret_value().encode(), settings.public_url, settings.download_link_seconds
    )
    app.on_cleanup.append(lambda app: app[CATALOGUES].close())
    job_handlers = {**setup_update_metadata(app, settings), **setup_rates_fetch(app, settings)}
    if job_handlers:
        setup_jobs(app, settings, job_handlers)
    setup_change_listener(
        app,
        settings.database_url,
        {
            ENTITLEMENT_CHANNEL: lambda payload: app[CACHE].forget_payload(payload),
            CATALOGUE_CHANNEL: app[CATALOGUES].forget,
            RATES_CHANNEL: lambda payload: app[RATES_CACHE].forget(),
        },
        name="updates",
        hearing=lambda heard: _hearing(app, heard),
    )
    return app


def _hearing(app: web.Application, heard: bool) -> None:
    """Change notifications heard, or no longer: the caches that keep answers only while they are."""
    app[CACHE].hearing(heard)
    app[RATES_CACHE].hearing(heard)


def setup_update_metadata(app: web.Application, settings: UpdatesSettings) -> dict[str, JobHandler]:
    """The signed update metadata's online keys (read now: a key directory mounted wrong stops the start), the hourly
    renewal job and the figure of its expiry. Without keys the metadata is not maintained (publishing is refused
    once a root is installed), and a production start says so. Returns its job's handler."""
    app[TUF_KEYS] = OnlineKeys(settings.tuf_keys_dir)
    figures = MetadataFigures(app[METRICS].registry)
    if settings.tuf_keys_dir is None:
        if settings.is_production:
            log.warning("tuf.not_maintained", hint="set ITS_TUF_KEYS_DIR: kits are verified only by their sha256")
        return {}
    app.cleanup_ctx.append(renewal_at_start)
    app[SAMPLERS]["tuf"] = lambda: figures.sample(app[POOL], app[CLOCK].now())
    return {RENEW_JOB: renewal_job(app[TUF_KEYS], app[CLOCK])}


def setup_rates_fetch(app: web.Application, settings: UpdatesSettings) -> dict[str, JobHandler]:
    """DAT-1: the daily fetch of the bank's file, when ITS_RATES_URL says where it is (else rates are imported)."""
    if not settings.rates_url:
        return {}
    app.cleanup_ctx.append(fetch_at_start(settings.vendor_zone))
    return {FETCH_JOB: fetch_job(settings.rates_url, settings.max_rates_file_bytes, settings.vendor_zone, app[CLOCK])}


def setup_storage(app: web.Application, settings: UpdatesSettings) -> None:
    """Put the configured ContentStorage under STORAGE (S3: with an HTTP session for the app's life)."""
    bucket = S3Bucket(
        settings.s3_endpoint,
        settings.s3_bucket,
        settings.s3_access_key.get_secret_value(),
        settings.s3_secret_key.get_secret_value(),
        settings.s3_region,
        prefix="kits/",
    )

    async def storage(app: web.Application) -> AsyncIterator[None]:
        app[STORAGE] = configured_storage(settings.kit_storage, settings.kits_dir, bucket)
        yield
        await app[STORAGE].close()

    app.cleanup_ctx.append(storage)
