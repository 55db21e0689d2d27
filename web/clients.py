"""Who is asking: the client address behind our proxies, parsed as an IP, and the key it is counted by.

uvicorn's own proxy-header handling is off (web/serving.py): it takes the X-Forwarded-For entry
as a string, so "not-an-ip" or a fresh random string per request would each get a rate-limit
budget of their own. Here, from a trusted peer (FORWARDED_ALLOW_IPS), the rightmost entry that
is not itself a trusted proxy is the client, if it parses as an IP address; anything else (not
an IP, empty) falls back to the peer's own address. IPv6 clients are counted per /64: one
subscriber gets a whole /64 and could otherwise change address for every order.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(value: str) -> IPAddress | None:
    """An IP address from a header entry ('1.2.3.4', '1.2.3.4:5678', '[2001:db8::1]:443', '2001:db8::1')."""
    value = value.strip()
    if value.startswith('['):
        value = value[1:].partition(']')[0]
    elif value.count(':') == 1:  # IPv4 with a port
        value = value.partition(':')[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def parse_trusted(value: str) -> tuple[bool, list[IPNetwork]]:
    """FORWARDED_ALLOW_IPS: '*' (every peer) or comma-separated addresses and networks."""
    items = [item.strip() for item in value.split(',') if item.strip()]
    networks = []
    for item in items:
        if item == '*':
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            continue  # a host name or a typo: trusted for nothing
    return '*' in items, networks


def rate_key(host: str) -> str:
    """The key a client is counted by: its IPv4 address, its IPv6 /64, or the string as given."""
    address = parse_ip(host)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address) if address is not None else host


class ClientAddressMiddleware:
    """Sets scope['client'] (and the scheme) from X-Forwarded-For/-Proto sent by a trusted proxy."""

    def __init__(self, app: ASGIApp, *, trusted: str) -> None:
        self.app = app
        self.trust_all, self.networks = parse_trusted(trusted)

    def _trusted(self, address: IPAddress | None) -> bool:
        if address is None:
            return False
        return self.trust_all or any(address in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] in ('http', 'websocket') and scope.get('client'):
            peer_host, peer_port = scope['client']
            peer = parse_ip(str(peer_host))
            if self._trusted(peer):
                forwarded = [bytes(v).decode('latin-1') for k, v in scope.get('headers', ()) if k == b'x-forwarded-for']
                client = self.client_from(forwarded, peer)
                if client is not None:
                    scope['client'] = (str(client), peer_port)
                for key, value in scope.get('headers', ()):
                    if key == b'x-forwarded-proto' and bytes(value).strip() in (b'http', b'https'):
                        scope['scheme'] = bytes(value).strip().decode()
        await self.app(scope, receive, send)

    def client_from(self, headers: Sequence[str], peer: IPAddress | None) -> IPAddress | None:
        entries = [entry for header in headers for entry in header.split(',')]
        for entry in reversed(entries):
            address = parse_ip(entry)
            if address is None:
                return peer  # not an address: believe nothing further left
            if not self._trusted(address):
                return address
        return peer


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ('http', 'https') or not parts.netloc:
        return None
    return parts.netloc.lower()


def from_our_origin(headers: Mapping[str, str], own_host: str, allowed_origins: Sequence[str]) -> bool:
    """Whether a form post may have come from our own page (or a configured CORS origin).

    A browser posting a form across sites sends `Origin` (or at least `Referer`), and cannot forge
    either; a request with neither is not a browser's form (curl, a server), which a cross-site
    page cannot make a visitor send, so it passes. `Origin: null` (sandboxed or privacy-stripped)
    does not. Hosts are compared, not schemes: TLS may end at the proxy.
    """
    allowed = {own_host.lower()} | {o for o in (_origin_of(a) for a in allowed_origins) if o}
    origin = headers.get('origin')
    if origin is not None:
        return _origin_of(origin) in allowed
    referer = headers.get('referer')
    if referer is not None:
        return _origin_of(referer) in allowed
    return True
