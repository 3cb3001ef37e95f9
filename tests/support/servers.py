"""
Real servers the tests start and stop themselves: gunicorn serving the project,
and nginx terminating TLS in front of it, and the HTTP requests sent to them.
The private PostgreSQL and Redis that a test may take down are conftest.py's
fixtures, on devservices.servers.
"""

import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from devservices.servers import free_port, wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def raw_request(port: int, request: bytes) -> bytes:
    """REQUEST's bytes as they are, to 127.0.0.1:port, and the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        return read_until_closed(sock)


def fetch(port: int, path: str = "/", *, method: str = "GET", headers=None) -> Reply:
    """One HTTP request to 127.0.0.1:port on a new connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        body = response.read().decode("utf-8")
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        connection.close()


class GunicornServer:
    """gunicorn with the repository's config, bound to 127.0.0.1:port."""

    def __init__(self, *, port: int, log_path: Path, environment: dict[str, str]):
        self.port = port
        self.log_path = log_path
        self.environment = {**os.environ, "WEB_BIND": f"127.0.0.1:{port}", **environment}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [BIN / "gunicorn", "--config", "gunicorn.conf.py"],
                cwd=PROJECT_ROOT,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(lambda: self.get("/healthz").status == 200, f"gunicorn on port {self.port}")

    def get(self, path: str = "/", **kwargs) -> Reply:
        assert self.process is not None
        assert self.process.poll() is None, f"gunicorn has exited:\n{self.log()}"
        return fetch(self.port, path, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """Stops gunicorn as Docker would (SIGTERM) and returns its exit status."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def scraped_metric(server: GunicornServer, name: str) -> float:
    """One unlabelled sample of the server's /metrics, scraped now."""
    scrape = server.get("/metrics")
    assert scrape.status == 200
    for family in text_string_to_metric_families(scrape.body):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"{name} is not in /metrics")


class TlsProxy:
    """
    A real nginx terminating TLS (a self-signed certificate for localhost) in
    front of an upstream port, as a proxy does in production: it tells the app
    the scheme in X-Forwarded-Proto and the client in X-Forwarded-For.
    """

    CONFIG = """
        worker_processes 1;
        pid nginx.pid;
        error_log stderr;
        events {{}}
        http {{
            access_log off;
            server {{
                listen 127.0.0.1:{port} ssl;
                ssl_certificate cert.pem;
                ssl_certificate_key key.pem;
                location / {{
                    proxy_pass http://127.0.0.1:{upstream};
                    proxy_set_header Host $http_host;
                    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                    proxy_set_header X-Forwarded-Proto $scheme;
                }}
            }}
        }}
    """

    def __init__(self, upstream: int) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="visits-test-nginx-"))
        (self.directory / "nginx.conf").write_text(
            self.CONFIG.format(port=self.port, upstream=upstream)
        )
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=localhost", "-keyout", self.directory / "key.pem",
             "-out", self.directory / "cert.pem"],
            check=True, capture_output=True,
        )  # fmt: skip
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["nginx", "-p", f"{self.directory}/", "-c", "nginx.conf", "-g", "daemon off;"],
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._listens, f"nginx on port {self.port}")

    def _listens(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def get(self, path: str, **headers: str) -> Reply:
        """One HTTPS request, trusting the self-signed certificate."""
        context = ssl.create_default_context(cafile=self.directory / "cert.pem")
        connection = http.client.HTTPSConnection(
            "localhost", self.port, context=context, timeout=30
        )
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read().decode("utf-8")
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
        finally:
            connection.close()

    def remove(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        shutil.rmtree(self.directory, ignore_errors=True)
