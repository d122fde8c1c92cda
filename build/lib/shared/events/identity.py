"""Events published by identity (`identity.*`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from shared.events import Event

Language = Literal["en", "ru"]


class AccountRegistered(Event):
    TYPE = "identity.account.registered"

    account_id: uuid.UUID
    login: str
    email: str
    full_name: str | None
    language: Language = "en"


class EmailVerificationRequested(Event):
    """Rule ACC-2: a link that verifies the address, sent to that address."""

    TYPE = "identity.email.verification_requested"

    account_id: uuid.UUID
    login: str
    email: str
    full_name: str | None
    language: Language = "en"
    verification_url: str
    expires_at: datetime


class EmailVerified(Event):
    TYPE = "identity.email.verified"

    account_id: uuid.UUID
    email: str


class PasswordResetRequested(Event):
    TYPE = "identity.password.reset_requested"

    account_id: uuid.UUID
    login: str
    email: str
    full_name: str | None
    language: Language = "en"
    reset_url: str
    expires_at: datetime
