"""Clients that send a request a byte at a time, and probes that time the service meanwhile."""

import http.client
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

# A request head that never ends: after this, one more "a" every interval.
_REQUEST_START = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: "


class SlowClients:
    """
    `count` connections to host:port that each send "G", then one more byte
    every `interval` seconds, never finishing their request. A connection the
    server closes is opened again at once, so `count` are always held.
    """

    def __init__(self, host: str, port: int, *, count: int, interval: float = 3.0) -> None:
        self.address = (host, port)
        self.count = count
        self.interval = interval
        self.reopened = 0
        self._selector = selectors.DefaultSelector()
        self._sent: dict[socket.socket, int] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "SlowClients":
        for _ in range(self.count):
            self._open()
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopping.set()
        self._thread.join()
        for connection in list(self._sent):
            self._forget(connection)
        self._selector.close()

    def _open(self) -> None:
        connection = socket.create_connection(self.address, timeout=5)
        connection.setblocking(False)
        connection.send(_REQUEST_START[:1])
        self._sent[connection] = 1
        self._selector.register(connection, selectors.EVENT_READ)

    def _forget(self, connection: socket.socket) -> None:
        self._selector.unregister(connection)
        del self._sent[connection]
        connection.close()

    def _run(self) -> None:
        next_byte = time.monotonic() + self.interval
        while not self._stopping.is_set():
            # Any reply (a 408) or a close means the server let go: open another.
            for key, _ in self._selector.select(timeout=0.1):
                self._forget(key.fileobj)
                self.reopened += 1
                self._open()
            if time.monotonic() >= next_byte:
                next_byte += self.interval
                for connection in list(self._sent):
                    self._send_next_byte(connection)

    def _send_next_byte(self, connection: socket.socket) -> None:
        sent = self._sent[connection]
        byte = _REQUEST_START[sent : sent + 1] or b"a"
        try:
            connection.send(byte)
            self._sent[connection] = sent + 1
        except OSError:
            pass  # Closed by the server: the selector reports it.


@dataclass
class Probe:
    """Requests to `path` once a second, each timed, on a new connection."""

    host: str
    port: int
    path: str
    timeout: float = 5.0
    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def run_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.monotonic()
            self.statuses.append(self._status())
            self.latencies.append(time.monotonic() - started)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

    def _status(self) -> int:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request("GET", self.path)
            response = connection.getresponse()
            response.read()
            return response.status
        except OSError:
            return 0  # No answer within the timeout.
        finally:
            connection.close()


def probe_during(host: str, port: int, paths: list[str], seconds: float) -> list[Probe]:
    """Probes each of `paths` once a second for `seconds`, side by side."""
    probes = [Probe(host, port, path) for path in paths]
    threads = [threading.Thread(target=probe.run_for, args=(seconds,)) for probe in probes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return probes
