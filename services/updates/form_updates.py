"""What client programs and subscribers are given of the regulated reporting forms (DAT-2): the forms a program
should receive, with short-lived signed links under the same entitlement as kits (UPD-4), and the forms of a
configuration with their history for subscribers that hold it (UPD-3). Read-only."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from rules.refusal import Refusal, Refused
from services.updates import form_rules, forms_store
from services.updates.access import SubscriberAccess
from services.updates.api_models import SignedLink
from services.updates.downloads import LinkSigner, signed_link
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


async def form_link(pool: Pool, access: SubscriberAccess, signer: LinkSigner, form_id: uuid.UUID) -> SignedLink:
    """DAT-2: a signed link to one published version's file (the history's, for a person or a program that wants an
    older one). Allowed through any of the form's configurations this user may download (UPD-4); refused (NotHeld)
    when the subscriber holds none of them (UPD-3), (DownloadDenied) when none may be downloaded now."""
    async with pool.acquire() as conn:
        form = await forms_store.published_form(conn, form_id)
    if form is None:
        raise Refused(Refusal("form-not-found", "no published reporting form version has this id", "not-found"))
    held = [c for c in form.configurations if access.visible(c)]
    if not held:
        await access.require_visible(form.configurations[0])  # raises, with the offer of the products that include it
    if not any(access.download(c, form.published_at).allowed for c in held):
        await access.require_download(held[0], form.published_at)  # raises, with the offer
    return signed_link(signer, access, form.id, form.file_sha256, form.file_name, form.file_size)
