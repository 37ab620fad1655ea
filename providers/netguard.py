"""Where a user-supplied or provider-returned URL may lead: public hosts only.

A URL a user types (a SimpleFIN access URL, the claim URL inside a setup
token) or one a provider hands back (the access URL a claim returns) must not
make FinSync a proxy into its own network. `resolve_public` resolves the host
once and refuses it when ANY of its addresses is loopback, private, link-local,
carrier-grade NAT, multicast, unspecified, reserved or documentation space
(IPv4-mapped, 6to4, Teredo and NAT64 IPv6 unwrapped to their IPv4 address;
numeric spellings such as `0x7f000001`, `2130706433` or `0177.0.0.1` decoded
as the C resolver would). `PinnedAdapter` then connects to that checked
address while the Host header, TLS SNI and certificate check keep the name, so
a rebinding name cannot answer differently on a second lookup.

Operator-set base URLs (PLAID_BASE_URL) are configuration and never pass here.
settings.FINSYNC_ALLOW_PRIVATE_PROVIDER_HOSTS lifts the restriction (local
development, the test suite's loopback fakes). Refusals name the URL's role
only, never the URL, its host or the address: a refused host is never
contacted, so a closed and a silent private port get the same answer.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from requests.adapters import HTTPAdapter

from providers.errors import ProviderUnavailable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges that `ipaddress`'s properties do not all cover in Python 3.11: shared
# (carrier-grade NAT) space, IETF protocol assignments, benchmarking and the
# documentation ranges, and NAT64 (whose embedded IPv4 address is checked too).
EXTRA_REFUSED = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "100.64.0.0/10",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
        "255.255.255.255/32",
        "2001:db8::/32",
        "3fff::/20",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# What inet_aton (and so getaddrinfo) reads as an IPv4 address: 1 to 4 parts,
# each decimal, octal (leading 0) or hex (0x).
_NUMERIC_IPV4 = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]*|[0-9]+)){0,3}\.?")


class HostRefused(ProviderUnavailable):
    """A user-supplied or provider-returned URL leads to a non-public address (or to no address at all).

    At connect time the service reports it as a validation error on the
    field; during a sync it fails the run as `provider_unavailable` (the
    stored URL was accepted when connected; its host is unusable now).
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PublicTarget:
    """A URL's host name, port and the checked address to connect to."""

    hostname: str
    port: int
    address: str


def private_hosts_allowed() -> bool:
    """True when FINSYNC_ALLOW_PRIVATE_PROVIDER_HOSTS lifts the restriction (read at call time)."""
    return bool(getattr(settings, "FINSYNC_ALLOW_PRIVATE_PROVIDER_HOSTS", False))


def is_refused_address(address: IPAddress) -> bool:
    """True when `address` is anything but a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(address.compressed.split("%", 1)[0])  # drop a zone id
        for embedded in (address.ipv4_mapped, address.sixtofour, address.teredo and address.teredo[1]):
            if embedded is not None and is_refused_address(embedded):
                return True
        if address in NAT64 and is_refused_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)):
            return True
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
        or any(address in network for network in EXTRA_REFUSED if network.version == address.version)
    )


def _literal(host: str) -> IPAddress | None:
    """The address a numeric host spells (any spelling inet_aton accepts), else None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_IPV4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            # Numeric-looking but not an address (e.g. a part too large): no name looks like this.
            raise HostRefused("is not a valid address", reason="invalid") from None
    return None


def resolve_public(url: str, what: str) -> PublicTarget:
    """Resolve `url`'s host once; its address when every address it has is public, else HostRefused.

    `what` names the URL's role in messages ("the SimpleFIN access URL").
    The URL must already be parsed and checked (scheme, host, port).
    """
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        literal = _literal(hostname)
    except HostRefused:
        raise HostRefused(f"{what} has a host that is not a valid address", reason="invalid") from None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            raise HostRefused(f"{what}: its host name could not be resolved", reason="unresolved") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise HostRefused(f"{what}: its host name could not be resolved", reason="unresolved")
    if any(is_refused_address(address) for address in addresses):
        raise HostRefused(
            f"{what} resolves to a private address (loopback, private, link-local, reserved or similar); "
            "only public hosts are allowed",
            reason="private",
        )
    return PublicTarget(hostname=hostname, port=port, address=str(addresses[0]).split("%", 1)[0])


class PinnedAdapter(HTTPAdapter):
    """A requests adapter that connects to one checked address, whatever the URL's host resolves to now.

    The request still names the host: the Host header, TLS SNI and the
    certificate's host name check use `hostname`. Proxies are never used (a
    proxy would resolve the name itself).
    """

    def __init__(self, target: PublicTarget) -> None:
        super().__init__()
        self.target = target

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        if host_params["scheme"] == "https":
            pool_kwargs = {
                **pool_kwargs,
                "server_hostname": self.target.hostname,
                "assert_hostname": self.target.hostname,
            }
        return self.poolmanager.connection_from_host(
            host=self.target.address, port=host_params["port"], scheme=host_params["scheme"], pool_kwargs=pool_kwargs
        )

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        request.headers["Host"] = parts.netloc.rsplit("@", 1)[-1]
        kwargs["proxies"] = {}
        return super().send(request, **kwargs)
