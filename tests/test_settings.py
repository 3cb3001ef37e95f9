"""visits_project/settings.py: start-up configuration, most of it read through manage.py."""

import re

import pytest
from django.db import connection

from tests.support.commands import manage
from tests.support.database import session_timeouts

STRONG_KEY = "k3y-for-tests-only-" + "abcdefghijklmnopqrstuvwxyz0123456789"


def check_ids(output: str) -> list[str]:
    return sorted(set(re.findall(r"^\?: \(([\w.]+)\) ", output, flags=re.MULTILINE)))


@pytest.mark.processes
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
        (
            "DJANGO_TRUSTED_PROXIES",
            "10.0.0.1/8",
            "is not a list of networks (10.0.0.1/8 has host bits set); write them as "
            "10.0.0.0/8,127.0.0.1, or unset it.",
        ),
        (
            "DJANGO_LOG_FORMAT",
            "xml",
            "is not one of text, json; set it to one of them, or unset it.",
        ),
        ("DB_LOCK_TIMEOUT", "0", "is not a positive number of seconds; correct it or unset it."),
    ],
)
def test_settings_malformed_value_stops_start_up_naming_variable(variable, value, problem):
    result = manage("check", **{variable: value})

    assert result.returncode == 1
    assert result.stderr == f"Configuration error: {variable}={value!r} {problem}\n"


@pytest.mark.processes
def test_settings_deploy_check_reports_only_https_items():
    result = manage("check", "--deploy", "--fail-level", "ERROR", DJANGO_SECRET_KEY=STRONG_KEY)

    reported = check_ids(result.stderr)
    assert result.returncode == 0
    assert reported == ["security.W004", "security.W008", "security.W012", "security.W016"]


@pytest.mark.processes
def test_settings_https_mode_clears_the_https_items_but_hsts():
    result = manage("check", "--deploy", DJANGO_SECRET_KEY=STRONG_KEY, DJANGO_HTTPS="true")

    reported = check_ids(result.stderr)
    assert reported == ["security.W004"]


@pytest.mark.processes
def test_settings_https_with_hsts_pass_the_deploy_check_clean():
    result = manage(
        "check", "--deploy", DJANGO_SECRET_KEY=STRONG_KEY, DJANGO_HTTPS="true",
        DJANGO_HSTS_SECONDS="31536000", DJANGO_HSTS_INCLUDE_SUBDOMAINS="true",
        DJANGO_HSTS_PRELOAD="true",
    )  # fmt: skip

    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "System check identified no issues (0 silenced).\n",
        "",
    )


def settings_value(expression: str, **environment: str) -> str:
    """The value of a settings expression as manage.py sees it, or its error line."""
    command = f"from django.conf import settings; print({expression})"
    result = manage("shell", "--no-imports", "--command", command, **environment)
    return result.stdout.strip() or result.stderr.strip()


@pytest.mark.processes
def test_settings_secrets_read_from_files_drop_the_trailing_newline(tmp_path):
    (tmp_path / "db_pass").write_text("pass word from a file\n")
    (tmp_path / "secret_key").write_text(STRONG_KEY + "\r\n")
    (tmp_path / "cache_pass").write_text("redis-secret")

    value = settings_value(
        "settings.DATABASES['default']['PASSWORD'], settings.SECRET_KEY, "
        "settings.CACHES['default']['OPTIONS']['PASSWORD'], settings.SECRET_KEY_FROM_ENVIRONMENT",
        DB_PASS="",
        DB_PASS_FILE=str(tmp_path / "db_pass"),
        DJANGO_SECRET_KEY="",
        DJANGO_SECRET_KEY_FILE=str(tmp_path / "secret_key"),
        CACHE_PASS_FILE=str(tmp_path / "cache_pass"),
    )

    assert value == f"pass word from a file {STRONG_KEY} redis-secret True"


@pytest.mark.processes
@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot be read (No such file or directory); point it at a readable file "
               "holding the secret."),
        ("\n", "names an empty file; write the secret into it or unset DB_PASS_FILE."),
        (b"\xff\xfe", "cannot be read (it is not UTF-8 text); point it at a readable file "
                      "holding the secret."),
    ],
)  # fmt: skip
def test_settings_unusable_secret_file_stops_start_up_naming_variable(tmp_path, content, problem):
    path = tmp_path / "db_pass"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)

    result = manage("check", DB_PASS="", DB_PASS_FILE=str(path))

    assert result.returncode == 1
    assert result.stderr == f"Configuration error: DB_PASS_FILE={str(path)!r} {problem}\n"


@pytest.mark.processes
def test_settings_secret_and_its_file_both_set_stop_start_up(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text(STRONG_KEY)

    result = manage("check", DJANGO_SECRET_KEY=STRONG_KEY, DJANGO_SECRET_KEY_FILE=str(path))

    assert result.returncode == 1
    assert result.stderr == (
        "Configuration error: Both DJANGO_SECRET_KEY and DJANGO_SECRET_KEY_FILE are set; "
        "keep one of them and unset the other.\n"
    )


@pytest.mark.processes
def test_settings_retired_proxy_count_stops_start_up_naming_its_successor():
    result = manage("check", DJANGO_TRUSTED_PROXY_COUNT="1")

    assert result.returncode == 1
    assert result.stderr == (
        "Configuration error: DJANGO_TRUSTED_PROXY_COUNT is no longer read; name your proxies' "
        "networks in DJANGO_TRUSTED_PROXIES instead (e.g. 10.0.0.0/8).\n"
    )


def test_page_connection_gives_up_on_slow_queries_lock_waits_and_a_silent_network(db):
    assert session_timeouts() == ("5s", "2s")
    connection.ensure_connection()
    parameters = connection.connection.info.get_parameters()
    network = {name: parameters[name] for name in ("tcp_user_timeout", "keepalives_idle")}
    assert network == {"tcp_user_timeout": "3000", "keepalives_idle": "1"}
