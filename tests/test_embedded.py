"""`make run` on a machine with neither PostgreSQL nor Redis configured."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.servers import PROJECT_ROOT, fetch, free_port, wait_until


def test_make_run_without_services_serves_the_page_from_sqlite_and_local_memory(tmp_path):
    port = free_port()
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DB_", "CACHE_", "DJANGO_", "WEB_"))
    }
    environment.update(WEB_BIND=f"127.0.0.1:{port}", DB_SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    venv = Path(sys.executable).parent.parent
    log = (tmp_path / "make-run.log").open("wb")
    process = subprocess.Popen(
        ["make", "run", f"VENV={venv}"],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(lambda: fetch(port, "/healthz").status == 200, "make run", seconds=120)
        first = fetch(port, "/")
        second = fetch(port, "/", headers={"Accept-Language": "en"})
        ready = fetch(port, "/readyz")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()

    assert first.body == "Banco SQLite tem 1 registros. Memória local conta 1 visitas."
    assert second.body == "SQLite database has 2 records. Local memory counts 2 visits."
    assert ready.status == 200
    assert (tmp_path / "db.sqlite3").exists()
