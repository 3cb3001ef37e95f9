"""The docker command line and the repository's stack scripts, driven from tests."""

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from devservices.servers import free_port
from tests.support.servers import PROJECT_ROOT, Reply, fetch

LABEL_KEY = "org.visits.stack"
COUNTED = re.compile(r"Banco PostgreSQL tem (\d+) registros\. Redis conta (\d+) visitas\.")


def docker(*arguments: str, check: bool = True, timeout: float = 600, cwd=None) -> str:
    result = subprocess.run(
        ["docker", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(arguments)} exited {result.returncode}:\n"
            f"{result.stdout}{result.stderr}"
        )
    return result.stdout.strip()


def inspect(name: str, kind: str = "container") -> dict | None:
    """The object called exactly NAME, or None (docker also matches IDs by prefix: "db")."""
    output = docker(kind, "inspect", name, check=False)
    if not output.startswith("[") or output == "[]":
        return None
    found = json.loads(output)[0]
    if kind == "image":
        tag = name if ":" in name else f"{name}:latest"
        return found if tag in found.get("RepoTags", []) else None
    return found if found["Name"].lstrip("/") == name else None


def labelled(kind: str, prefix: str) -> list[str]:
    """Names of the containers, networks or volumes carrying the stack label PREFIX."""
    listing = {
        "container": ["ps", "--all", "--format", "{{.Names}}"],
        "network": ["network", "ls", "--format", "{{.Name}}"],
        "volume": ["volume", "ls", "--format", "{{.Name}}"],
    }[kind]
    output = docker(*listing, "--filter", f"label={LABEL_KEY}={prefix}")
    return sorted(output.split())


def health(name: str) -> str:
    return docker("inspect", "--format", "{{.State.Health.Status}}", name, check=False)


def wait_healthy(*names: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    for name in names:
        while health(name) != "healthy":
            if time.monotonic() > deadline:
                logs = docker("logs", "--tail", "40", name, check=False)
                raise AssertionError(f"{name} is {health(name)!r}, not healthy:\n{logs}")
            time.sleep(0.5)


class Stack:
    """One visits stack run by docker/up and docker/down under its own prefix."""

    def __init__(self, prefix: str, port: int):
        self.prefix = prefix
        self.port = port
        self.db, self.cache, self.web = (f"{prefix}-{role}" for role in ("db", "cache", "web"))
        self.web_port = f"{prefix}-web-port"  # holds web's network namespace and port
        self.image = f"{prefix}-web"
        self.env_files = [
            PROJECT_ROOT / "docker" / f"{prefix}-{role}.env" for role in ("db", "cache", "web")
        ]

    def script(self, name: str, *arguments: str, expect_success: bool = True, **env) -> str:
        result = subprocess.run(
            [PROJECT_ROOT / "docker" / name, *arguments],
            env={
                **os.environ,
                "VISITS_PREFIX": self.prefix,
                "VISITS_PORT": str(self.port),
                "VISITS_WEB_IMAGE": self.image,
                **env,
            },
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        output = result.stdout + result.stderr
        assert (result.returncode == 0) == expect_success, (
            f"docker/{name} {' '.join(arguments)} exited {result.returncode}:\n{output}"
        )
        return output

    def up(self) -> str:
        return self.script("up")

    def down(self, *, volumes: bool = False) -> str:
        return self.script("down", *(["--volumes"] if volumes else []))

    def get(self, path: str = "/", **kwargs) -> Reply:
        return fetch(self.port, path, **kwargs)


def counts(stack: Stack) -> tuple[int, int]:
    """Records one visit and returns the (accesses, visits) the page showed for it."""
    reply = stack.get("/")
    assert reply.status == 200, reply.body
    match = COUNTED.fullmatch(reply.body)
    assert match, reply.body
    return int(match.group(1)), int(match.group(2))


@contextmanager
def running_stack(prefix: str) -> Iterator[Stack]:
    """A stack of its own, started from nothing and removed with its data afterwards."""
    stack = Stack(prefix, free_port())
    stack.down(volumes=True)  # what an interrupted run left behind
    stack.up()
    try:
        yield stack
    finally:
        stack.down(volumes=True)


class PageViews:
    """
    GET / on PORT from a few threads for as long as the block lasts, every status kept in
    order; the block starts once 20 have been answered, so that views flow all through it.
    """

    def __init__(self, port: int, *, threads: int = 4):
        self.port = port
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._view) for _ in range(threads)]

    def _view(self) -> None:
        while not self._stop.is_set():
            self.statuses.append(fetch(self.port, "/").status)

    def __enter__(self) -> "PageViews":
        for thread in self._threads:
            thread.start()
        while len(self.statuses) < 20:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
