"""
A newcomer's first hour on a machine with Python 3.11 and make alone: in the
python image plus make, as a user who is not root, a fresh clone of the
committed HEAD serves the page with `make run` (the server wheels' PostgreSQL
and Redis) and passes `make test`, where the only skips are of tests that need a
program Debian has and PyPI does not.
"""

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.stack.docker_cli import COUNTED, docker, inspect
from tests.support.servers import PROJECT_ROOT

NAME = "visits-test-python-only"
BASE_IMAGE = "python:3.11-slim-bookworm"
USER = "newcomer"
CHECKOUT = f"/home/{USER}/visits"
# make, and the host's extra CAs, without which this network lets no TLS through
# to PyPI; a user of its own, as PostgreSQL refuses to run as root.
DOCKERFILE = f"""\
FROM {BASE_IMAGE}
COPY extra-ca/ /usr/local/share/ca-certificates/
RUN apt-get update \\
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
       ca-certificates make \\
    && update-ca-certificates \\
    && rm -rf /var/lib/apt/lists/* \\
    && useradd --create-home {USER}
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt
USER {USER}
COPY --chown={USER} visits/ {CHECKOUT}/
WORKDIR {CHECKOUT}
"""
SKIPPED = re.compile(r"^SKIPPED \[\d+\] \S+: (.*)$", re.MULTILINE)
SUMMARY = re.compile(r"^=+ (\d+ (?:passed|failed).* in [\d.]+s.*?) =+$", re.MULTILINE)
# The lines that say which server programs ran, and what lint could not do.
SAID = (
    "Using the server wheels'",
    "DB_HOST is not set",
    "CACHE_HOST is not set",
    "pip-audit skipped:",
    "axe-core not installed:",
)
RUN_SECONDS = 600
TEST_SECONDS = 1800


def remove_ours() -> None:
    docker("rm", "--force", NAME, check=False)
    if inspect(NAME, "image"):
        docker("rmi", NAME)


@pytest.fixture
def newcomer(tmp_path):
    """A container of the python image plus make, holding a clone of HEAD; removed afterwards."""
    remove_ours()  # what an interrupted run left behind
    context = tmp_path / "context"
    (context / "extra-ca").mkdir(parents=True)
    for certificate in Path("/usr/local/share/ca-certificates").glob("*.crt"):
        shutil.copy(certificate, context / "extra-ca")
    subprocess.run(
        ["git", "clone", "--quiet", PROJECT_ROOT, context / "visits"], check=True, timeout=120
    )
    (context / "Dockerfile").write_text(DOCKERFILE)
    try:
        docker("build", "--quiet", "--tag", NAME, str(context), timeout=600)
        docker("run", "--detach", "--name", NAME, NAME, "sleep", "infinity")
        yield NAME
    finally:
        remove_ours()


def in_container(script: str, *, timeout: float) -> subprocess.CompletedProcess:
    """SCRIPT run by bash in the checkout, as the newcomer."""
    return subprocess.run(
        ["docker", "exec", NAME, "bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def page(port: int = 8080) -> str:
    """The page's text, asked for inside the container; empty while nothing answers."""
    fetch = (
        "import urllib.request as r; "
        f"print(r.urlopen('http://127.0.0.1:{port}/', timeout=10).read().decode(), end='')"
    )
    return in_container(f'python3 -c "{fetch}" 2>/dev/null', timeout=30).stdout


def wait_for_page(seconds: float) -> str:
    """The first page view's text, once make run serves; the run's log if it never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text := page():
            return text
        time.sleep(2)
    log = in_container("cat /tmp/run.log", timeout=30).stdout
    raise AssertionError(f"make run served nothing within {seconds} seconds:\n{log}")


def test_python_only_machine_serves_with_make_run_and_passes_make_test(newcomer):
    started = time.monotonic()
    # setsid: make run's whole process group stops as with Ctrl-C.
    in_container(
        "setsid bash -c 'echo $$ >/tmp/run.pid; exec make run >/tmp/run.log 2>&1' &", timeout=30
    )
    pages = [wait_for_page(RUN_SECONDS), page()]
    in_container('kill -INT -- -"$(cat /tmp/run.pid)"', timeout=30)
    served = time.monotonic()
    run_log = in_container(
        "for _ in $(seq 60); do [[ -e /proc/$(cat /tmp/run.pid) ]] || break; sleep 1; done; "
        "cat /tmp/run.log",
        timeout=90,
    ).stdout
    tested = in_container("make test", timeout=TEST_SECONDS)
    finished = time.monotonic()

    announced = [
        line
        for line in run_log.splitlines() + tested.stderr.splitlines() + tested.stdout.splitlines()
        if line.startswith(SAID) or "starting a throwaway" in line
    ]
    print("\n" + "\n".join(announced))
    skips = SKIPPED.findall(tested.stdout)
    print("\n".join(skips))
    print(*SUMMARY.findall(tested.stdout)[-1:])
    print(
        f"make run served after {served - started:.0f} s; make test took {finished - served:.0f} s"
    )
    assert re.search(r"^Using the server wheels' PostgreSQL 18\.\d+ ", run_log, re.MULTILINE)
    counted = [match.groups() if (match := COUNTED.fullmatch(text)) else text for text in pages]
    assert counted == [("1", "1"), ("2", "2")]
    assert tested.returncode == 0, tested.stdout[-6000:] + tested.stderr[-3000:]
    # What a machine with Python alone may skip: what needs a program of Debian's.
    assert [reason for reason in skips if "apt-get install " not in reason] == []
