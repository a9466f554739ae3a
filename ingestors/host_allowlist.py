"""Which hosts a fetch or a clone may reach: the host entries of the reading policy, and address classes.

An entry is `host`, `host:port`, `[v6 address]:port`, `*.example.com` (any subdomain of example.com) or `*`
(any host). A wildcard never covers a host that is not on the public internet: a loopback, link-local (the
cloud metadata service at 169.254.169.254), private (RFC 1918, fc00::/7), shared (100.64.0.0/10, carrier
NAT), unspecified, multicast or reserved address, or a `localhost` name. Such a host is reached only when an
entry names it, by name or by address (and, if the entry has a port, at that port): otherwise one `*` would
let any catalog file read the service's internal network.

Matching happens twice for a fetch: on the name in the URL before anything is sent, and on each address
the name resolves to when the connection is made (see `ingestors.fetch`).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_IPV4_SHORTHAND = re.compile(r"[0-9a-fx.]+")
"""What `inet_aton` reads as an IPv4 address besides dotted quads: `127.1`, `2130706433`, `0x7f.1`."""
_ADDRESS_CLASSES = (
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_unspecified", "the unspecified address"),
    ("is_multicast", "a multicast address"),
    ("is_reserved", "a reserved address"),
    ("is_private", "a private address"),
)


def address_class(address: IPAddress) -> str | None:
    """What kind of non-public address `address` is ("a loopback address", ...), or None for a public one.
    An IPv6 address that carries an IPv4 one (`::ffff:127.0.0.1`, NAT64) is judged by the IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in _NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    for test, phrase in _ADDRESS_CLASSES:
        if getattr(address, test):
            return phrase
    if address in _SHARED:
        return "a shared (carrier NAT) address"
    return None if address.is_global else "not a public address"


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as one stands for (`10.0.0.1`, `::1`, and IPv4 shorthands such as `127.1`,
    which resolvers accept too), else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _IPV4_SHORTHAND.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def normalized_host(host: str) -> str:
    """Lower case, without brackets around an IPv6 address and without the root's trailing dot."""
    return host.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")


def host_class(host: str) -> str | None:
    """What kind of non-public host `host` is by its name alone, or None when only DNS can tell."""
    host = normalized_host(host)
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return "a loopback name"
    address = literal_address(host)
    return address_class(address) if address is not None else None


def host_and_port(host: str, port: int) -> str:
    """`host:port`, with brackets around an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class HostEntry:
    """One entry of an allowlist: a host (or a wildcard pattern) and, optionally, the one port allowed."""

    host: str
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> HostEntry:
        """`host`, `host:port`, `[v6]:port`, a bare IPv6 address, `*.domain` or `*`; ValueError otherwise."""
        host, port = _split_entry(text.strip().lower())
        if not host or (port is not None and not port.isdigit()) or ("*" in host and not _is_pattern(host)):
            raise ValueError(f"{text!r} is not a host, host:port, *.domain or *")
        return cls(normalized_host(host), int(port) if port is not None else None)

    @property
    def is_wildcard(self) -> bool:
        return self.host.startswith("*")

    def matches(self, host: str, port: int) -> bool:
        """Whether the entry covers `host` (normalized) at `port`, whatever the host's address class."""
        if self.port is not None and self.port != port:
            return False
        if self.host == "*":
            return True
        if self.is_wildcard:
            return host.endswith(self.host[1:])
        if self.host == host:
            return True
        mine, theirs = literal_address(self.host), literal_address(host)
        return mine is not None and mine == theirs


def _split_entry(entry: str) -> tuple[str, str | None]:
    """(host, port or None); a bare IPv6 address has colons but no port."""
    if entry.startswith("["):
        host, closing, rest = entry[1:].partition("]")
        if not closing or (rest and not rest.startswith(":")):
            return "", None
        return host, rest[1:] if rest else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, port
    return entry, None


def _is_pattern(host: str) -> bool:
    return host == "*" or (host.startswith("*.") and "*" not in host[1:] and len(host) > 2)


@dataclass(frozen=True)
class HostAllowlist:
    """The entries of one setting (`reading.url_hosts`, `reading.git_hosts`), named in every refusal."""

    entries: tuple[HostEntry, ...]
    setting: str

    @classmethod
    def parse(cls, entries: Iterable[str], setting: str) -> HostAllowlist:
        try:
            return cls(tuple(HostEntry.parse(entry) for entry in entries), setting)
        except ValueError as error:
            raise ValueError(f"{setting}: {error}") from None

    def refusal(self, host: str, port: int, address: IPAddress | None = None) -> str | None:
        """Why `host` at `port` may not be reached (reached at `address`, when the connection is being made),
        as the end of a sentence whose subject is the host; None when it may."""
        host = normalized_host(host)
        covering = [entry for entry in self.entries if entry.matches(host, port)]
        naming = [entry for entry in covering if not entry.is_wildcard]
        if address is not None:
            naming += [entry for entry in self.entries if not entry.is_wildcard and entry.matches(str(address), port)]
        kind = host_class(host)
        if kind is None and address is not None and address_class(address) is not None:
            kind = f"resolves to {address}, {address_class(address)}"
        elif kind is not None:
            kind = f"is {kind}"
        if kind is not None:
            return None if naming else f"{kind}, read only when {self.setting} names it (a wildcard never covers it)"
        return None if covering else f"is not an allowed host ({self.setting})"
