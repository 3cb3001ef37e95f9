"""Start-up configuration, checked through manage.py as an operator runs it."""

import os
import re
import subprocess
import sys

import pytest

from tests.servers import PROJECT_ROOT

STRONG_KEY = "k3y-for-tests-only-" + "abcdefghijklmnopqrstuvwxyz0123456789"


def manage(*arguments: str, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=PROJECT_ROOT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=False,
    )


def check_ids(output: str) -> list[str]:
    return sorted(set(re.findall(r"^\?: \(([\w.]+)\) ", output, flags=re.MULTILINE)))


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        (
            "DJANGO_DEBUG",
            "maybe",
            "is not a boolean; set it to one of 0, 1, false, no, off, on, true, yes, or unset it.",
        ),
        ("DB_PORT", "five", "is not a whole number of at least 1; correct it or unset it."),
        ("CACHE_TIMEOUT", "-1", "is not a positive number of seconds; correct it or unset it."),
    ],
)
def test_settings_malformed_value_stops_start_up_naming_variable(variable, value, problem):
    result = manage("check", **{variable: value})

    assert result.returncode == 1
    assert result.stderr == f"Configuration error: {variable}={value!r} {problem}\n"


def test_settings_without_secret_key_warn_that_sessions_will_not_survive():
    result = manage("check", DJANGO_SECRET_KEY="")

    assert result.returncode == 0
    assert "visits.W001" in result.stderr
    assert "DJANGO_SECRET_KEY is not set, so a random key was generated" in result.stderr


def test_settings_deploy_check_reports_only_https_items():
    result = manage("check", "--deploy", "--fail-level", "ERROR", DJANGO_SECRET_KEY=STRONG_KEY)

    reported = check_ids(result.stderr)
    assert result.returncode == 0
    assert reported == ["security.W004", "security.W008", "security.W012", "security.W016"]


def test_settings_https_mode_clears_the_https_items_but_hsts():
    result = manage("check", "--deploy", DJANGO_SECRET_KEY=STRONG_KEY, DJANGO_HTTPS="true")

    reported = check_ids(result.stderr)
    assert reported == ["security.W004"]
