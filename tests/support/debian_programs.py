"""
Programs some tests need that Debian's packages bring and PyPI's wheels do not:
on a machine without one, those tests skip in one line that says what to install;
under CI, which must run every test, they fail instead.
"""

import os
import shutil

import pytest


def require(*programs: str, packages: str, tests: str) -> None:
    """Skips (fails under CI) the calling test unless every one of PROGRAMS is on PATH."""
    missing = [program for program in programs if shutil.which(program) is None]
    if not missing:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the {tests}: apt-get install {packages}.")
    pytest.skip(
        f"NO {tests.upper()}: {' and '.join(missing)} not found on PATH; "
        f"apt-get install {packages} to run them."
    )
