"""The benchmark in smoke mode: every implementation runs and every count agrees."""

import os
import re
import subprocess
import sys

import pytest

from tests.support.servers import PROJECT_ROOT

pytestmark = [pytest.mark.processes, pytest.mark.usefixtures("real_services")]


def test_bench_smoke_runs_each_implementation_and_counts_agree():
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--database", "test_visits_bench"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "visits_project.settings"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    runs = re.findall(r"^round 1 +(\w+) c=(\d+) .* counts (\w+)$", result.stdout, re.MULTILINE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(runs) == sorted(
        (implementation, level, "agree")
        for implementation in ("visits", "ceiling", "exercise")
        for level in ("1", "16", "64")
    )
    assert result.stdout.rstrip().endswith(
        "Counts agree in every run: rows added = counter growth = successful responses."
    )
