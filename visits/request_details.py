"""What a request tells about its client, made safe to store."""

import ipaddress
from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest

from visits.models import USER_AGENT_MAX_LENGTH


def client_address(request: HttpRequest) -> str | None:
    """
    The client's IP address: the socket's peer or, while that is a proxy of
    DJANGO_TRUSTED_PROXIES, the X-Forwarded-For entry it appended, and so on
    leftwards. An entry that is no address stops the walk at the socket's peer.
    None when the peer itself has no IP address.
    """
    peer = ip_address(request.META.get("REMOTE_ADDR", ""))
    if peer is None:
        return None
    address = peer
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    # Each trusted proxy appended the address it saw; anything further left was
    # written by the client and proves nothing.
    while is_trusted_proxy(address) and hops:
        hop = ip_address(hops.pop())
        if hop is None:
            return str(peer)
        address = hop
    return str(address)


def ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """TEXT as an address PostgreSQL stores: no zone id, IPv4-mapped IPv6 as IPv4."""
    try:
        address = ipaddress.ip_address(text.strip().partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def comes_from(
    request: HttpRequest, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    """Whether the client's address (see client_address) lies in one of networks."""
    address = client_address(request)
    return address is not None and any(ipaddress.ip_address(address) in net for net in networks)


def is_trusted_proxy(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(address in network for network in settings.TRUSTED_PROXIES)


def user_agent(request: HttpRequest) -> str:
    """The User-Agent header as text PostgreSQL accepts, cut to the column's length."""
    raw: str = request.META.get("HTTP_USER_AGENT", "")
    # WSGI hands headers over as latin-1; most clients send UTF-8, so decode
    # that, and mark any byte that is not valid UTF-8 instead of failing.
    try:
        text = raw.encode("latin-1").decode("utf-8", errors="replace")
    except UnicodeEncodeError:
        text = raw
    # PostgreSQL text cannot hold NUL characters.
    return text.replace("\x00", "\ufffd")[:USER_AGENT_MAX_LENGTH]
