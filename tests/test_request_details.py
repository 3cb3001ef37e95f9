"""visits/request_details.py: the client's address and user agent, made safe to store."""

import ipaddress

import pytest
from django.test import RequestFactory

from visits.models import USER_AGENT_MAX_LENGTH
from visits.request_details import client_address, comes_from, ip_address, user_agent

PROXIES = [ipaddress.ip_network("127.0.0.0/8")]


def request(**meta: str):
    return RequestFactory().get("/", **meta)


def test_client_address_is_the_peer_without_a_proxy():
    assert client_address(request(REMOTE_ADDR="203.0.113.7")) == "203.0.113.7"


def test_client_address_forwarded_for_ignored_without_trusted_proxy(settings):
    settings.TRUSTED_PROXIES = []

    forwarded = request(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1")

    assert client_address(forwarded) == "127.0.0.1"


@pytest.mark.parametrize(
    ("forwarded", "address"),
    [
        ("198.51.100.1", "198.51.100.1"),
        ("6.6.6.6, 198.51.100.1", "198.51.100.1"),
        ("198.51.100.1, 127.0.0.2", "198.51.100.1"),
        ("fe80::1%eth0", "fe80::1"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("[::1]", "127.0.0.1"),
        ("not-an-address", "127.0.0.1"),
        (",,,", "127.0.0.1"),
        ("999.1.1.1", "127.0.0.1"),
        ("1.2.3.4 5.6.7.8", "127.0.0.1"),
        (", ".join(f"10.0.{hop // 250}.{hop % 250 + 1}" for hop in range(100)), "10.0.0.100"),
    ],
)
def test_client_address_forwarded_by_trusted_proxy_is_the_nearest_untrusted_hop(
    settings, forwarded, address
):
    """Behind trusted proxies (127.0.0.0/8), the rightmost other address is the client's."""
    settings.TRUSTED_PROXIES = PROXIES

    assert client_address(request(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)) == (
        address
    )


@pytest.mark.parametrize("peer", ["", "unix-socket", "not an address"])
def test_client_address_of_a_peer_without_ip_address_is_none(peer):
    assert client_address(request(REMOTE_ADDR=peer)) is None


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("192.0.2.1", "192.0.2.1"),
        (" 192.0.2.1 ", "192.0.2.1"),
        ("fe80::1%eth0", "fe80::1"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("999.1.1.1", None),
        ("", None),
    ],
)
def test_ip_address_drops_zone_ids_and_unmaps_ipv4(text, address):
    parsed = ip_address(text)

    assert (str(parsed) if parsed else None) == address


@pytest.mark.parametrize(("peer", "comes"), [("10.1.2.3", True), ("192.0.2.1", False), ("", False)])
def test_comes_from_checks_the_client_address_against_networks(peer, comes):
    networks = [ipaddress.ip_network("10.0.0.0/8")]

    assert comes_from(request(REMOTE_ADDR=peer), networks) is comes


def test_user_agent_overlong_is_truncated_not_rejected():
    assert user_agent(request(HTTP_USER_AGENT="x" * 10_000)) == "x" * USER_AGENT_MAX_LENGTH


def test_user_agent_non_utf8_and_nul_bytes_are_replaced():
    # WSGI passes header bytes as latin-1 text: b"caf\xc3\xa9 \xff\x00" arrives so.
    raw = b"caf\xc3\xa9 \xff\x00".decode("latin-1")

    assert user_agent(request(HTTP_USER_AGENT=raw)) == "café \ufffd\ufffd"


def test_user_agent_beyond_latin_1_is_kept_as_it_is():
    assert user_agent(request(HTTP_USER_AGENT="agent ✓")) == "agent ✓"


def test_user_agent_missing_is_empty():
    assert user_agent(request()) == ""
