"""Which URLs the fetcher may request: URL parsing and the address policy (no Beam).

A URL is fetched only when it is ``http`` or ``https`` with a host, and every address its host
resolves to is a public unicast address. Loopback, private (RFC 1918, ``fc00::/7``), link-local,
multicast, reserved, unspecified and shared (``100.64.0.0/10``) addresses are refused, also when
they hide inside IPv6 (IPv4-mapped ``::ffff:a.b.c.d``, 6to4, Teredo), unless ``allow_private``.
A host with one refused address among several is refused as a whole: such a name is either
misconfigured or a trap, and refusing it is simpler to reason about than picking addresses.

The fetcher connects to the very addresses checked here (see ``fetcher``), so a DNS answer that
changes between the check and the connection (DNS rebinding) cannot redirect a request to a
private address.
"""

import ipaddress
import socket
import urllib.parse
from collections.abc import Callable, Iterable
from typing import NamedTuple

SCHEMES = {"http": 80, "https": 443}
# Characters kept as they are when a path or query is percent-encoded for the request line.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class InvalidUrlError(ValueError):
    """A URL the fetcher cannot request (scheme, host, port or characters)."""


class BlockedAddressError(Exception):
    """A host that resolves to an address the policy refuses."""


class ResolveError(OSError):
    """A host name that could not be resolved.

    Attributes:
        permanent: True when the name does not exist (retrying will not help).
    """

    def __init__(self, message: str, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


class Target(NamedTuple):
    """A parsed, normalized request target."""

    url: str  # normalized: lower-case scheme and host, no default port, no fragment
    scheme: str
    host: str  # lower-case; IDNA (punycode) for names, without brackets for IPv6
    port: int
    request_target: str  # path and query as sent on the request line

    @property
    def origin(self) -> tuple[str, str, int]:
        """(scheme, host, port): the scope of a robots.txt (RFC 9309)."""
        return self.scheme, self.host, self.port

    @property
    def host_header(self) -> str:
        """The ``Host`` header value (the port only when it is not the scheme's default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == SCHEMES[self.scheme] else f"{host}:{self.port}"

    @property
    def robots_url(self) -> str:
        """The URL of the robots.txt that governs this target."""
        return f"{self.scheme}://{self.host_header}/robots.txt"


def parse_url(url: str) -> Target:
    """Parses and normalizes a URL for fetching.

    Raises:
        InvalidUrlError: for a non-string, a scheme other than http/https, a missing or malformed
            host, a bad port, credentials in the URL, or whitespace and control characters.
    """
    if not isinstance(url, str):
        raise InvalidUrlError(f"not a string: {url!r}")
    if not url or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise InvalidUrlError(f"empty or contains whitespace or control characters: {url!r}")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidUrlError(f"{url!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise InvalidUrlError(f"{url!r}: scheme must be http or https, got {parts.scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise InvalidUrlError(f"{url!r}: credentials in URLs are not sent")
    host = _normalize_host(parts.hostname or "", url)
    port = SCHEMES[scheme] if port is None else port
    if not 0 < port < 65536:
        raise InvalidUrlError(f"{url!r}: port {port} out of range")
    path = urllib.parse.quote(parts.path or "/", safe=_PATH_SAFE)
    query = urllib.parse.quote(parts.query, safe=_QUERY_SAFE)
    request_target = f"{path}?{query}" if query else path
    target = Target("", scheme, host, port, request_target)
    return target._replace(url=f"{scheme}://{target.host_header}{request_target}")


def _normalize_host(host: str, url: str) -> str:
    if not host:
        raise InvalidUrlError(f"{url!r}: no host")
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        pass
    try:
        ascii_host = host.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise InvalidUrlError(f"{url!r}: host {host!r} is not a valid name ({exc})") from exc
    labels = ascii_host.split(".")
    if not ascii_host or any(
        not label or len(label) > 63 or not all(c.isalnum() or c in "-_" for c in label)
        for label in labels
    ):
        raise InvalidUrlError(f"{url!r}: host {host!r} is not a valid name")
    return ascii_host


def host_key(url: str) -> str:
    """The politeness key of a URL: its host name (ports of one host share the limits).

    Raises:
        InvalidUrlError: as ``parse_url``.
    """
    return parse_url(url).host


def blocked_reason(ip: IPAddress) -> str | None:
    """Why an address may not be fetched by default, or None for a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d reaches a.b.c.d and nothing else
            inner = blocked_reason(ip.ipv4_mapped)
            return f"{inner} (inside IPv6 {ip})" if inner else None
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            inner = blocked_reason(embedded)
            if inner:
                return f"{inner} (inside IPv6 {ip})"
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("not globally routable", not ip.is_global),
    )
    for name, hit in checks:
        if hit:
            return name
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Resolves a host name with the system resolver: its addresses, in the resolver's order.

    Raises:
        ResolveError: when resolution fails.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        permanent = exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None))
        raise ResolveError(f"cannot resolve {host!r}: {exc}", permanent) from exc
    seen: dict[str, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]).split("%", 1)[0], None)
    return list(seen)


class AddressPolicy:
    """Resolves hosts and decides whether their addresses may be fetched.

    Args:
        allow_private: allow every address (loopback and private ones included); for crawling
            an intranet or testing against a local server.
        allow_networks: networks (CIDR strings) allowed even when ``allow_private`` is False,
            e.g. ``["10.1.2.0/24"]`` for one intranet segment.
        resolver: ``(host, port) -> [ip, ...]``; the system resolver by default.
    """

    def __init__(
        self,
        allow_private: bool = False,
        allow_networks: Iterable[str] = (),
        resolver: Resolver | None = None,
    ):
        self.allow_private = bool(allow_private)
        self.allow_networks = tuple(parse_networks(list(allow_networks)))
        self._resolve = resolver or system_resolver

    def check_ip(self, address: str) -> str | None:
        """Why ``address`` may not be fetched under this policy, or None if it may."""
        ip = ipaddress.ip_address(address)
        if self.allow_private or any(ip in net for net in self.allow_networks):
            return None
        return blocked_reason(ip)

    def addresses(self, target: Target) -> list[str]:
        """The addresses to connect to for ``target``, all checked.

        Raises:
            BlockedAddressError: when any address of the host is refused.
            ResolveError: when the host cannot be resolved.
        """
        try:
            literal = str(ipaddress.ip_address(target.host))
        except ValueError:
            literal = None
        if literal is not None:
            reason = self.check_ip(literal)
            if reason:
                raise BlockedAddressError(f"{literal} is a {reason} address")
            return [literal]
        ips = self._resolve(target.host, target.port)
        if not ips:
            raise ResolveError(f"{target.host!r} resolved to no address", permanent=True)
        for ip in ips:
            reason = self.check_ip(ip)
            if reason:
                raise BlockedAddressError(f"{target.host} resolves to {ip}: {reason} address")
        return ips


def parse_networks(networks: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Parses CIDR strings.

    Raises:
        ValueError: naming the first string that is not a network.
    """
    out = []
    for net in networks:
        if not isinstance(net, str):
            raise ValueError(f"allow_networks entries must be CIDR strings, got {net!r}")
        try:
            out.append(ipaddress.ip_network(net, strict=False))
        except ValueError as exc:
            raise ValueError(f"allow_networks: {net!r} is not a network ({exc})") from exc
    return out
