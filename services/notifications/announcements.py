"""Announcing a published release to the owners it concerns (UPD-1, UPD-2, UPD-3), once per release; and a published
reporting form (DAT-2) to the owners of subscribers holding its configurations."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.notifications import store
from services.notifications.addresses import Unsendable
from services.notifications.deliveries import queue_emails
from services.notifications.form_news import form_email, forms_page, merged_owners
from services.notifications.letters import EmailRequest
from services.notifications.releases import ReleaseLinks, announces, release_audience, release_email
from services.notifications.rendering import Renderer
from shared.db import Connection
from shared.events.updates import ReleasePublished, ReportingFormPublished
from shared.logging import get_logger

log = get_logger(__name__)


async def announce_release(
    conn: Connection,
    renderer: Renderer,
    links: ReleaseLinks,
    event: ReleasePublished,
    *,
    event_id: uuid.UUID,
    event_type: str,
    published_at: datetime,
    correlation_id: str,
    now: datetime,
) -> None:
    """UPD-3: one e-mail per owner of a subscriber registered for the released configuration (a platform
    release: with any active product) at `published_at`, unless the owner turned release news off.

    Each release is announced once (store.claim_release), whatever event brings it again; within the event,
    once per account (the deliveries' unique (event, account)). Unsendable: the release itself cannot be
    announced (no configuration, a bad link); one owner's bad address only leaves that owner out.
    """
    if not announces(event):
        log.info("release.not_announced", release_id=str(event.release_id), prerelease=event.prerelease)
        return
    configuration = release_audience(event)
    page_url, settings_url = links.page(event), links.settings()
    first = await store.claim_release(
        conn,
        event.release_id,
        event_id=event_id,
        kind=event.kind,
        configuration=configuration,
        version=event.version,
        at=now,
    )
    if not first:
        log.info("release.already_announced", release_id=str(event.release_id))
        return
    owners = await store.owners_to_tell(conn, configuration=configuration, at=published_at)
    requests: list[EmailRequest] = []
    for owner in owners:
        try:
            unsubscribe_url = links.unsubscribe(owner.account_id)
            requests.append(
                release_email(
                    event, owner, page_url=page_url, unsubscribe_url=unsubscribe_url, settings_url=settings_url
                )
            )
        except Unsendable as exc:  # one owner's bad address must not keep the others' e-mails back
            log.warning("mail.owner_unsendable", account_id=str(owner.account_id), error=str(exc))
    created = await queue_emails(
        conn, renderer, requests, event_id=event_id, event_type=event_type, correlation_id=correlation_id, now=now
    )
    await store.count_announced(conn, event.release_id, created)
    log.info("release.announced", release_id=str(event.release_id), owners=len(owners), deliveries=created)


async def announce_form(
    conn: Connection,
    renderer: Renderer,
    links: ReleaseLinks,
    event: ReportingFormPublished,
    *,
    event_id: uuid.UUID,
    event_type: str,
    published_at: datetime,
    correlation_id: str,
    now: datetime,
) -> None:
    """DAT-2: one e-mail per owner of a subscriber holding one of the form's configurations at `published_at`,
    unless the owner turned release news off (or muted every one of those configurations). Once per account within
    the event (the deliveries' unique (event, account)); the inbox keeps the event from being handled twice."""
    by_configuration = {
        configuration: await store.owners_to_tell(conn, configuration=configuration, at=published_at)
        for configuration in event.configurations
    }
    requests: list[EmailRequest] = []
    settings_url = links.settings()
    for owner in merged_owners(by_configuration):
        try:
            requests.append(
                form_email(
                    event,
                    owner,
                    page_url=forms_page(links, owner.configurations[0]),
                    unsubscribe_url=links.unsubscribe(owner.owner.account_id),
                    settings_url=settings_url,
                )
            )
        except Unsendable as exc:  # one owner's bad address must not keep the others' e-mails back
            log.warning("mail.owner_unsendable", account_id=str(owner.owner.account_id), error=str(exc))
    created = await queue_emails(
        conn, renderer, requests, event_id=event_id, event_type=event_type, correlation_id=correlation_id, now=now
    )
    log.info("form.announced", form_id=str(event.form_id), owners=len(requests), deliveries=created)
