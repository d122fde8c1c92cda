"""What may go into an e-mail's envelope and links; anything else makes the e-mail unsendable."""

from __future__ import annotations

from email.headerregistry import Address


class Unsendable(ValueError):
    """The event asks for an e-mail that can never be sent (bad address, bad link): no retry helps."""


def partner_recipient(email: str) -> str:
    """The partner's address from a contracts event: empty when contracts had not learnt the partner yet."""
    if not email:
        raise Unsendable("the partner has no e-mail address: contracts had not learnt the partner")
    return check_recipient(email)


def check_recipient(value: str) -> str:
    """A bare address that can go into an SMTP envelope and a `To` header, or Unsendable."""
    if not value or value != value.strip():
        raise Unsendable(f"not an e-mail address: {value!r}")
    try:
        address = Address(addr_spec=value)
    except (ValueError, IndexError) as exc:  # header defects are ValueErrors
        raise Unsendable(f"not an e-mail address: {value!r} ({exc})") from None
    if not address.username or not address.domain:
        raise Unsendable(f"not an e-mail address: {value!r}")
    return value


def check_link(url: str) -> str:
    """Only web links go into an e-mail: never `javascript:` or the like in an `href`."""
    if not url.lower().startswith(("https://", "http://")) or any(c.isspace() for c in url):
        raise Unsendable(f"not a web link: {url!r}")
    return url
