"""The Makefile's `make help` (what `make` alone prints): a line for every target."""

import re
import shutil
import subprocess

import pytest

from tests.support.servers import PROJECT_ROOT


def phony_targets() -> set[str]:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    return {
        target
        for line in re.findall(r"^\.PHONY:(.*)$", makefile, re.MULTILINE)
        for target in line.split()
    }


def test_make_alone_lists_every_target_once():
    if shutil.which("make") is None:
        pytest.fail("make is missing: apt-get install make.")
    listing = subprocess.run(
        ["make", "--no-print-directory"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = re.findall(r"^make (\S+)", listing, re.MULTILINE)

    assert sorted(listed) == sorted(phony_targets())
