"""`make run` with DB_HOST and CACHE_HOST unset: PostgreSQL and Redis of its own (devservices)."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from devservices.servers import free_port, postgres_answers, redis_answers, wait_until
from tests.support.servers import PROJECT_ROOT, fetch

pytestmark = pytest.mark.processes

VENV = Path(sys.executable).parent.parent


@pytest.fixture
def run_folder():
    """make run's VISITS_RUN_DIR, which PostgreSQL's system user may enter."""
    folder = Path(tempfile.mkdtemp(prefix="visits-test-run-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def make_run(run_folder: Path, log_folder: Path, name: str, stop_with: signal.Signals):
    """
    Runs `make run` with no DB_, CACHE_, DJANGO_ or WEB_ variable but the port,
    asks for the page in Portuguese, then in English, and stops it with
    STOP_WITH; its exit status, its standard error and the two pages.
    """
    port = free_port()
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DB_", "CACHE_", "DJANGO_", "WEB_"))
    }
    environment.update(WEB_BIND=f"127.0.0.1:{port}", VISITS_RUN_DIR=str(run_folder))
    with (
        (log_folder / f"{name}.out").open("wb") as out,
        (log_folder / f"{name}.err").open("wb") as err,
    ):
        # A session of its own stands for the terminal's foreground group, which Ctrl-C signals.
        process = subprocess.Popen(
            ["make", "run", f"VENV={VENV}"],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            wait_until(lambda: fetch(port, "/healthz").status == 200, "make run", seconds=120)
            pages = (
                fetch(port, "/").body,
                fetch(port, "/", headers={"Accept-Language": "en"}).body,
            )
        finally:
            os.killpg(process.pid, stop_with)
            status = process.wait(timeout=60)
    return status, (log_folder / f"{name}.err").read_text(), pages


def announced_ports(stderr: str, run_folder: Path) -> tuple[int, int]:
    """
    The ports of make run's two announcement lines, which must open its standard
    error, after the line naming the server wheels where the machine has no programs.
    """
    folder = re.escape(str(run_folder))
    announced = re.match(
        r"(?:Using the server wheels' .*\n)?"
        rf"DB_HOST is not set; starting PostgreSQL on 127\.0\.0\.1:(?P<postgres>\d+) "
        rf"with its data in {folder}/postgresql\.\n"
        rf"CACHE_HOST is not set; starting Redis on 127\.0\.0\.1:(?P<redis>\d+) "
        rf"with its data in {folder}/redis\.\n",
        stderr,
    )
    assert announced, stderr
    return int(announced["postgres"]), int(announced["redis"])


def servers_running_in(folder: Path) -> list[str]:
    """The command lines of the processes that name FOLDER (postgres -D, redis-server --dir)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            arguments = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        if str(folder) in arguments and "make" not in arguments:
            found.append(arguments)
    return found


def test_make_run_without_db_and_cache_hosts_serves_from_its_own_servers_and_keeps_them(
    run_folder, tmp_path
):
    first_status, first_stderr, first_pages = make_run(run_folder, tmp_path, "first", signal.SIGINT)
    first_ports = announced_ports(first_stderr, run_folder)
    assert first_pages == (
        "Banco PostgreSQL tem 1 registros. Redis conta 1 visitas.",
        "PostgreSQL database has 2 records. Redis counts 2 visits.",
    )
    assert first_status == -signal.SIGINT
    assert (
        postgres_answers("127.0.0.1", first_ports[0]),
        redis_answers("127.0.0.1", first_ports[1]),
    ) == (False, False)
    assert servers_running_in(run_folder) == []

    second_status, second_stderr, second_pages = make_run(
        run_folder, tmp_path, "second", signal.SIGTERM
    )
    second_ports = announced_ports(second_stderr, run_folder)
    assert second_pages == (
        "Banco PostgreSQL tem 3 registros. Redis conta 3 visitas.",
        "PostgreSQL database has 4 records. Redis counts 4 visits.",
    )
    assert second_status == -signal.SIGTERM
    assert (
        postgres_answers("127.0.0.1", second_ports[0]),
        redis_answers("127.0.0.1", second_ports[1]),
    ) == (False, False)
    assert servers_running_in(run_folder) == []
    assert sorted(path.name for path in run_folder.iterdir()) == ["postgresql", "redis"]
