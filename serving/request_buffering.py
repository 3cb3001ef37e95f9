"""
gunicorn's threaded worker, except that a request reaches a thread only once it has arrived whole.

gthread reads each request on one of its threads, from a blocking socket: a
client that sends a byte every few seconds holds that thread for as long as it
likes, and a dozen such clients hold them all. This worker collects each
request's head and body in the event loop that gthread already runs for its
listening and kept-alive sockets, where a waiting connection costs nothing
(answering "100 Continue" itself when a client waits for it); a request still
incomplete after WEB_REQUEST_TIMEOUT seconds is answered 408, and one larger
than 64 KiB 413, and closed. Threads then run only Django. docs/design.md, "Slow clients", gives
the measurements behind this choice over an asynchronous worker or a proxy.
"""

import contextlib
import re
import selectors
import socket
import time
from collections import deque
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

from visits_project.env import web_request_timeout

_HEAD_END = b"\r\n\r\n"
# At most 18 digits: int() refuses longer decimal strings, and no body here is that large.
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d{1,18})[ \t]*\r\n", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r\n]*chunked", re.IGNORECASE)
_EXPECTS_CONTINUE = re.compile(rb"\r\nexpect:[ \t]*100-continue", re.IGNORECASE)

# The service's own requests (pages, the admin's forms) are a few kilobytes.
MAX_REQUEST_BYTES = 64 * 1024
_RECEIVE_SIZE = 64 * 1024
# Seconds a connection accepted just before the worker stops may take to send its request.
STOP_SILENT_LINGER = 1.0

# What reading a connection's bytes so far came to.
_ARRIVED, _CLOSED, _WAITING, _TOO_LARGE = object(), object(), object(), object()


def _reply(status: bytes, sentence: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\nConnection: close\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + sentence + b"\n"
    )


_REQUEST_TIMEOUT_REPLY = _reply(
    b"408 Request Timeout", b"The request did not arrive in time; send it again."
)
_TOO_LARGE_REPLY = _reply(
    b"413 Content Too Large", b"The request is larger than 64 KiB; send a smaller one."
)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class RequestCollector:
    """
    The bytes of one HTTP/1.x request as they arrive, and whether it is whole:
    its head and the body the head announces (Content-Length or chunked).
    Each byte is searched about once, however small the pieces it comes in.
    """

    def __init__(self) -> None:
        self.received = bytearray()
        self.expects_continue = False  # the client waits for "100 Continue" to send its body
        self._searched = 0  # where the search for the head's end goes on
        self._length: int | None = None  # the whole request's, once the head is read
        self._next_chunk: int | None = None  # where the next chunk's size line starts

    def feed(self, data: bytes) -> bool:
        """Adds `data`; whether the request is now whole."""
        self.received += data
        if self._length is None and self._next_chunk is None and not self._read_head():
            return False
        if self._next_chunk is not None:
            return self._chunks_complete()
        assert self._length is not None  # the head is read: chunked, or this long
        return len(self.received) >= self._length

    def _read_head(self) -> bool:
        head_end = self.received.find(_HEAD_END, max(0, self._searched - len(_HEAD_END) + 1))
        self._searched = len(self.received)
        if head_end < 0:
            return False
        body_start = head_end + len(_HEAD_END)
        # The head keeps the CRLF that ends its last field: every field is "\r\nname: value\r\n".
        head = bytes(self.received[: head_end + 2])
        if _CHUNKED.search(head):
            self._next_chunk = body_start
            has_body = True
        else:
            length = _CONTENT_LENGTH.search(head)
            self._length = body_start + (int(length[1]) if length else 0)
            has_body = self._length > body_start
        self.expects_continue = (
            has_body
            and bool(_EXPECTS_CONTINUE.search(head))
            and head.split(b"\r\n", 1)[0].endswith(b"HTTP/1.1")
        )
        return True

    def _chunks_complete(self) -> bool:
        """Walks the chunks that have arrived; whether the last one and its trailers have."""
        data = self.received
        while (line_end := data.find(b"\r\n", self._next_chunk)) >= 0:
            try:
                size = int(bytes(data[self._next_chunk : line_end]).split(b";", 1)[0], 16)
            except ValueError:
                return True  # Malformed: gunicorn's parser answers it.
            if size == 0:
                return data.find(_HEAD_END, line_end) >= 0
            self._next_chunk = line_end + 2 + size + 2
        return False


class RequestBufferingWorker(ThreadWorker):
    """gthread with requests read in its event loop (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Connections whose request is still arriving, oldest first: all share
        # one timeout, so the deque stays sorted by deadline.
        self.reading_conns: deque[TConn] = deque()
        self.silent_deadline = float("inf")  # set when the worker stops
        self.request_timeout = web_request_timeout()
        # TLS and HTTP/2 frame the bytes differently; gthread reads those itself.
        self.buffers_requests = not self.cfg.is_ssl and self.cfg.http2_cleartext == "off"

    def enqueue_req(self, conn: TConn) -> None:
        """Run conn's request on a thread if it has all arrived, or read it in the event loop."""
        if getattr(conn, "request_arrived", False) or not self.buffers_requests:
            conn.request_arrived = False
            super().enqueue_req(conn)
            return
        conn.collector = RequestCollector()
        conn.continued = False
        conn.sock.setblocking(False)
        # A kept-alive connection may hold the start of its next request already,
        # and a request has often arrived with its connection: read before waiting.
        leftover = conn.parser.unreader.take_buffered() if conn.parser else b""
        outcome = self._absorb(conn, leftover) if leftover else _WAITING
        if outcome is _WAITING:
            outcome = self._read_more(conn)
        if outcome is _WAITING:
            conn.timeout = time.monotonic() + self.request_timeout
            self.reading_conns.append(conn)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))
        else:
            self._done_reading(conn, outcome)

    def _on_readable(self, conn: TConn, _sock: socket.socket) -> None:
        outcome = self._read_more(conn)
        if outcome is not _WAITING:
            self._stop_reading(conn)
            self._done_reading(conn, outcome)

    def _read_more(self, conn: TConn) -> object:
        """Reads what the socket holds: _ARRIVED, _CLOSED, _TOO_LARGE or _WAITING."""
        try:
            data = conn.sock.recv(_RECEIVE_SIZE)
        except (BlockingIOError, InterruptedError):
            return _WAITING
        except OSError:
            data = b""
        if not data:
            return _CLOSED
        return self._absorb(conn, data)

    def _absorb(self, conn: TConn, data: bytes) -> object:
        if conn.collector.feed(data):
            return _ARRIVED
        if len(conn.collector.received) > MAX_REQUEST_BYTES:
            return _TOO_LARGE
        if conn.collector.expects_continue and not conn.continued:
            # Answered here, so that the body too arrives before a thread is taken.
            conn.continued = True
            self._send(conn, _CONTINUE)
        return _WAITING

    def _done_reading(self, conn: TConn, outcome: object) -> None:
        if outcome is _CLOSED:
            self._close(conn)
        elif outcome is _TOO_LARGE:
            self._send(conn, _TOO_LARGE_REPLY, last=True)
            self._close(conn)
        else:
            conn.request_arrived = True
            # gthread's thread would otherwise wait for more bytes before reading.
            conn.data_ready = True
            self.enqueue_req(conn)

    # object: whether to keep the connection alive, or gthread's marker for one
    # whose request has not come yet and goes back to the poller.
    def handle(self, conn: TConn) -> object:
        """Give the thread's parser the bytes read so far, then serve as gthread does."""
        collector = getattr(conn, "collector", None)
        if collector is not None:
            conn.collector = None
            conn.init()
            conn.parser.unreader.unread(bytes(collector.received))
        return super().handle(conn)

    def murder_pending(self) -> None:
        """Close connections whose request did not arrive in time, as well as gthread's own."""
        super().murder_pending()
        now = time.monotonic()
        while self.reading_conns and self.reading_conns[0].timeout <= now:
            conn = self.reading_conns[0]
            self._stop_reading(conn)
            if conn.collector.received:
                self._send(conn, _REQUEST_TIMEOUT_REPLY, last=True)
            self._close(conn)
        if not self.alive and now >= self.silent_deadline:
            # Stopping: a connection that has sent nothing yet gets nothing more.
            for conn in [conn for conn in self.reading_conns if not conn.collector.received]:
                self._stop_reading(conn)
                self._close(conn)

    def set_accept_enabled(self, enabled: bool) -> None:
        """
        On stopping, also close this worker's copies of the listening sockets at
        once, not after the last request: once every process of this server has,
        the kernel hands connections still waiting to be accepted to another
        server on the same port (WEB_REUSE_PORT, with net.ipv4.tcp_migrate_req)
        rather than resetting them when this one exits. A connection accepted
        just before gets STOP_SILENT_LINGER seconds to send its request.
        """
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            self.silent_deadline = time.monotonic() + STOP_SILENT_LINGER
            for listener in self.sockets:
                listener.close()

    def _stop_reading(self, conn: TConn) -> None:
        self.poller.unregister(conn.sock)
        self.reading_conns.remove(conn)

    @staticmethod
    def _send(conn: TConn, reply: bytes, *, last: bool = False) -> None:
        # OSError: the client left, or its receive window is full; closing is enough.
        with contextlib.suppress(OSError):
            conn.sock.send(reply)
            if last:
                conn.sock.shutdown(socket.SHUT_WR)

    def _close(self, conn: TConn) -> None:
        self.nr_conns -= 1
        conn.close()
