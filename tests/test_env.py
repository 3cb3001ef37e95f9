"""visits_project/env.py: the readers every process reads the environment through."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from visits_project.env import (
    allowed_hosts,
    env_address,
    env_milliseconds,
    exit_on_bad_configuration,
    web_bind,
    web_health_port,
)


@pytest.mark.parametrize(
    ("raw", "address"),
    [
        ("0.0.0.0:8080", ("0.0.0.0", 8080)),
        ("[::]:8081", ("[::]", 8081)),
        ("localhost:65535", ("localhost", 65535)),
        ("  127.0.0.1:1 ", ("127.0.0.1", 1)),
    ],
)
def test_env_address_splits_host_and_port(monkeypatch, raw, address):
    monkeypatch.setenv("WEB_BIND", raw)

    assert env_address("WEB_BIND", "127.0.0.1:8080") == address


@pytest.mark.parametrize(
    "raw", ["8080", "localhost", ":8080", "host:", "host:0", "host:65536", "host:+80", "host:٨٠"]
)
def test_env_address_refuses_anything_but_host_and_port(monkeypatch, raw):
    monkeypatch.setenv("WEB_BIND", raw)

    with pytest.raises(ImproperlyConfigured) as raised:
        env_address("WEB_BIND", "127.0.0.1:8080")

    assert str(raised.value) == (
        f"WEB_BIND={raw!r} is not a host:port address; write it as 0.0.0.0:8080, or unset it."
    )


def test_env_milliseconds_rounds_seconds_to_at_least_one(monkeypatch):
    monkeypatch.setenv("DB_LOCK_TIMEOUT", "0.0001")
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT", "2.5")

    assert env_milliseconds("DB_LOCK_TIMEOUT", 2.0) == 1
    assert env_milliseconds("DB_STATEMENT_TIMEOUT", 5.0) == 2500


def test_shared_readers_unset_give_the_documented_defaults(monkeypatch):
    for name in ("DJANGO_ALLOWED_HOSTS", "WEB_BIND", "WEB_HEALTH_PORT"):
        monkeypatch.delenv(name, raising=False)

    assert allowed_hosts() == ["localhost", "127.0.0.1", "[::1]"]
    assert web_bind() == ("127.0.0.1", 8080)
    assert web_health_port() == 0


def test_exit_on_bad_configuration_ends_the_process_with_one_line():
    with pytest.raises(SystemExit) as raised, exit_on_bad_configuration():
        raise ImproperlyConfigured("X='y' is wrong; fix it.")

    assert raised.value.code == "Configuration error: X='y' is wrong; fix it."


def test_exit_on_bad_configuration_lets_other_errors_through():
    with pytest.raises(ValueError, match=r"^a bug$"), exit_on_bad_configuration():
        raise ValueError("a bug")
