"""The portal's keys: what the app holds (settings, sessions, the services' clients) and what a request carries
(its session and language). One place, so that every module reads the same key."""

from __future__ import annotations

from aiohttp import web

from services.portal.clients.catalogue import Catalogue
from services.portal.clients.contracts import Contracts
from services.portal.clients.identity import Identity
from services.portal.clients.invitations import Invitations
from services.portal.clients.members import Members
from services.portal.clients.notifications import Notifications
from services.portal.clients.partners import Partners
from services.portal.clients.registration import Registrations
from services.portal.clients.support import Support
from services.portal.clients.updates import Updates
from services.portal.kept_forms import KeptForm, KeptForms
from services.portal.sessions import Session, Sessions
from services.portal.settings import PortalSettings
from services.portal.static_files import StaticFiles

SETTINGS = web.AppKey("portal_settings", PortalSettings)
SESSIONS = web.AppKey("sessions", Sessions)
KEPT_FORMS = web.AppKey("kept_forms", KeptForms)  # forms kept across a login (kept_forms.py)
IDENTITY = web.AppKey("identity", Identity)
INVITATIONS = web.AppKey("invitations", Invitations)
MEMBERS = web.AppKey("members", Members)  # identity's subscriber: its users and their invitations
PARTNERS = web.AppKey("partners", Partners)  # identity's partners, their staff and API clients
# The other services, called with the user's token through `as_user` (their APIs are in each /openapi.json).
REGISTRATION = web.AppKey("registration", Registrations)
CATALOGUE = web.AppKey("catalogue", Catalogue)  # registration's catalogue
CONTRACTS = web.AppKey("contracts", Contracts)
UPDATES = web.AppKey("updates", Updates)
NOTIFICATIONS = web.AppKey("notifications", Notifications)
SUPPORT = web.AppKey("support", Support)
STATIC_FILES = web.AppKey("static_files", StaticFiles)  # the stylesheet and scripts by their hashed names

SESSION = web.RequestKey("session", Session)  # absent: no session
LANGUAGE = web.RequestKey("language", str)
SET_SESSION = web.RequestKey("set_session", Session)  # the response sets this session's cookie
ENDED = web.RequestKey("session_ended", bool)  # the response clears the session cookie
KEPT = web.RequestKey("kept_form", KeptForm)  # this page's form comes back with what was typed (render)
KEPT_SHOWN = web.RequestKey("kept_form_shown", bool)  # the page showed it: the kept form is deleted
