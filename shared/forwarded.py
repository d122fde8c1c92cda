"""The client's address behind trusted proxies (X-Forwarded-For), for throttling by address.

A proxy appends the address it received a request from, so the header reads `client, proxy1, proxy2` and the
peer is the last proxy. Only a proxy we trust tells the truth about the hop before it: the header is walked
from the right, past the trusted proxies (`ITS_TRUSTED_PROXIES`: addresses or CIDRs), and the first address
that is not one of them is the client. An untrusted peer's header is ignored: the peer is the client. Anything
that does not parse as an address stops the walk at the last trusted hop.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from aiohttp import web
from pydantic import BeforeValidator
from pydantic_settings import NoDecode

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _networks(value: Any) -> Any:
    """`ITS_TRUSTED_PROXIES=127.0.0.1,10.0.0.0/8` (comma-separated), or a list; a plain address is a /32 (/128)."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    return [ipaddress.ip_network(item, strict=True) if isinstance(item, str) else item for item in value]


# A settings field: the proxies whose X-Forwarded-For is believed (none by default).
TrustedProxies = Annotated[tuple[Network, ...], NoDecode, BeforeValidator(_networks)]


def client_address(request: web.Request, trusted: tuple[Network, ...]) -> str:
    """The address of the client that made this request, as far as trusted proxies vouch for it."""
    peer = _address(request.remote or "")
    if peer is None:
        return request.remote or "unknown"
    hops = [hop.strip() for header in request.headers.getall("X-Forwarded-For", []) for hop in header.split(",")]
    return str(forwarded_client(peer, hops, trusted))


def forwarded_client(peer: Address, hops: list[str], trusted: tuple[Network, ...]) -> Address:
    """The rightmost address of `hops` + [peer] that is not a trusted proxy (the leftmost if all are)."""
    address = peer
    for hop in reversed(hops):
        if not _trusted(address, trusted):
            break
        parsed = _address(hop)
        if parsed is None:
            break
        address = parsed
    return address


def _trusted(address: Address, trusted: tuple[Network, ...]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket is the same client.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
