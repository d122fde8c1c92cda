"""Kit downloads (UPD-4): the entitlement is checked once, when a short-lived signed link is made (links.py);
the link is then served by any replica, nginx or a CDN without a database. Also what a subscriber's user is
entitled to, configuration by configuration (UPD-3)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from rules.refusal import Refusal, Refused
from services.updates import links, store
from services.updates.access import SubscriberAccess
from services.updates.api_models import ConfigurationEntitlement, DownloadStatus, Entitlements, HeldProduct, SignedLink
from services.updates.entitlement import Decision
from shared.db import Pool
from shared.settings import public_link

S = TypeVar("S", bound=DownloadStatus)


Sign = Callable[[uuid.UUID, str, str], str]  # a kit's signed link from its id, sha256 and name (LinkSigner.signing)
# Links expire on a multiple of this many seconds: the links of one window are the same links, signed once.
EXPIRY_STEP_SECONDS = 10
LINKS_KEPT = 100_000  # signed links of the current window kept; beyond it, the window starts again


class LinkSigner:
    """Signs download links valid `seconds` from the access's moment (less up to EXPIRY_STEP_SECONDS: the expiry
    is rounded down to a step), at the system's public address (ITS_PUBLIC_URL: `<public_url>/dl/…`, the
    gateway's download location). One per process: the links of the current expiry window are kept, by kit and
    subscriber (a link grants nothing but to its subscriber, until its expiry), so a plan asked again within
    the window, or by the subscriber's other programs, signs nothing again."""

    def __init__(self, secret: bytes, public_url: str, seconds: int) -> None:
        self.secret, self.public_url, self.seconds = secret, public_url, seconds
        self._base = public_link(public_url, "/").removesuffix("/")
        self._window = 0
        self._links: dict[tuple[uuid.UUID, str, str, uuid.UUID], str] = {}

    def expires(self, access: SubscriberAccess) -> int:
        expires = int(access.now.timestamp()) + self.seconds
        return expires - expires % EXPIRY_STEP_SECONDS

    def url(self, access: SubscriberAccess, kit_id: uuid.UUID, sha256: str, name: str, expires: int) -> str:
        return self.signing(access, expires)(kit_id, sha256, name)

    def signing(self, access: SubscriberAccess, expires: int) -> Sign:
        """Signs links to kits (id, sha256, name) for this access's subscriber until `expires`: what is the same
        for every link of an answer is worked out once."""
        subscriber = access.subscriber.id
        holder = links.LinkHolder.of(subscriber, expires)
        kept = self._kept(expires)

        def url(kit_id: uuid.UUID, sha256: str, name: str) -> str:
            key = (kit_id, sha256, name, subscriber)
            link = kept.get(key)
            if link is None:
                link = kept[key] = self._base + _kit_to_sign(kit_id, sha256, name).link(self.secret, holder)
            return link

        return url

    def _kept(self, expires: int) -> dict[tuple[uuid.UUID, str, str, uuid.UUID], str]:
        """The links kept for this expiry: another window's (or too many) are dropped."""
        if expires != self._window or len(self._links) >= LINKS_KEPT:
            if expires < self._window:  # an access from a moment before the window (a slow request): not kept
                return {}
            self._window, self._links = expires, {}
        return self._links


# A kit's checked, canonical part of its links (an update plan signs a link for each kit of each step). The key is
# everything the part is made of, so an entry is never stale.
_kit_to_sign = functools.lru_cache(maxsize=65_536)(links.KitToSign.of)


async def kit_link(pool: Pool, access: SubscriberAccess, signer: LinkSigner, kit_id: uuid.UUID) -> SignedLink:
    """A signed link to a published kit; refused (NotHeld, DownloadDenied) when the user may not have it."""
    async with pool.acquire() as conn:
        kit = await store.published_kit(conn, kit_id)
    if kit is None:
        raise Refused(Refusal("kit-not-found", "no published kit has this id", "not-found"))
    if kit.configuration is not None:
        await access.require_visible(kit.configuration)  # another subscriber's configuration: refused, not a link
    elif not access.any_visible:
        await access.require_download(None)
    await access.require_download(kit.configuration, kit.published_at)
    return signed_link(signer, access, kit.id, kit.sha256, kit.name, kit.size)


def signed_link(
    signer: LinkSigner, access: SubscriberAccess, file_id: uuid.UUID, sha256: str, name: str, size: int
) -> SignedLink:
    """The answer of a download once the entitlement allowed it: the file's signed link (a kit's, or a reporting
    form version's: the link handler finds either by its sha256) and until when it works."""
    expires = signer.expires(access)
    return SignedLink(
        url=signer.url(access, file_id, sha256, name, expires),
        expires_at=datetime.fromtimestamp(expires, UTC),
        name=name,
        size=size,
        sha256=sha256,
    )


async def download_status(access: SubscriberAccess, configuration: str | None, decision: Decision, model: type[S]) -> S:
    """The decision as clients see it, with the offer when refused."""
    offer = None if decision.allowed else await access.offer(configuration, decision)
    return model(allowed=decision.allowed, reason=decision.reason, detail=decision.detail, offer=offer)


async def entitlements(access: SubscriberAccess) -> Entitlements:
    """UPD-3, UPD-4: each configuration the subscriber holds, whether its pages are visible and its kits
    downloadable by this user, until when, and through which products."""
    items = []
    for configuration in sorted(access.holdings):
        items.append(
            ConfigurationEntitlement(
                configuration=configuration,
                visible=access.visible(configuration),
                download=await download_status(access, configuration, access.download(configuration), DownloadStatus),
                support_end=access.support_end(configuration),
                products=[
                    HeldProduct(
                        registration_number=h.registration_number,
                        product_name=h.product_name,
                        edition=h.edition,
                        active_from=h.active_from,
                    )
                    for h in access.holdings[configuration]
                ],
            )
        )
    return Entitlements(subscriber_code=access.subscriber.code, items=items)
