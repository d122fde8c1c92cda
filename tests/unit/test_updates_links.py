"""Signed download links (UPD-4): only the link that was signed, for the subscriber it was signed for, until
it expires. Each field of the link is tampered with in turn."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from urllib.parse import parse_qsl, urlsplit

import pytest

from services.updates.links import EXPIRED, MALFORMED, TAMPERED, LinkClaims, LinkRejected, sign_link, verify_link

SECRET = b"test-secret-for-links-0123456789"
SHA = hashlib.sha256(b"kit 3.0.41.60").hexdigest()
OTHER_SHA = hashlib.sha256(b"another kit").hexdigest()
KIT = uuid.UUID("11111111-2222-4333-8444-5555555555ab")
SUBSCRIBER = uuid.UUID("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")
NOW = 1_800_000_000
EXPIRES = NOW + 600


def signed(**overrides: object) -> tuple[str, str, dict[str, str]]:
    """(sha256, name, query) of a freshly signed link, as the handler receives them."""
    fields: dict[str, object] = {
        "kit_id": KIT,
        "sha256": SHA,
        "name": "1Cv8.cfu",
        "subscriber_id": SUBSCRIBER,
        "expires": EXPIRES,
    }
    fields.update(overrides)
    link = sign_link(SECRET, **fields)  # type: ignore[arg-type]
    parts = urlsplit(link)
    _, dl, sha, name = parts.path.split("/")
    assert dl == "dl"
    return sha, name, dict(parse_qsl(parts.query, keep_blank_values=True))


def rejected(sha: str, name: str, query: dict[str, str], now: float = NOW, secret: bytes = SECRET) -> str:
    with pytest.raises(LinkRejected) as caught:
        verify_link(secret, sha, name, query, now)
    assert caught.value.status == 403
    assert caught.value.slug == "link-rejected"
    return str(caught.value.detail)


def test_a_signed_link_has_the_documented_format_and_verifies() -> None:
    link = sign_link(SECRET, kit_id=KIT, sha256=SHA, name="1Cv8.cfu", subscriber_id=SUBSCRIBER, expires=EXPIRES)
    parts = urlsplit(link)
    assert parts.path == f"/dl/{SHA}/1Cv8.cfu"
    query = dict(parse_qsl(parts.query))
    assert list(query) == ["kit", "sub", "exp", "sig"]
    message = f"{KIT}\n{SHA}\n1Cv8.cfu\n{SUBSCRIBER}\n{EXPIRES}".encode()
    expected = base64.urlsafe_b64encode(hmac.new(SECRET, message, hashlib.sha256).digest()).rstrip(b"=").decode()
    assert query == {"kit": str(KIT), "sub": str(SUBSCRIBER), "exp": str(EXPIRES), "sig": expected}

    claims = verify_link(SECRET, SHA, "1Cv8.cfu", query, NOW)
    assert claims == LinkClaims(kit_id=KIT, sha256=SHA, name="1Cv8.cfu", subscriber_id=SUBSCRIBER, expires=EXPIRES)
    assert claims.remaining_seconds(NOW) == 600
    assert claims.remaining_seconds(EXPIRES + 5) == 0


def test_string_ids_sign_the_same_link_as_uuids() -> None:
    assert signed(kit_id=str(KIT), subscriber_id=str(SUBSCRIBER).upper()) == signed()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kit", "11111111-2222-4333-8444-555555555556"),
        ("sub", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeef"),  # another subscriber's id
        ("exp", str(EXPIRES + 3600)),  # a longer life
        ("exp", str(EXPIRES - 1)),
    ],
)
def test_changing_a_query_field_breaks_the_signature(field: str, value: str) -> None:
    sha, name, query = signed()
    assert rejected(sha, name, {**query, field: value}) == TAMPERED


def test_changing_the_path_breaks_the_signature() -> None:
    sha, name, query = signed()
    assert rejected(OTHER_SHA, name, query) == TAMPERED  # another kit's content
    assert rejected(sha, "1Cv8.cf", query) == TAMPERED  # another name
    assert rejected(sha, "1cv8.cfu", query) == TAMPERED  # names are case-sensitive


def test_each_character_of_the_signature_matters() -> None:
    sha, name, query = signed()
    sig = query["sig"]
    for position in range(len(sig)):
        replacement = "A" if sig[position] != "A" else "B"
        tampered = sig[:position] + replacement + sig[position + 1 :]
        assert rejected(sha, name, {**query, "sig": tampered}) == TAMPERED, position


def test_another_subscribers_link_does_not_work_for_this_one() -> None:
    """A link signed for subscriber B, presented with A's id (or the other way round), is refused."""
    other = uuid.UUID("99999999-bbbb-4ccc-8ddd-eeeeeeeeeeee")
    sha, name, theirs = signed(subscriber_id=other)
    _, _, ours = signed()
    assert rejected(sha, name, {**theirs, "sub": ours["sub"]}) == TAMPERED
    assert rejected(sha, name, {**ours, "sig": theirs["sig"]}) == TAMPERED
    assert verify_link(SECRET, sha, name, theirs, NOW).subscriber_id == other


def test_another_secret_does_not_verify() -> None:
    sha, name, query = signed()
    assert rejected(sha, name, query, secret=b"another-secret-0123456789abcdef") == TAMPERED


def test_an_expired_link_is_refused_from_its_expiry_on() -> None:
    sha, name, query = signed()
    assert verify_link(SECRET, sha, name, query, EXPIRES - 0.001).expires == EXPIRES
    assert rejected(sha, name, query, now=EXPIRES) == EXPIRED
    assert rejected(sha, name, query, now=EXPIRES + 86_400) == EXPIRED


def test_an_expired_and_tampered_link_is_told_tampered_not_expired() -> None:
    sha, name, query = signed()
    assert rejected(sha, name, {**query, "kit": str(uuid.uuid4())}, now=EXPIRES + 1) == TAMPERED


@pytest.mark.parametrize(
    "change",
    [
        {"sig": None},
        {"kit": None},
        {"sub": None},
        {"exp": None},
        {"sig": ""},
        {"sig": "not base64!*"},
        {"sig": "A" * 42},  # too short for a SHA-256 HMAC
        {"sig": "A" * 44},
        {"sig": "AAAA+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/"},  # base64, not base64url
        {"sig": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},  # padded
        {"exp": "-1"},
        {"exp": "1e10"},
        {"exp": " 1800000600"},
        {"exp": "9" * 13},
        {"kit": "not-a-uuid"},
        {"kit": str(KIT).upper()},  # not the canonical text that was signed
        {"kit": f"{KIT}\n{SHA}"},  # a newline would shift the signed fields
        {"sub": str(SUBSCRIBER).replace("-", "")},
    ],
)
def test_a_malformed_link_is_refused_as_malformed(change: dict[str, str | None]) -> None:
    sha, name, query = signed()
    for key, value in change.items():
        if value is None:
            del query[key]
        else:
            query[key] = value
    assert rejected(sha, name, query) == MALFORMED


@pytest.mark.parametrize(
    ("sha", "name"),
    [
        (SHA.upper(), "1Cv8.cfu"),
        (SHA[:63], "1Cv8.cfu"),
        (SHA[:-1] + "g", "1Cv8.cfu"),
        ("../../etc/passwd", "1Cv8.cfu"),
        (SHA, "../1Cv8.cfu"),
        (SHA, ".hidden"),
        (SHA, "a/b"),
        (SHA, 'a"b'),
        (SHA, "a\r\nSet-Cookie: x=1"),
        (SHA, ""),
        (SHA, "a" * 201),
    ],
)
def test_a_bad_sha256_or_name_in_the_path_is_malformed(sha: str, name: str) -> None:
    _, _, query = signed()
    assert rejected(sha, name, query) == MALFORMED


@pytest.mark.parametrize(
    "overrides",
    [
        {"sha256": SHA.upper()},
        {"name": "../x"},
        {"kit_id": "not-a-uuid"},
        {"expires": -1},
    ],
)
def test_signing_refuses_fields_that_could_not_verify(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r".+"):
        signed(**overrides)
