"""
The container suite touches only what it creates: its stacks are named
visits-test-*, labelled, and removed only through docker/down, which refuses
anything unlabelled.
"""

import pytest

from tests.stack.docker_cli import running_stack

PREFIX = "visits-test-stack"


@pytest.fixture(scope="session")
def stack():
    """A running stack, shared by the tests; each reads the counts it starts from."""
    with running_stack(PREFIX) as running:
        yield running
