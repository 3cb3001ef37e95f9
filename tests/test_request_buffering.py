"""gunicorn's worker that reads requests in its event loop, so slow clients hold no thread."""

import signal
import socket
import time

import pytest

from serving.request_buffering import RequestCollector
from tests.support.servers import read_until_closed
from tests.support.slow_clients import SlowClients, probe_during
from visits.models import Access

GET = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
LAST_GET = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
CHUNKED = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    ("received", "complete"),
    [
        (b"", False),
        (b"GET / HTTP/1.1\r\nHost: localhost\r\n", False),
        (GET, True),
        (GET + b"GET /healthz", True),
        (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcd", False),
        (b"POST / HTTP/1.1\r\ncontent-length:  5 \r\n\r\nabcde", True),
        (b"POST / HTTP/1.1\r\nX-Content-Length: 5\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", False),
        (b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nabcde", True),
        # Too many digits for a length: handed on, for gunicorn's parser to refuse.
        (b"POST / HTTP/1.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", True),
        (CHUNKED + b"3\r\nabc\r\n", False),
        (CHUNKED + b"3\r\nabc\r\n0\r\n", False),
        (CHUNKED + b"3\r\nabc\r\n0\r\n\r\n", True),
        (CHUNKED + b"3;x=y\r\nabc\r\n0\r\nT: 1\r\n", False),
        (CHUNKED + b"0\r\nT: 1\r\n\r\n", True),
        (CHUNKED + b"zz\r\n", True),
    ],
)
def test_request_collector_is_whole_once_head_and_announced_body_arrived(received, complete):
    assert RequestCollector().feed(received) is complete


def test_request_collector_fed_a_byte_at_a_time_is_whole_only_at_the_last():
    request = CHUNKED + b"3\r\nabc\r\n0\r\nT: 1\r\n\r\n"
    collector = RequestCollector()

    answers = [collector.feed(request[i : i + 1]) for i in range(len(request))]

    assert answers == [False] * (len(request) - 1) + [True]
    assert collector.received == request


def test_request_collector_knows_when_the_client_waits_for_100_continue():
    expecting = RequestCollector()
    expecting.feed(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
    http_10 = RequestCollector()
    http_10.feed(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")

    assert (expecting.expects_continue, http_10.expects_continue) == (True, False)


def send_in_pieces(sock: socket.socket, request: bytes, pieces: int, pause: float) -> None:
    step = -(-len(request) // pieces)
    for start in range(0, len(request), step):
        sock.sendall(request[start : start + step])
        time.sleep(pause)


def test_request_sent_in_pieces_is_answered_and_counted_once(gunicorn):
    server = gunicorn()

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        send_in_pieces(sock, LAST_GET, 4, 0.3)
        reply = read_until_closed(sock)

    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert reply.endswith(b"Banco PostgreSQL tem 1 registros. Redis conta 1 visitas.")
    assert Access.objects.count() == 1


def test_kept_alive_connection_reads_its_next_request_in_pieces(gunicorn):
    server = gunicorn(WEB_KEEPALIVE="5")

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(GET)
        first = b""
        while not first.endswith(b"visitas.") and (chunk := sock.recv(65536)):
            first += chunk
        send_in_pieces(sock, LAST_GET, 3, 0.3)
        second = read_until_closed(sock)

    assert first.endswith(b"Banco PostgreSQL tem 1 registros. Redis conta 1 visitas.")
    assert second.endswith(b"Banco PostgreSQL tem 2 registros. Redis conta 2 visitas.")


def test_chunked_body_sent_in_pieces_reaches_django(gunicorn):
    server = gunicorn()
    request = (
        b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        send_in_pieces(sock, request, 4, 0.2)
        reply = read_until_closed(sock)

    assert reply.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    assert Access.objects.count() == 0


def test_body_after_100_continue_is_read_before_a_thread_is_taken(gunicorn):
    server = gunicorn()

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
            b"Content-Length: 3\r\nConnection: close\r\n\r\n"
        )
        interim = sock.recv(25)
        send_in_pieces(sock, b"abc", 3, 0.2)
        reply = read_until_closed(sock)

    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    # gunicorn answers 100 Continue again (RFC 9110 allows any number), then Django.
    assert b"HTTP/1.1 405 Method Not Allowed\r\n" in reply
    assert Access.objects.count() == 0


def test_request_larger_than_64_kib_is_answered_413_without_a_thread(gunicorn):
    server = gunicorn()

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n")
        sock.sendall(b"a" * 70_000)
        reply = read_until_closed(sock)

    assert reply == (
        b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"The request is larger than 64 KiB; send a smaller one.\n"
    )
    assert server.get("/healthz").status == 200


def test_content_length_too_long_for_a_number_is_refused_and_the_worker_lives_on(gunicorn):
    server = gunicorn(WEB_CONCURRENCY="1")

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + b"9" * 5000)
        sock.sendall(b"\r\n\r\n")
        reply = read_until_closed(sock)

    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert server.get("/healthz").status == 200
    assert "Exception in worker process" not in server.log()


def test_request_incomplete_after_the_timeout_is_answered_408(gunicorn):
    server = gunicorn(WEB_REQUEST_TIMEOUT="1")

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: local")
        started = time.monotonic()
        reply = read_until_closed(sock)
        waited = time.monotonic() - started

    assert reply == (
        b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"The request did not arrive in time; send it again.\n"
    )
    assert 0.9 < waited < 3
    assert Access.objects.count() == 0


def test_connection_that_sends_nothing_is_closed_without_a_reply(gunicorn):
    server = gunicorn(WEB_REQUEST_TIMEOUT="1")

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        started = time.monotonic()
        reply = read_until_closed(sock)
        waited = time.monotonic() - started

    assert reply == b""
    assert 0.9 < waited < 3


def test_connection_accepted_just_before_a_stop_is_still_served(gunicorn):
    server = gunicorn(WEB_CONCURRENCY="1")

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        time.sleep(0.2)  # accepted, and read once: nothing yet
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        reply = read_until_closed(sock)

    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert reply.endswith(b"Banco PostgreSQL tem 1 registros. Redis conta 1 visitas.")
    assert server.process.wait(timeout=30) == 0


SLOW_CLIENTS = 200
SLOW_CLIENT_SECONDS = 60


def test_slow_clients_leave_the_page_and_health_answering_within_a_second(gunicorn):
    server = gunicorn()

    with SlowClients("127.0.0.1", server.port, count=SLOW_CLIENTS) as slow:
        probes = probe_during("127.0.0.1", server.port, ["/", "/healthz"], SLOW_CLIENT_SECONDS)

    for probe in probes:
        assert set(probe.statuses) == {200}, probe.path
        assert len(probe.statuses) >= SLOW_CLIENT_SECONDS - 1, probe.path
        assert max(probe.latencies) < 1.0, probe.path
        print(f"{probe.path}: worst {max(probe.latencies) * 1000:.0f} ms of {len(probe.latencies)}")
    # Every slow client was let go at the request timeout (10 s) and came back.
    assert slow.reopened >= SLOW_CLIENTS * (SLOW_CLIENT_SECONDS // 10 - 1)
    views = probes[0].statuses.count(200)
    assert Access.objects.count() == views
