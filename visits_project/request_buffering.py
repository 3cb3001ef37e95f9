"""
gunicorn's threaded worker, except that a request reaches a thread only once it has arrived whole.

gthread reads each request on one of its threads, from a blocking socket: a
client that sends a byte every few seconds holds that thread for as long as it
likes, and a dozen such clients hold them all. This worker collects each
request's head and body in the event loop that gthread already runs for its
listening and kept-alive sockets, where a waiting connection costs nothing; a
request still incomplete after WEB_REQUEST_TIMEOUT seconds is answered 408 and
closed. Threads then run only Django. The README's "Slow clients" section gives
the measurements behind this choice over an asynchronous worker or a proxy.
"""

import re
import selectors
import socket
import time
from collections import deque
from functools import partial

from gunicorn.workers.gthread import ThreadWorker

from visits_project.env import env_int

_HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)[ \t]*\r\n", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r\n]*chunked", re.IGNORECASE)
# Such a client sends its body only after gunicorn has answered "100 Continue".
_EXPECTS_CONTINUE = re.compile(rb"\r\nexpect:[ \t]*100-continue", re.IGNORECASE)

# A request larger than this goes to a thread as it stands, where gunicorn's
# limits on the head and Django's on the body answer it; the service's own
# requests (pages, the admin's forms) are a few kilobytes.
MAX_BUFFERED_BYTES = 1024 * 1024
_RECEIVE_SIZE = 64 * 1024

# What reading a connection's bytes so far came to.
_ARRIVED, _CLOSED, _WAITING = object(), object(), object()

_REQUEST_TIMEOUT_REPLY = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"The request did not arrive in time; send it again.\n"
)


def is_complete_request(received: bytes) -> bool:
    """Whether `received` holds a whole HTTP/1.x request: its head and any body it announces."""
    head_end = received.find(_HEAD_END)
    if head_end < 0:
        return False
    # The head keeps the CRLF that ends its last field, so every field is "\r\nname: value\r\n".
    head = received[: head_end + 2]
    body = memoryview(received)[head_end + len(_HEAD_END) :]
    if _EXPECTS_CONTINUE.search(head):
        return True
    if _CHUNKED.search(head):
        return _is_complete_chunked_body(body)
    length = _CONTENT_LENGTH.search(head)
    return length is None or len(body) >= int(length[1])


def _is_complete_chunked_body(body: memoryview) -> bool:
    """Whether `body` holds every chunk, the last (empty) one and its trailer fields."""
    data = body.tobytes()
    position = 0
    while (line_end := data.find(b"\r\n", position)) >= 0:
        try:
            size = int(data[position:line_end].split(b";", 1)[0], 16)
        except ValueError:
            return True  # Malformed: gunicorn's parser answers it.
        if size == 0:
            return data.find(_HEAD_END, line_end) >= 0
        position = line_end + 2 + size + 2
    return False


class RequestBufferingWorker(ThreadWorker):
    """gthread with requests read in its event loop (see the module's docstring)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Connections whose request is still arriving, oldest first: all share
        # one timeout, so the deque stays sorted by deadline.
        self.reading_conns: deque = deque()
        self.request_timeout = env_int("WEB_REQUEST_TIMEOUT", 10, minimum=1)

    def _buffers_requests(self) -> bool:
        # TLS and HTTP/2 frame the bytes differently; gthread reads those itself.
        return not self.cfg.is_ssl and self.cfg.http2_cleartext == "off"

    def enqueue_req(self, conn) -> None:
        """Run conn's request on a thread if it has all arrived, or read it in the event loop."""
        if getattr(conn, "request_arrived", False) or not self._buffers_requests():
            conn.request_arrived = False
            super().enqueue_req(conn)
            return
        # A kept-alive connection may hold the start of its next request already.
        conn.received = conn.parser.unreader.take_buffered() if conn.parser else b""
        conn.sock.setblocking(False)
        # The request has often arrived with the connection: read before waiting.
        outcome = self._read_more(conn)
        if outcome is _WAITING:
            conn.timeout = time.monotonic() + self.request_timeout
            self.reading_conns.append(conn)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))
        else:
            self._done_reading(conn, outcome)

    def _on_readable(self, conn, _sock) -> None:
        outcome = self._read_more(conn)
        if outcome is not _WAITING:
            self._stop_reading(conn)
            self._done_reading(conn, outcome)

    def _read_more(self, conn) -> object:
        """Adds what the socket holds to conn.received: _ARRIVED, _CLOSED or _WAITING."""
        if is_complete_request(conn.received):
            return _ARRIVED
        try:
            data = conn.sock.recv(_RECEIVE_SIZE)
        except (BlockingIOError, InterruptedError):
            return _WAITING
        except OSError:
            data = b""
        if not data:
            return _CLOSED
        conn.received += data
        if len(conn.received) >= MAX_BUFFERED_BYTES or is_complete_request(conn.received):
            return _ARRIVED
        return _WAITING

    def _done_reading(self, conn, outcome: object) -> None:
        if outcome is _CLOSED:
            self._close(conn)
            return
        conn.request_arrived = True
        # gthread's thread would otherwise wait for more bytes before reading.
        conn.data_ready = True
        self.enqueue_req(conn)

    def handle(self, conn):
        """Give the thread's parser the bytes read so far, then serve as gthread does."""
        received = getattr(conn, "received", b"")
        if received:
            conn.received = b""
            conn.init()
            conn.parser.unreader.unread(received)
        return super().handle(conn)

    def murder_pending(self) -> None:
        """Close connections whose request did not arrive in time, as well as gthread's own."""
        super().murder_pending()
        now = time.monotonic()
        while self.reading_conns and self.reading_conns[0].timeout <= now:
            conn = self.reading_conns[0]
            self._stop_reading(conn)
            if conn.received:
                self._send_request_timeout(conn)
            self._close(conn)

    def _stop_reading(self, conn) -> None:
        self.poller.unregister(conn.sock)
        self.reading_conns.remove(conn)

    def _send_request_timeout(self, conn) -> None:
        try:
            conn.sock.send(_REQUEST_TIMEOUT_REPLY)
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # The client left, or its receive window is full: closing is enough.

    def _close(self, conn) -> None:
        self.nr_conns -= 1
        conn.close()
