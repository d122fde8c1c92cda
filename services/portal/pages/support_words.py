"""What the support pages share (SUP-1, SUP-2): support's refusals said in the portal's words, its snippets checked
before they are shown, a file's name as support takes it, and a month to show figures for."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from urllib.parse import unquote

from aiohttp import web
from markupsafe import Markup, escape

from services.portal import i18n
from services.portal.clients.transport import ServiceError
from services.portal.keys import SETTINGS
from services.portal.pages.base import language_of, session_of, t
from services.portal.sessions import token_claims
from shared.clock import local_date
from shared.keys import CLOCK

# The form fields of support's answers (its field → the form's).
QUESTION_FIELDS = {
    "kind": "kind",
    "subject": "subject",
    "body": "body",
    "registration_number": "registration_number",
    "configuration": "configuration",
    "version": "version",
    "platform_version": "platform_version",
    "partner_id": "partner_id",
    "minutes_spent": "minutes_spent",
    "asks_for_details": "asks_for_details",
    "score": "score",
    "comment": "comment",
}
STATES = ("new", "in_progress", "waiting_for_customer", "answered", "closed")
MAX_FILES = 10  # support keeps at most 10 attachments a question
MAX_FILE_BYTES = 20 * 1024 * 1024  # and each at most 20 MiB: the portal spools no more than that
# The types support takes (services/support/attachments.py TYPES); any other file goes as application/octet-stream.
FILE_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "application/pdf",
    "application/zip",
    "text/plain",
    "text/csv",
    "application/json",
    "application/xml",
)


def said(request: web.Request, exc: ServiceError) -> str:
    """A refusal of support as a sentence: its reason in the portal's words, else what its status means."""
    reason = str(exc.body.get("reason") or exc.slug)
    language = language_of(request)
    return i18n.known(language, f"support.reason.{reason}") or i18n.problem_message(language, exc)


def form_errors(request: web.Request, exc: ServiceError) -> dict[str, str]:
    """support's 422 next to the form's fields (its own reasons in the portal's words); anything else above it."""
    language = language_of(request)
    errors: dict[str, str] = {}
    for item in exc.field_errors:
        name = QUESTION_FIELDS.get(item.field.split(".")[-1], "_form")
        message = (
            i18n.known(language, f"support.reason.{item.type}")
            or i18n.known(language, f"error.{item.type}")
            or t(request, "error.value_error")
        )
        errors.setdefault(name, message)
    if not errors:
        errors["_form"] = said(request, exc)
    return errors


_MARKED = re.compile(r"</?b>")
_TAG = re.compile(r"<")


def snippet(text: str) -> Markup:
    """A search result's snippet: the service escapes the text and marks the words found with <b>; shown as HTML only
    when that is all it holds, otherwise as plain text."""
    if _TAG.search(_MARKED.sub("", text)) is None:
        return Markup(text)  # noqa: S704 (checked above: no tag but <b> and </b>, the rest escaped by the service)
    return escape(text)


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def file_name(filename: str, taken: set[str]) -> str:
    """A file's name as support takes it (Latin letters, digits and . _ + -, starting with a letter or digit, at most
    200 characters), unique on the question: other letters lose their accents or become "_"."""
    raw = unicodedata.normalize("NFKD", unquote(filename).replace("\\", "/").rsplit("/", 1)[-1])
    stem, dot, extension = raw.rpartition(".")
    if not dot:
        stem, extension = raw, ""
    stem = _clean(stem)[:150] or "file"
    extension = _clean(extension)[:20]
    name, n = f"{stem}.{extension}" if extension else stem, 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}.{extension}" if extension else f"{stem}-{n}"
    taken.add(name)
    return name


def _clean(text: str) -> str:
    return _UNSAFE.sub("_", text.encode("ascii", "ignore").decode()).strip("._+-")


def file_type(declared: str) -> str:
    kind = declared.split(";")[0].strip().lower()
    return kind if kind in FILE_TYPES else "application/octet-stream"


def this_month(request: web.Request, chosen: str) -> str:
    """The month asked for (YYYY-MM) if it is one, else the current month in the vendor's zone."""
    if re.fullmatch(r"(19[0-9]{2}|2[0-9]{3})-(0[1-9]|1[0-2])", chosen):
        return chosen
    return local_date(request.app[CLOCK].now(), request.app[SETTINGS].vendor_zone).strftime("%Y-%m")


def is_owner(request: web.Request) -> bool:
    """Whether the session acts as its subscriber's owner (for display: support decides)."""
    session = session_of(request)
    if session is None or session.tokens is None:
        return False
    subscriber = token_claims(session.tokens.access).get("subscriber")
    return isinstance(subscriber, dict) and subscriber.get("role") == "owner"


def minutes(request: web.Request, value: int | None) -> str:
    """Business minutes as hours and minutes ("2 h 05 min"), or a dash."""
    if value is None:
        return "—"
    return t(request, "support.figures.duration", hours=value // 60, minutes=f"{value % 60:02d}")


def state_names(request: web.Request) -> Mapping[str, str]:
    return {state: t(request, f"support.state.{state}") for state in STATES}
