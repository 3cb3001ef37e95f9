"""What a request tells about its client, made safe to store."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest

from visits.models import USER_AGENT_MAX_LENGTH


def client_address(request: HttpRequest) -> str | None:
    """
    The client's IP address: the socket's peer, or, behind the number of proxies
    that DJANGO_TRUSTED_PROXY_COUNT trusts, the entry they appended to
    X-Forwarded-For. None when the trusted value is not an IP address.
    """
    candidate = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        # Each trusted proxy appended the address it saw; anything further left
        # was written by the client and proves nothing.
        if len(forwarded) >= proxies:
            candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def user_agent(request: HttpRequest) -> str:
    """The User-Agent header as text PostgreSQL accepts, cut to the column's length."""
    raw = request.META.get("HTTP_USER_AGENT", "")
    # WSGI hands headers over as latin-1; most clients send UTF-8, so decode
    # that, and mark any byte that is not valid UTF-8 instead of failing.
    try:
        text = raw.encode("latin-1").decode("utf-8", errors="replace")
    except UnicodeEncodeError:
        text = raw
    # PostgreSQL text cannot hold NUL characters.
    return text.replace("\x00", "\ufffd")[:USER_AGENT_MAX_LENGTH]
