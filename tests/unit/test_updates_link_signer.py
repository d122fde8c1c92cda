"""updates' link signer: links expire on a step of EXPIRY_STEP_SECONDS no later than asked, the links of one window
are signed once and kept per kit and subscriber, and every kept link is the link `sign_link` makes."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast
from urllib.parse import parse_qsl, urlsplit

from services.updates.access import SubscriberAccess
from services.updates.downloads import EXPIRY_STEP_SECONDS, LinkSigner
from services.updates.links import sign_link, verify_link

SECRET = b"test-secret-for-links-0123456789"
SHA = hashlib.sha256(b"kit").hexdigest()
KIT = uuid.UUID("11111111-2222-4333-8444-5555555555ab")


@dataclass
class Subscriber:
    id: uuid.UUID


@dataclass
class Access:
    """The two facts of an access the signer reads: the moment and the subscriber."""

    now: datetime
    subscriber: Subscriber


def access(at: float, subscriber: uuid.UUID) -> SubscriberAccess:
    return cast(SubscriberAccess, Access(datetime.fromtimestamp(at, UTC), Subscriber(subscriber)))


def test_links_expire_on_a_step_no_later_than_asked_and_are_kept_within_their_window() -> None:
    signer = LinkSigner(SECRET, "https://its.example/", 600)
    one, other = uuid.uuid4(), uuid.uuid4()
    for at in (1_800_000_000, 1_800_000_003.7, 1_800_000_009.99):
        expires = signer.expires(access(at, one))
        assert expires % EXPIRY_STEP_SECONDS == 0 and at + 600 - EXPIRY_STEP_SECONDS < expires <= at + 600

    expires = signer.expires(access(1_800_000_001, one))
    first = signer.url(access(1_800_000_001, one), KIT, SHA, "1Cv8.cfu", expires)
    assert first == "https://its.example" + sign_link(
        SECRET, kit_id=KIT, sha256=SHA, name="1Cv8.cfu", subscriber_id=one, expires=expires
    )
    # The same window and subscriber: the very link kept, not signed again.
    again = signer.url(access(1_800_000_008, one), KIT, SHA, "1Cv8.cfu", signer.expires(access(1_800_000_008, one)))
    assert again is first
    # Another subscriber's link is its own.
    theirs = signer.url(access(1_800_000_002, other), KIT, SHA, "1Cv8.cfu", expires)
    assert theirs != first and dict(parse_qsl(urlsplit(theirs).query))["sub"] == str(other)
    # The next window: a new link, which verifies, until its own expiry.
    later = signer.expires(access(1_800_000_011, one))
    assert later == expires + EXPIRY_STEP_SECONDS
    fresh = signer.url(access(1_800_000_011, one), KIT, SHA, "1Cv8.cfu", later)
    assert fresh != first
    claims = verify_link(SECRET, SHA, "1Cv8.cfu", dict(parse_qsl(urlsplit(fresh).query)), now=1_800_000_011)
    assert claims.subscriber_id == one and claims.expires == later
