"""Running the management commands: in the test's process, or in a process of their own."""

import os
import subprocess
import sys

from django.core.management import call_command

from tests.support.servers import PROJECT_ROOT


def output_of(command: str, capsys) -> str:
    """What COMMAND prints, run without arguments."""
    call_command(command)
    return capsys.readouterr().out


def manage(*arguments: str, **environment: str) -> subprocess.CompletedProcess:
    """manage.py run as an operator runs it, with extra environment, to its end."""
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=PROJECT_ROOT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=False,
    )
