"""providers.netguard: which addresses are refused, and that a pinned request goes to the checked address."""

from __future__ import annotations

import ipaddress

import pytest
import requests

from providers import netguard
from tests.fakes.server import LiveServer

REFUSED = [
    "127.0.0.1",
    "127.255.0.9",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.0.1",
    "169.254.169.254",
    "100.64.0.1",
    "100.127.255.254",
    "0.0.0.0",  # noqa: S104 - an address under test, nothing binds to it
    "224.0.0.251",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.1",
    "203.0.113.1",
    "::1",
    "::",
    "fc00::1",
    "fd00::1",
    "fe80::1",
    "fe80::1%1",
    "ff02::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",
    "::ffff:10.1.1.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",
    "2002:7f00:1::",
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address):
    assert netguard.is_refused_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address):
    assert not netguard.is_refused_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "0x7f000001", "2130706433", "0177.0.0.1", "127.1", "0x7f.1", "localhost", "[::ffff:7f00:1]"]
)
def test_spellings_of_loopback_are_refused(host):
    with pytest.raises(netguard.HostRefused) as caught:
        netguard.resolve_public(f"https://{host}/x", "the URL")
    assert caught.value.reason == "private"
    assert caught.value.code == "provider_unavailable"
    assert host not in caught.value.message


def test_a_numeric_host_that_is_no_address_is_refused():
    with pytest.raises(netguard.HostRefused) as caught:
        netguard.resolve_public("https://0x1ffffffff/x", "the URL")
    assert caught.value.reason == "invalid"


def test_a_public_literal_resolves_to_itself_without_dns():
    target = netguard.resolve_public("https://8.8.8.8:8443/x", "the URL")
    assert target == netguard.PublicTarget(hostname="8.8.8.8", port=8443, address="8.8.8.8")


def test_an_unresolvable_name_is_refused():
    with pytest.raises(netguard.HostRefused) as caught:
        netguard.resolve_public("https://no-such-host.invalid/x", "the URL")
    assert caught.value.reason == "unresolved"


def test_a_pinned_request_goes_to_the_checked_address_and_keeps_the_host_name():
    """The URL names a host that does not resolve; the adapter still reaches the checked address, Host intact."""
    seen = []

    def app(environ, start_response):
        seen.append((environ["HTTP_HOST"], environ["PATH_INFO"]))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"pinned"]

    with LiveServer(app) as server:
        port = int(server.url.rsplit(":", 1)[1])
        target = netguard.PublicTarget(hostname="bank.invalid", port=port, address="127.0.0.1")
        session = requests.Session()
        session.trust_env = False
        session.mount("http://", netguard.PinnedAdapter(target))
        response = session.get(f"http://bank.invalid:{port}/accounts", timeout=5)
        session.close()
    assert response.text == "pinned"
    assert seen == [(f"bank.invalid:{port}", "/accounts")]
