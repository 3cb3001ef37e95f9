"""
The benchmark in smoke mode: the sweep chooses a setting for every baseline, every
implementation runs, and every count agrees.
"""

import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from bench.__main__ import Run
from bench.profile import GUNICORN, HANDLER, by_layer, layer_of
from tests.support.debian_programs import require
from tests.support.servers import PROJECT_ROOT


@pytest.fixture
def wrk() -> None:
    """The load generator of every benchmark run."""
    require("wrk", packages="wrk", tests="benchmark tests")


@pytest.mark.processes
@pytest.mark.usefixtures("wrk")
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
    sweep = re.findall(
        r"^sweep +(\w+) c=16 .* counts (\w+)  \((.+)\)$", result.stdout, re.MULTILINE
    )
    chosen = re.findall(r"^  (\w+): fastest under (.+)$", result.stdout, re.MULTILINE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(runs) == sorted(
        (implementation, level, "agree")
        for implementation in ("visits", "ceiling", "typical", "exercise")
        for level in ("1", "16", "64")
    )
    # The smoke sweeps the first two settings of each.
    gunicorn = [
        "gthread, 2 workers of 8 threads, no keep-alive",
        "gthread, 2 workers of 8 threads, keep-alive 2 s",
    ]
    development_server = [
        "development server, a thread per request",
        "development server, up to 2 processes",
    ]
    assert sweep == [
        (implementation, "agree", setting)
        for implementation, settings in [
            ("visits", gunicorn), ("ceiling", gunicorn), ("typical", gunicorn),
            ("exercise", development_server),
        ]
        for setting in settings
    ]  # fmt: skip
    assert [name for name, _ in chosen] == ["visits", "ceiling", "typical", "exercise"]
    assert chosen[3][1] in development_server
    assert all(setting in gunicorn for _, setting in chosen[:3])
    assert result.stdout.rstrip().endswith(
        "Counts agree in every run: requests sent = rows added = counter growth, "
        "and every response read was a success."
    )


def a_run(**changes):
    figures = {"sent": 100, "ok": 96, "rows_added": 100, "counter_growth": 100, "failed": 0}
    figures.update(errors=0, loads=1)
    figures.update(changes)
    return Run(
        implementation="visits", setting="as shipped", connections=4, requests_per_second=1.0,
        p50_ms=1.0, p99_ms=1.0, generator_cpu_share=0.1, **figures,
    )  # fmt: skip


def test_counts_agree_when_every_request_sent_is_one_row_and_one_visit():
    assert a_run().counts_agree
    # A warm-up run of wrk may leave as many more unread.
    assert a_run(loads=2, ok=92).counts_agree


@pytest.mark.parametrize(
    "changes",
    [
        {"rows_added": 99},  # a request sent left no row
        {"counter_growth": 101},  # a visit counted twice
        {"ok": 95},  # more unread than there were connections
        {"ok": 91, "loads": 2},
        {"ok": 101},  # more successes than requests
        {"failed": 1},
        {"errors": 1},
    ],
)
def test_counts_disagree_when_anything_is_lost_or_doubled(changes):
    assert not a_run(**changes).counts_agree


@pytest.mark.parametrize(
    ("leaf_frames", "layer"),
    [
        # Time in a library is the library's, whoever called it.
        (["index (visits/views.py:40)", "Cursor.execute (psycopg/cursor.py:97)"], "psycopg"),
        # Django's URL helpers count for the middleware that called them.
        (
            ["AdminNetworkMiddleware.__call__ (visits/middleware.py:60)",
             "reverse (django/urls/base.py:64)"],
            "middleware: AdminNetworkMiddleware",
        ),
        (
            ["MiddlewareMixin.__call__ (django/utils/deprecation.py:118)",
             "CSPMiddleware.process_response (csp/middleware.py:83)",
             "asdict (dataclasses.py:1290)"],
            "middleware: CSPMiddleware",
        ),
        (["MiddlewareMixin.__call__ (django/utils/deprecation.py:118)"], HANDLER),
        (["ThreadWorker.handle (gunicorn/workers/gthread.py:553)"], GUNICORN),
        # gunicorn's start_response, called by Django's handler, is gunicorn's.
        (
            ["WSGIHandler.__call__ (django/core/handlers/wsgi.py:131)",
             "Response.start_response (gunicorn/http/wsgi.py:350)"],
            GUNICORN,
        ),
        (["_worker (concurrent/futures/thread.py:83)"], GUNICORN),
    ],
)  # fmt: skip
def test_profile_gives_each_sample_to_its_innermost_layer(leaf_frames, layer):
    stack = ";".join(
        ['process 1:"python -m gunicorn"', "Thread.run (threading.py:982)", *leaf_frames]
    )
    assert layer_of(stack) == layer


def test_profile_shares_samples_out_by_layer():
    samples = Counter(
        {
            "a (psycopg/a.py:1)": 3,
            "b (redis/b.py:2)": 1,
        }
    )
    assert by_layer(samples) == {"psycopg": 0.75, "redis-py and django-redis": 0.25}


@pytest.mark.processes
@pytest.mark.usefixtures("wrk")
def test_profile_under_load_writes_its_figures_and_flame_graph(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench.profile", "--seconds", "1", "--output", str(tmp_path),
         "--database", "test_visits_profile"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads((tmp_path / "profile-visits.json").read_text())
    layers = figures["microseconds_per_page_view"]
    assert {"psycopg", "redis-py and django-redis", GUNICORN, HANDLER} <= set(layers)
    assert {"PostgreSQL (server)", "Redis (server)", "wrk (load generator)"} <= set(layers)
    assert all(microseconds > 0 for microseconds in layers.values())
    assert figures["page_views"] > 0
    assert (tmp_path / "flamegraph.svg").read_text().startswith("<?xml")


@pytest.mark.processes
@pytest.mark.usefixtures("wrk")
def test_triggers_measures_each_variant_against_the_migrated_one():
    result = subprocess.run(
        [sys.executable, "-m", "bench.triggers", "--rounds", "1", "--seconds", "1",
         "--clients", "2", "--database", "test_visits_triggers"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    medians = re.findall(r"^  (.+?) +\d+ statements/s +([\d.]+)x$", result.stdout, re.MULTILINE)
    assert [name for name, _ in medians] == [
        "as migrated",
        "without the hourly counts",
        "one slot, without the hourly counts",
        "no trigger",
    ]
    assert medians[0][1] == "1.00"
