"""What client programs and subscribers are given of the regulated reporting forms (DAT-2): the forms a program
should receive, with short-lived signed links under the same entitlement as kits (UPD-4), and the forms of a
configuration with their history for subscribers that hold it (UPD-3). Read-only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from services.updates import form_rules, forms_store
from services.updates.access import SubscriberAccess
from services.updates.downloads import LinkSigner
from services.updates.store import configuration_name
from shared.db import Pool


@dataclass(frozen=True)
class FormToReceive:
    form: forms_store.FormVersion
    url: str  # the file's signed link


@dataclass(frozen=True)
class FormUpdates:
    configuration: str
    forms: list[FormToReceive]
    link_expires_at: datetime


async def form_updates(
    pool: Pool, access: SubscriberAccess, signer: LinkSigner, configuration: str, held: Mapping[str, tuple[int, ...]]
) -> FormUpdates:
    """DAT-2: the newest published forms of `configuration` that the program holds older or not at all, each with a
    signed link to its file. Refused (NotHeld, 403) when the subscriber does not hold the configuration (UPD-3),
    (DownloadDenied, 402/403 with the offer) when this user may not download its files now (UPD-4)."""
    await access.require_visible(configuration)
    async with pool.acquire() as conn:
        published = await forms_store.published_forms(conn, configuration)
    to_receive = form_rules.forms_to_receive(published, held)
    for form in to_receive:
        await access.require_download(configuration, form.published_at)  # UPD-4, as for a kit of the configuration
    expires = signer.expires(access)
    sign = signer.signing(access, expires)
    return FormUpdates(
        configuration=configuration,
        forms=[FormToReceive(f, sign(f.id, f.file_sha256, f.file_name)) for f in to_receive],
        link_expires_at=datetime.fromtimestamp(expires, UTC),
    )


@dataclass(frozen=True)
class ConfigurationForms:
    configuration: str
    configuration_name: str | None
    forms: dict[str, list[forms_store.FormVersion]]  # by form code, newest version first


async def configuration_forms(pool: Pool, access: SubscriberAccess, configuration: str) -> ConfigurationForms:
    """UPD-3, DAT-2: the published forms of a configuration the subscriber holds, each with its versions."""
    await access.require_visible(configuration)
    async with pool.acquire() as conn:
        published = await forms_store.published_forms(conn, configuration)
        name = await configuration_name(conn, configuration)
    forms: dict[str, list[forms_store.FormVersion]] = {}
    for form in published:  # ordered by code, newest version first
        forms.setdefault(form.code, []).append(form)
    return ConfigurationForms(configuration, name, forms)
