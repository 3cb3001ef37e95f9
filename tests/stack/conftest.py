"""
The container suite touches only what it creates: its stacks are named
visits-test-*, labelled, and removed only through docker/down, which refuses
anything unlabelled.
"""

import pytest

from tests.servers import free_port
from tests.stack.docker_cli import Stack

PREFIX = "visits-test-stack"


@pytest.fixture(scope="session")
def stack():
    """A running stack, shared by the tests; each reads the counts it starts from."""
    running = Stack(PREFIX, free_port())
    running.down(volumes=True)  # what an interrupted run left behind
    running.up()
    yield running
    running.down(volumes=True)
