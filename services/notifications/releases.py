"""Release news (UPD-1, UPD-2, UPD-3), pure: which published releases owners hear of, which owners, and the
e-mail each gets, with the release's page and a one-click unsubscribe link."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

from services.notifications.addresses import Unsendable, check_link, check_recipient
from services.notifications.languages import pick_language
from services.notifications.letters import EmailRequest
from services.notifications.summary import plain_summary
from services.notifications.unsubscribe import sign
from services.notifications.wording import display_name
from shared.events.updates import ReleasePublished
from shared.formats import format_date
from shared.settings import public_link

# The portal's pages the release e-mails link to, at the system's public address (ITS_PUBLIC_URL): the
# one-click unsubscribe page (RFC 8058: a mail program POSTs to it) and the notification settings.
UNSUBSCRIBE_PAGE = "/unsubscribe"
SETTINGS_PAGE = "/notifications"


@dataclass(frozen=True)
class Owner:
    """An owner to tell of a release (read models of identity's and registration's events): the account and the
    subscribers it owns that are registered for the release's configuration."""

    account_id: uuid.UUID
    email: str
    login: str | None
    full_name: str | None
    language: str
    subscribers: list[tuple[str, str]]  # (name, code) of each, sorted


def announces(event: ReleasePublished) -> bool:
    """Which published releases owners hear of: not prereleases, which are for those who ask for them (the
    update plan's `allow_prerelease`), not news for every owner."""
    return not event.prerelease


def release_audience(event: ReleasePublished) -> str | None:
    """The configuration whose subscribers' owners are told (UPD-3); None: a platform release (UPD-2), for
    the owners of every subscriber with an active product."""
    if event.kind == "platform":
        return None
    if not event.configuration:
        raise Unsendable("a configuration release that names no configuration")
    return event.configuration


@dataclass(frozen=True)
class ReleaseLinks:
    """The links of a release e-mail, all to the portal's pages at the system's public address (ITS_PUBLIC_URL): the
    release's page, the notification settings, and each account's one-click unsubscribe link."""

    public_url: str
    secret: bytes = field(repr=False)

    def page(self, event: ReleasePublished) -> str:
        """The portal's release page: `/releases/<configuration>/<version>`, or `/releases/platform/<version>`."""
        version = quote(event.version, safe="")
        configuration = release_audience(event)
        code = "platform" if configuration is None else quote(configuration, safe="")
        return check_link(public_link(self.public_url, f"/releases/{code}/{version}"))

    def settings(self) -> str:
        return check_link(public_link(self.public_url, SETTINGS_PAGE))

    def unsubscribe(self, account_id: uuid.UUID) -> str:
        return check_link(public_link(self.public_url, f"{UNSUBSCRIBE_PAGE}?token={sign(self.secret, account_id)}"))


def release_email(
    event: ReleasePublished, owner: Owner, *, page_url: str, unsubscribe_url: str, settings_url: str
) -> EmailRequest:
    """UPD-3: the owner of a subscriber registered for the configuration (a platform release: with any active
    product) learns of the release, in the owner's language, with a link that stops these e-mails."""
    language = pick_language(owner.language)
    configuration = release_audience(event)
    platform = configuration is None
    return EmailRequest(
        template="release_published",
        language=language,
        recipient=check_recipient(owner.email),
        account_id=owner.account_id,
        unsubscribe_url=check_link(unsubscribe_url),
        context={
            "name": display_name(owner.full_name, owner.login or owner.email),
            "platform": platform,
            "configuration": configuration or "",
            "configuration_name": display_name(event.configuration_name, configuration or ""),
            "version": event.version,
            "release_date": format_date(event.release_date, language),
            "its_issue": event.its_issue,
            "min_platform": None if platform else event.min_platform,
            "grade": event.grade if platform else None,
            "whats_new": plain_summary(event.whats_new),
            "page_url": check_link(page_url),
            "unsubscribe_url": unsubscribe_url,
            "settings_url": check_link(settings_url),
            "subscribers": [{"name": name, "code": code} for name, code in owner.subscribers],
        },
    )
