"""Events published by updates (`updates.*`): releases published and withdrawn (UPD-1, UPD-2); articles saved and
withdrawn (UPD-6).

Notifications e-mails the owners of the subscribers registered for the configuration (UPD-3).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from shared.events import Event

ReleaseKind = Literal["configuration", "platform"]


class ReleaseEvent(Event):
    release_id: uuid.UUID
    kind: ReleaseKind
    configuration: str | None = None  # None for a platform release
    configuration_name: str | None = None
    version: str
    release_date: date
    its_issue: str


class ReleasePublished(ReleaseEvent):
    TYPE = "updates.release.published"

    prerelease: bool = False
    whats_new: str = ""  # Markdown source, for the e-mail's summary
    min_platform: str | None = None
    grade: Literal["recommended", "mandatory", "optional"] | None = None  # platform releases


class ReleaseWithdrawn(ReleaseEvent):
    TYPE = "updates.release.withdrawn"

    reason: str


ArticleKind = Literal["known_problem", "administration"]


class ArticleSaved(Event):
    """UPD-6: an article created or replaced (by slug); support's knowledge base (SUP-2) keeps its text."""

    TYPE = "updates.article.saved"

    slug: str
    configuration: str | None = None  # None: about the platform
    kind: ArticleKind
    title: str
    body: str  # Markdown
    versions: list[str] = []
    published_at: datetime
    updated_at: datetime


class ArticleWithdrawn(Event):
    """UPD-6: an article taken down; support's knowledge base drops it."""

    TYPE = "updates.article.withdrawn"

    slug: str
    withdrawn_at: datetime


class ReportingFormEvent(Event):
    """DAT-2: a version of a regulated reporting form (the regulator's form code, e.g. KND 1151001)."""

    form_id: uuid.UUID
    code: str
    version: str
    name: str
    applies_from: date
    configurations: list[str]  # the configurations whose client programs receive it


class ReportingFormPublished(ReportingFormEvent):
    """DAT-2: published; client programs of its configurations receive it, and notifications tells the owners of
    the subscribers that hold them (with release news' opt-out)."""

    TYPE = "updates.form.published"

    basis_number: str
    basis_date: date
    changes: str = ""  # Markdown source, for the e-mail's summary


class ReportingFormWithdrawn(ReportingFormEvent):
    TYPE = "updates.form.withdrawn"

    reason: str
