"""Reporting form news (DAT-2), pure: the e-mail an owner of a subscriber holding one of a published form's
configurations gets, with the configuration's forms page and the same one-click unsubscribe as release news."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from services.notifications.addresses import Unsendable, check_link, check_recipient
from services.notifications.languages import pick_language
from services.notifications.letters import EmailRequest
from services.notifications.releases import Owner, ReleaseLinks
from services.notifications.summary import plain_summary
from services.notifications.wording import display_name
from shared.events.updates import ReportingFormPublished
from shared.formats import format_date
from shared.settings import public_link

# The portal's page of a configuration's reporting forms.
FORMS_PAGE = "/releases/{configuration}/forms"


@dataclass(frozen=True)
class FormOwner:
    """An owner to tell of a form: the account, and the configurations of the form its subscribers hold."""

    owner: Owner
    configurations: list[str]  # sorted; the first one's forms page is linked


def merged_owners(by_configuration: dict[str, list[Owner]]) -> list[FormOwner]:
    """One entry per account over the form's configurations (an owner holding two of them gets one e-mail), with
    every subscriber it owns among them, each once."""
    merged: dict[object, tuple[Owner, list[str]]] = {}
    for configuration in sorted(by_configuration):
        for owner in by_configuration[configuration]:
            kept = merged.get(owner.account_id)
            if kept is None:
                merged[owner.account_id] = (owner, [configuration])
                continue
            subscribers = sorted(set(kept[0].subscribers) | set(owner.subscribers))
            merged[owner.account_id] = (
                Owner(owner.account_id, owner.email, owner.login, owner.full_name, owner.language, subscribers),
                [*kept[1], configuration],
            )
    return [FormOwner(owner, configurations) for owner, configurations in merged.values()]


def forms_page(links: ReleaseLinks, configuration: str) -> str:
    return check_link(public_link(links.public_url, FORMS_PAGE.format(configuration=quote(configuration, safe=""))))


def form_email(
    event: ReportingFormPublished, owner: FormOwner, *, page_url: str, unsubscribe_url: str, settings_url: str
) -> EmailRequest:
    """DAT-2: the owner learns of the new version of the form, in the owner's language, with the link that stops
    release news (form news are release news: one opt-out)."""
    if not owner.configurations:
        raise Unsendable("a form announced to an owner of none of its configurations")
    language = pick_language(owner.owner.language)
    account = owner.owner
    return EmailRequest(
        template="form_published",
        language=language,
        recipient=check_recipient(account.email),
        account_id=account.account_id,
        unsubscribe_url=check_link(unsubscribe_url),
        context={
            "name": display_name(account.full_name, account.login or account.email),
            "code": event.code,
            "form_name": event.name,
            "version": event.version,
            "applies_from": format_date(event.applies_from, language),
            "basis_number": event.basis_number,
            "basis_date": format_date(event.basis_date, language),
            "changes": plain_summary(event.changes),
            "configurations": owner.configurations,
            "page_url": check_link(page_url),
            "unsubscribe_url": unsubscribe_url,
            "settings_url": check_link(settings_url),
            "subscribers": [{"name": name, "code": code} for name, code in account.subscribers],
        },
    )
