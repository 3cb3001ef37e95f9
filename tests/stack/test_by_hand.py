"""docs/deployment.md's by-hand commands, run exactly as a reader would paste them."""

import re
import shlex

import pytest

from tests.stack.docker_cli import docker, inspect, wait_healthy
from tests.support.servers import PROJECT_ROOT, fetch

NAMES = [
    ("container", "visits-db"),
    ("container", "visits-cache"),
    ("container", "visits-web"),
    ("network", "visits-net"),
    ("volume", "visits-pgdata"),
    ("volume", "visits-redisdata"),
    ("image", "visits-web"),
]


def by_hand_commands() -> list[str]:
    page = (PROJECT_ROOT / "docs" / "deployment.md").read_text()
    block = re.search(r"<!-- by-hand:start -->\n```sh\n(.*?)```\n<!-- by-hand:end -->", page, re.S)
    return block.group(1).splitlines()


@pytest.fixture
def default_names_free():
    """docker/up's default names: refuse to run beside a stack the suite did not make."""
    taken = [f"{kind} {name}" for kind, name in NAMES if inspect(name, kind) is not None]
    if taken:
        pytest.fail(
            f"The by-hand test needs the default names, but {', '.join(taken)} already "
            "exist(s) and are not the suite's to remove; docker/down --volumes removes a "
            "stack of yours, or run on another engine."
        )
    yield
    docker("rm", "--force", "visits-web", "visits-cache", "visits-db", check=False)
    docker("network", "rm", "visits-net", check=False)
    docker("volume", "rm", "visits-pgdata", "visits-redisdata", check=False)
    docker("image", "rm", "visits-web", check=False)


def test_by_hand_commands_serve_one_then_two(default_names_free):
    commands = by_hand_commands()
    for command in commands:
        docker(*shlex.split(command)[1:], cwd=PROJECT_ROOT)
    wait_healthy("visits-web")

    first = fetch(8080, "/", headers={"Host": "localhost:8080"})
    second = fetch(8080, "/", headers={"Host": "localhost:8080"})

    assert len(commands) == 7
    # Nothing that only one shell understands: no line continuations, no substitutions.
    assert [c for c in commands if not c.startswith("docker ") or re.search(r"[\\`$]", c)] == []
    assert first.body == "Banco PostgreSQL tem 1 registros. Redis conta 1 visitas."
    assert second.body == "Banco PostgreSQL tem 2 registros. Redis conta 2 visitas."
