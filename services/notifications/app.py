"""notifications (port 8105): e-mail for identity's, registration's, contracts', updates' and support's events, sent
over SMTP, with a delivery log, and accounts' preferences (release news on or off, one-click unsubscribe)."""

from __future__ import annotations

import contextlib
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import Field, SecretStr, field_validator, model_validator

from services.notifications.addresses import Unsendable, check_recipient
from services.notifications.api import api
from services.notifications.consumers import (
    contracts_subscription,
    identity_subscription,
    registration_subscription,
    support_subscription,
    updates_subscription,
)
from services.notifications.delivery import SEND_EMAIL_JOB
from services.notifications.keys import LINKS, RENDERER
from services.notifications.mailer import Mailer, MailFigures, SmtpSecurity, SmtpTransport
from services.notifications.releases import ReleaseLinks
from services.notifications.rendering import Renderer
from services.notifications.support_letters import SupportDesk, SupportLinks
from shared.app import create_app as create_service_app
from shared.app import setup_auth, setup_bus, setup_consumers, setup_db, setup_jobs, setup_revocations
from shared.auth import KeySource
from shared.events.identity import Language
from shared.keys import CLOCK, METRICS
from shared.settings import DEFAULT_PUBLIC_URL, BaseServiceSettings, PublicUrl, TimeZoneName

SERVICE = "notifications"
SCHEMA = "notifications"
MIGRATIONS = Path(__file__).parent / "migrations"
DEV_UNSUBSCRIBE_SECRET = "dev-only-unsubscribe-secret-change-me"  # noqa: S105 (refused in production)


class NotificationsSettings(BaseServiceSettings):
    port: int = 8105

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # none: plain SMTP (the local sink); starttls: upgrade on the submission port; tls: implicit TLS (465).
    smtp_security: SmtpSecurity = "none"
    smtp_timeout: float = Field(default=30.0, gt=0)
    mail_from: str = "ITS Portal <no-reply@its-portal.local>"
    # Times in e-mails ("valid until ...") are shown in the vendor's time zone.
    mail_timezone: TimeZoneName = "Europe/Moscow"
    # Tries per e-mail while the SMTP server is away; with shared.jobs.backoff, about 45 minutes.
    send_max_attempts: int = Field(default=12, ge=1)
    # E-mails sent at once by each process: a send waits ~20 ms on the mail server (a connection each), so one at a
    # time is ~45 a second, and a processing day of 100,000 contracts would mail for more than half an hour. Each
    # holds a database connection while it sends (its job's row stays locked until the server took the e-mail).
    send_workers: int = Field(default=4, ge=1, le=8)

    # The system's address as people reach it (ITS_PUBLIC_URL, the gateway): release e-mails (UPD-3) link to the
    # release's page, the notification settings and the one-click unsubscribe page (RFC 8058) of the portal there;
    # support's letters (SUP-1) to the question's page there, the asker's, the partner's or the operators'.
    public_url: PublicUrl = DEFAULT_PUBLIC_URL
    # HMAC key of the unsubscribe links; changing it voids the links in e-mails already sent.
    unsubscribe_secret: SecretStr = SecretStr(DEV_UNSUBSCRIBE_SECRET)
    # Support's letters for the vendor's operators (SUP-1: questions no partner accompanies, feedback, overdue ones):
    # identity's events do not say who the operators are, so they go to the support desk's address, in its language.
    support_desk_email: str = "operators@its-portal.local"
    support_desk_language: Language = "en"

    @field_validator("mail_from")
    @classmethod
    def _sender_is_an_address(cls, value: str) -> str:
        address = parseaddr(value)[1]
        with contextlib.suppress(ValueError):
            if "@" in address and Address(addr_spec=address).domain:
                return value
        raise ValueError("mail_from must be an address, e.g. 'ITS Portal <no-reply@example.com>'")

    @field_validator("support_desk_email")
    @classmethod
    def _desk_is_an_address(cls, value: str) -> str:
        try:
            return check_recipient(value)
        except Unsendable as exc:
            raise ValueError(f"support_desk_email must be a bare address, e.g. 'support@example.com' ({exc})") from None

    @model_validator(mode="after")
    def _credentials_together(self) -> NotificationsSettings:
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("set both smtp_username and smtp_password, or neither")
        return self

    @model_validator(mode="after")
    def _unsubscribe_secret(self) -> NotificationsSettings:
        secret = self.unsubscribe_secret.get_secret_value()
        if self.is_production and secret == DEV_UNSUBSCRIBE_SECRET:
            raise ValueError("set ITS_UNSUBSCRIBE_SECRET (32+ random bytes) in production")
        if len(secret) < 16:
            raise ValueError("ITS_UNSUBSCRIBE_SECRET must be at least 16 characters")
        return self

    def release_links(self) -> ReleaseLinks:
        return ReleaseLinks(public_url=self.public_url, secret=self.unsubscribe_secret.get_secret_value().encode())

    def support_desk(self) -> SupportDesk:
        return SupportDesk(email=self.support_desk_email, language=self.support_desk_language)


def create_app(settings: NotificationsSettings, keys: KeySource | None = None) -> web.Application:
    """`keys` verifies access tokens (tests pass their own); by default identity's JWKS."""
    app = create_service_app(settings, service=SERVICE, api=api)
    clock = app[CLOCK]
    transport = SmtpTransport(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        timeout=settings.smtp_timeout,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
    )
    figures = MailFigures.registered(app[METRICS].registry)
    mailer = Mailer(
        transport, clock, sender=settings.mail_from, max_attempts=settings.send_max_attempts, figures=figures
    )

    setup_db(app, settings, SCHEMA)
    setup_bus(app, settings, SERVICE)
    renderer = Renderer()
    zone = ZoneInfo(settings.mail_timezone)
    links = settings.release_links()
    app[LINKS] = links
    app[RENDERER] = renderer
    setup_consumers(
        app,
        settings,
        [
            identity_subscription(renderer, clock, zone),
            registration_subscription(renderer, clock),  # rule REG-5
            contracts_subscription(renderer, clock, zone),  # rules ITS-2, ITS-6, CMS-7
            updates_subscription(renderer, clock, links),  # rule UPD-3
            support_subscription(renderer, clock, SupportLinks(settings.public_url), settings.support_desk(), zone),
        ],
    )
    setup_jobs(app, settings, {SEND_EMAIL_JOB: mailer.send_email}, workers=settings.send_workers)
    setup_auth(app, settings, keys)
    setup_revocations(app)  # a token whose grant is taken away is refused at once, as everywhere
    return app
