"""Where outgoing webhooks may be posted: public addresses only, checked when a URL is
registered and again, against the address actually connected to, on every delivery.

A receiver URL is staff input, but a worker posts from inside the network, so a URL naming
``127.0.0.1:5432``, ``169.254.169.254`` (cloud metadata) or any private host would make distro a
way to reach what only it can reach, and ``hooks test`` / ``hooks log`` would show the answer.
So every address a host name resolves to must be global: loopback, private, shared (CGNAT),
link-local, multicast, unspecified and reserved addresses are refused, also when written as
IPv4-mapped, 6to4 or NAT64 IPv6 addresses, and so are ``localhost`` names.
``[outgoing_webhooks] allow_private_addresses = true`` lifts this for receivers on a private
network (and for tests on loopback).

A name checked at registration may resolve elsewhere later (DNS rebinding), so
``PinnedTransport`` resolves the host once per request, checks every answer, and connects to a
checked address itself: the ``Host`` header, TLS SNI and certificate verification stay with the
host name, so nothing can resolve it a second time to something else. Resolvers are the
network edge: tests pass their own.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from distro.errors import ValidationError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
#: (host name, port) -> the addresses it resolves to; raises OSError if it does not resolve.
Resolver = Callable[[str, int], Sequence[Address]]

ALLOW_KEY = "[outgoing_webhooks] allow_private_addresses = true"
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # IPv4 embedded in the last 32 bits
_LOCAL_NAMES = ("localhost", "localhost.localdomain")


def system_resolver(host: str, port: int) -> list[Address]:
    """Every A and AAAA answer for ``host``, as the operating system resolves it."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[Address] = []
    for *_, sockaddr in answers:
        # A link-local IPv6 answer may carry its interface ("fe80::1%eth0").
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def non_global_reason(address: Address) -> str | None:
    """Why a webhook must not go to ``address`` ("a loopback address" ...), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            reason = non_global_reason(embedded)
            return f"{reason} (as {embedded})" if reason else None
    checks = (
        (address.is_unspecified, "the unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (isinstance(address, ipaddress.IPv4Address) and address in _SHARED, "a shared address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),
    )
    return next((reason for refused, reason in checks if refused), None)


class DestinationRefused(ValidationError):
    """A webhook URL leads to an address distro does not post to."""

    def __init__(self, host: str, address: Address | None, reason: str) -> None:
        self.host = host
        self.address = address
        subject = host if address is None or str(address) == host else f"{host} ({address})"
        super().__init__(
            f"{subject} is {reason}: webhooks are not posted to loopback, private, link-local, "
            f"multicast or reserved addresses unless {ALLOW_KEY}"
        )


class UnresolvedHost(ValidationError):
    """A webhook URL's host name does not resolve (now)."""


@dataclass(frozen=True)
class Destinations:
    """The rule for one process: which addresses webhooks may go to, and how names resolve."""

    allow_private: bool = False
    resolver: Resolver = field(default=system_resolver)

    def check_url(self, url: str) -> None:
        """DestinationRefused / UnresolvedHost unless every address of the URL's host is allowed.

        With ``allow_private`` every address is, so the name is not even resolved.
        """
        if self.allow_private:
            return
        parsed = httpx.URL(url)
        self.addresses(_ascii_host(parsed), parsed.port or _default_port(parsed.scheme))

    def addresses(self, host: str, port: int) -> list[Address]:
        """The addresses to connect to for ``host``: resolved once, every one of them checked."""
        try:
            found: list[Address] = [ipaddress.ip_address(host)]
        except ValueError:
            name = host.lower().rstrip(".")
            if not self.allow_private and (name in _LOCAL_NAMES or name.endswith(".localhost")):
                raise DestinationRefused(host, None, "a name for this machine") from None
            try:
                found = list(self.resolver(host, port))
            except (OSError, UnicodeError) as exc:
                raise UnresolvedHost(f"{host} does not resolve ({exc})") from None
            if not found:
                raise UnresolvedHost(f"{host} does not resolve (no addresses)") from None
        if not self.allow_private:
            for address in found:
                reason = non_global_reason(address)
                if reason:
                    raise DestinationRefused(host, address, reason)
        return found


class PinnedTransport(httpx.BaseTransport):
    """Connects each request to an address ``destinations`` resolved and checked, never to one
    the host name might resolve to a moment later.

    The request keeps its ``Host`` header and, over HTTPS, its server name for SNI and
    certificate verification (httpcore's ``sni_hostname`` extension), so only the connection is
    pinned. Connections are not kept alive: a pooled connection is keyed by the address and
    could otherwise carry a request for another name served at the same address.
    """

    def __init__(self, destinations: Destinations, inner: httpx.BaseTransport | None = None):
        self.destinations = destinations
        self.inner = inner or httpx.HTTPTransport(
            limits=httpx.Limits(max_keepalive_connections=0), trust_env=False
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = _ascii_host(url)
        try:
            addresses = self.destinations.addresses(host, url.port or _default_port(url.scheme))
        except UnresolvedHost as exc:
            raise httpx.ConnectError(str(exc), request=request) from None
        if url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        failure: httpx.ConnectError | None = None
        for address in addresses:
            request.url = url.copy_with(host=str(address))
            try:
                return self.inner.handle_request(request)
            except httpx.ConnectError as exc:
                failure = exc  # the next address may answer
            finally:
                request.url = url
        assert failure is not None
        raise failure

    def close(self) -> None:
        self.inner.close()


def _ascii_host(url: httpx.URL) -> str:
    """The host as DNS and TLS know it: an internationalised name in its xn-- form."""
    return url.raw_host.decode("ascii")


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80
