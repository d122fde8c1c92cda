"""portal (port 8080): the personal account in a browser, a backend-for-frontend.

It holds no domain rules and no copy of the services' data: every page calls the services' HTTP APIs
with the user's own access token, kept in a server-side session (schema `portal`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import aiohttp_jinja2
import jinja2
from aiohttp import web

from services.portal import middlewares
from services.portal.clients.catalogue import Catalogue
from services.portal.clients.contracts import Contracts
from services.portal.clients.identity import Identity
from services.portal.clients.invitations import Invitations
from services.portal.clients.members import Members
from services.portal.clients.notifications import Notifications
from services.portal.clients.partners import Partners
from services.portal.clients.registration import Registrations
from services.portal.clients.support import Support
from services.portal.clients.transport import Service
from services.portal.clients.updates import Updates
from services.portal.kept_forms import KeptForms
from services.portal.keys import (
    CATALOGUE,
    CONTRACTS,
    IDENTITY,
    INVITATIONS,
    KEPT_FORMS,
    MEMBERS,
    NOTIFICATIONS,
    PARTNERS,
    REGISTRATION,
    SESSIONS,
    SETTINGS,
    STATIC_FILES,
    SUPPORT,
    UPDATES,
)
from services.portal.pages import (
    account,
    auth,
    documents,
    home,
    invitations,
    notifications,
    operator,
    operator_codes,
    operator_drafts,
    operator_forms,
    operator_numbers,
    operator_partners,
    operator_releases,
    operator_support,
    partner,
    partner_access,
    partner_support,
    partners_directory,
    releases,
    software,
    support,
    support_ask,
    support_thread,
    users,
)
from services.portal.sessions import Sessions
from services.portal.settings import PortalSettings
from services.portal.static_files import StaticFiles
from shared.app import create_app as create_service_app
from shared.app import setup_db
from shared.http import Api
from shared.keys import POOL
from shared.logging import get_logger
from shared.tasks import background

log = get_logger(__name__)

SERVICE = "portal"
SCHEMA = "portal"
MIGRATIONS = Path(__file__).parent / "migrations"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
PURGE_EVERY_SECONDS = 600.0

# The portal's pages are HTML, not an API: its OpenAPI document lists none of them.
ROUTES = Api("ITS Portal portal", description="The web portal (HTML pages); health and metrics only.")

__all__ = ["MIGRATIONS", "SCHEMA", "PortalSettings", "create_app"]


def create_app(settings: PortalSettings) -> web.Application:
    app = create_service_app(settings, service=SERVICE, api=ROUTES)
    app.middlewares.extend(
        [middlewares.compression, middlewares.security_headers, middlewares.error_pages, middlewares.sessions]
    )
    app[SETTINGS] = settings
    setup_db(app, settings, SCHEMA)
    setup_sessions(app, settings)
    setup_services(app, settings)
    setup_pages(app)
    return app


def setup_sessions(app: web.Application, settings: PortalSettings) -> None:
    async def sessions(app: web.Application) -> AsyncIterator[None]:
        app[SESSIONS] = Sessions(app[POOL], settings)
        app[KEPT_FORMS] = KeptForms(app[POOL], app[SESSIONS])
        async with background(_purge_expired(app[SESSIONS], app[KEPT_FORMS]), "portal.purge_sessions"):
            yield

    app.cleanup_ctx.append(sessions)


def setup_services(app: web.Application, settings: PortalSettings) -> None:
    async def services(app: web.Application) -> AsyncIterator[None]:
        http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=settings.service_timeout))
        identity = Service("identity", settings.identity_url, http)
        app[IDENTITY], app[INVITATIONS] = Identity(identity), Invitations(identity)
        app[MEMBERS], app[PARTNERS] = Members(identity), Partners(identity)
        registration = Service("registration", settings.registration_url, http)
        app[REGISTRATION], app[CATALOGUE] = Registrations(registration), Catalogue(registration)
        app[CONTRACTS] = Contracts(Service("contracts", settings.contracts_url, http))
        app[UPDATES] = Updates(Service("updates", settings.updates_url, http))
        app[NOTIFICATIONS] = Notifications(Service("notifications", settings.notifications_url, http))
        app[SUPPORT] = Support(Service("support", settings.support_url, http))
        yield
        await http.close()

    app.cleanup_ctx.append(services)


def setup_pages(app: web.Application) -> None:
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, default_helpers=False)
    for module in (
        home,
        documents,
        auth,
        account,
        invitations,
        software,
        releases,
        users,
        partner,
        partner_access,
        operator,
        operator_codes,
        operator_drafts,
        operator_forms,
        operator_numbers,
        operator_partners,
        operator_releases,
        notifications,
        partners_directory,
        support,
        support_ask,
        support_thread,
        partner_support,
        operator_support,
    ):
        app.router.add_routes(module.routes)
    app[STATIC_FILES] = StaticFiles.scan(STATIC)
    app.router.add_routes(app[STATIC_FILES].routes())


async def _purge_expired(sessions: Sessions, kept_forms: KeptForms) -> None:
    """Expired sessions and kept forms (issue 17), every 10 minutes."""
    while True:
        await asyncio.sleep(PURGE_EVERY_SECONDS)
        try:
            purged = await sessions.purge_expired()
            if purged:
                log.info("portal.sessions_purged", count=purged)
            forgotten = await kept_forms.purge_expired()
            if forgotten:
                log.info("portal.kept_forms_purged", count=forgotten)
        except Exception as exc:  # the database may be away for a while; try again next time
            log.warning("portal.purge_failed", error=repr(exc))
