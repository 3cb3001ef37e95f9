"""The web image: who it runs as, what it holds, how big it is, how it builds."""

import os
import shutil
import subprocess

import pytest

from tests.stack.docker_cli import docker, inspect
from tests.support.servers import PROJECT_ROOT

BASE_IMAGE = "python:3.11-slim-bookworm"
MB = 1_000_000


def test_image_runs_as_non_root_user(stack):
    assert inspect(stack.image, "image")["Config"]["User"] == "10001:10001"
    assert docker("run", "--rm", "--entrypoint", "id", stack.image) == (
        "uid=10001(visits) gid=10001(visits) groups=10001(visits)"
    )
    assert docker("exec", stack.web, "id", "-u") == "10001"


def test_image_holds_no_secret(stack):
    environment = inspect(stack.image, "image")["Config"]["Env"]
    names = {entry.split("=", 1)[0] for entry in environment}
    shipped = docker("run", "--rm", "--entrypoint", "ls", stack.image, "-A", "/app", "/app/docker")

    assert not names & {"DB_PASS", "DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "CACHE_PASS"}
    assert shipped.split("\n\n") == [
        "/app:\ndocker\ngunicorn.conf.py\nmanage.py\nserving\nstaticfiles\nvisits\nvisits_project",
        "/app/docker:\nentrypoint\nhealthcheck.py",
    ]


def test_image_adds_at_most_100_mb_to_its_base(stack):
    added = inspect(stack.image, "image")["Size"] - inspect(BASE_IMAGE, "image")["Size"]

    print(f"\nweb image: {added / MB:.1f} MB on top of {BASE_IMAGE}")
    assert added <= 100 * MB


@pytest.mark.skipif(
    not shutil.which("docker", path="/usr/bin"),
    reason="BuildKit is checked with Debian's docker client (/usr/bin/docker), not installed here",
)
def test_image_builds_with_buildkit_too():
    tag = "visits-test-stack-buildkit"
    result = subprocess.run(
        ["/usr/bin/docker", "build", "--quiet", "--tag", tag, "."],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    docker("image", "rm", tag, check=False)

    assert result.returncode == 0, result.stderr


def test_image_entrypoint_gives_up_on_missing_database_naming_what_to_fix(stack):
    unreachable = [
        "--env",
        "DB_HOST=visits-test-nowhere",
        "--env",
        "CACHE_HOST=visits-test-nowhere",
    ]
    result = subprocess.run(
        ["docker", "run", "--rm", *unreachable, "--env", "WAIT_TIMEOUT=2", stack.image],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr.startswith("CommandError: PostgreSQL did not answer within 2 seconds (")
    assert result.stderr.endswith(
        "); check that it runs at visits-test-nowhere:5432 as DB_HOST and DB_PORT say, "
        "and that DB_NAME, DB_USER and DB_PASS match it.\n"
    )
