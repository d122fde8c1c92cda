"""The client's address behind trusted proxies only (shared.forwarded): logins are throttled by it."""

from __future__ import annotations

import ipaddress

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from services.identity.settings import IdentitySettings
from shared.forwarded import client_address, forwarded_client

GATEWAY = ipaddress.ip_network("10.0.0.5/32")
PORTAL = ipaddress.ip_network("10.1.0.0/16")
TRUSTED = (GATEWAY, PORTAL)


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        # An untrusted peer's header is ignored: the peer is the client.
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),
        # The gateway says who its client was.
        ("10.0.0.5", "198.51.100.1", "198.51.100.1"),
        # Behind the portal behind the gateway: walked from the right past both.
        ("10.1.2.3", "198.51.100.1, 10.0.0.5", "198.51.100.1"),
        # What the client wrote itself, left of what the gateway appended, is not believed.
        ("10.0.0.5", "192.0.2.99, 198.51.100.1", "198.51.100.1"),
        # A trusted proxy's garbage stops the walk at that proxy.
        ("10.0.0.5", "not-an-address", "10.0.0.5"),
        # Every hop trusted: the leftmost.
        ("10.1.2.3", "10.0.0.5", "10.0.0.5"),
        # No header: the peer.
        ("10.0.0.5", None, "10.0.0.5"),
        # IPv6, and an IPv4 client seen through an IPv6 socket.
        ("10.0.0.5", "2001:db8::1", "2001:db8::1"),
        ("::ffff:203.0.113.7", "198.51.100.1", "203.0.113.7"),
    ],
)
def test_the_client_is_the_first_address_from_the_right_that_no_trusted_proxy_holds(
    peer: str, header: str | None, client: str
) -> None:
    headers = CIMultiDict({"X-Forwarded-For": header} if header is not None else {})
    request = make_mocked_request("POST", "/oauth/token", headers=headers, transport=_Transport(peer))
    assert client_address(request, TRUSTED) == client


def test_several_headers_are_one_list_and_nothing_is_trusted_by_default() -> None:
    peer = ipaddress.ip_address("10.0.0.5")
    assert str(forwarded_client(peer, ["192.0.2.1", "198.51.100.1"], TRUSTED)) == "198.51.100.1"
    assert str(forwarded_client(peer, ["198.51.100.1"], ())) == "10.0.0.5"
    headers = CIMultiDict([("X-Forwarded-For", "192.0.2.1"), ("X-Forwarded-For", "198.51.100.1")])
    request = make_mocked_request("GET", "/", headers=headers, transport=_Transport("10.0.0.5"))
    assert client_address(request, TRUSTED) == "198.51.100.1"


def test_trusted_proxies_are_read_from_a_comma_separated_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITS_TRUSTED_PROXIES", "127.0.0.1, ::1,10.0.0.0/8")
    assert [str(n) for n in IdentitySettings().trusted_proxies] == ["127.0.0.1/32", "::1/128", "10.0.0.0/8"]
    monkeypatch.setenv("ITS_TRUSTED_PROXIES", "")
    assert IdentitySettings().trusted_proxies == ()
    monkeypatch.setenv("ITS_TRUSTED_PROXIES", "10.0.0.1/8")  # host bits set: a typo, refused at start
    with pytest.raises(ValueError, match="host bits"):
        IdentitySettings()


class _Transport:
    """What make_mocked_request reads the peer's address from."""

    def __init__(self, peer: str) -> None:
        self.peer = peer

    def get_extra_info(self, name: str, default: object = None) -> object:
        return (self.peer, 40000) if name == "peername" else default
