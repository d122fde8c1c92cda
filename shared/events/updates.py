"""Events published by updates (`updates.*`): releases published and withdrawn (UPD-1, UPD-2).

Notifications e-mails the owners of the subscribers registered for the configuration (UPD-3).
"""

from __future__ import annotations

import uuid
from datetime import date
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
