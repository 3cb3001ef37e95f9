"""
The soak test (tests/stack/soak.py) on a stack of its own: 90 seconds here,
SOAK_SECONDS=300 with `make soak`, which also writes the timeline to
SOAK_TIMELINE and prints the figures.
"""

import os
from pathlib import Path

import pytest

from tests.stack import soak, soak_timeline
from tests.stack.docker_cli import running_stack

PREFIX = "visits-test-soak"
CLIENTS = 32


@pytest.fixture
def soak_stack():
    with running_stack(PREFIX) as stack:
        yield stack


def test_soak_under_faults_loses_nothing_and_counts_each_visit_once(soak_stack):
    seconds = float(os.environ.get("SOAK_SECONDS", "90"))

    run = soak.soak(soak_stack, seconds, CLIENTS)
    found = soak.stored(soak_stack)

    print(f"\n{soak.summary(run, found)}")
    if timeline := os.environ.get("SOAK_TIMELINE"):
        Path(timeline).parent.mkdir(parents=True, exist_ok=True)
        Path(timeline).write_text(soak_timeline.render(run))
    scheduled = [name for name, _, _ in soak.Faults(soak_stack).schedule()]
    assert [fault.name for fault in run.faults] == scheduled
    assert sum(outcome.kind == "counted" for outcome in run.outcomes) > 0
    problems = soak.reconcile(run, found)
    print("\n".join(problems))
    assert problems == []
