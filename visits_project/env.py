"""
Typed, strict readers for the environment variables that configure the project:
Django's settings, gunicorn.conf.py, docker/healthcheck.py and the commands all
read the environment through them, and a bad value is always the same one-line
ImproperlyConfigured, which exit_on_bad_configuration turns into the end of the process.
"""

import ipaddress
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_secret(name: str) -> str:
    """
    A secret from NAME, or from the file that NAME_FILE names: Docker and
    Kubernetes hand secrets over as files, as the postgres image's
    POSTGRES_PASSWORD_FILE does. Trailing newlines of the file are dropped.
    """
    file_variable = f"{name}_FILE"
    path = env_str(file_variable)
    if not path:
        return env_str(name)
    if env_str(name):
        raise ImproperlyConfigured(
            f"Both {name} and {file_variable} are set; keep one of them and unset the other."
        )
    try:
        value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "it is not UTF-8 text"
        raise ImproperlyConfigured(
            f"{file_variable}={path!r} cannot be read ({reason}); "
            f"point it at a readable file holding the secret."
        ) from None
    if not value.strip():
        raise ImproperlyConfigured(
            f"{file_variable}={path!r} names an empty file; write the secret into it "
            f"or unset {file_variable}."
        )
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name)
    if not raw:
        return default
    value = raw.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; set it to one of "
        f"{', '.join(sorted(_TRUE | _FALSE))}, or unset it."
    )


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env_str(name)
    if not raw:
        return default
    if raw.lower() not in choices:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not one of {', '.join(choices)}; set it to one of them, "
            "or unset it."
        )
    return raw.lower()


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = env_str(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a whole number of at least {minimum}; correct it or unset it."
        )
    return value


def env_float(name: str, default: float) -> float:
    raw = env_str(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a positive number of seconds; correct it or unset it."
        )
    return value


def env_milliseconds(name: str, default_seconds: float) -> int:
    """A positive number of seconds, in whole milliseconds (at least 1), as PostgreSQL takes it."""
    return max(1, round(env_float(name, default_seconds) * 1000))


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; empty items are dropped."""
    raw = env_str(name)
    if not raw:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """A comma-separated list of IP networks (CIDRs; a bare address is a network of one)."""
    items = env_list(name, [])
    try:
        return [ipaddress.ip_network(item) for item in items]
    except ValueError as error:
        raise ImproperlyConfigured(
            f"{name}={env_str(name)!r} is not a list of networks ({error}); write them as "
            f"10.0.0.0/8,127.0.0.1, or unset it."
        ) from None


def env_address(name: str, default: str) -> tuple[str, int]:
    """A TCP address as host:port (an IPv6 host in brackets), split into its host and port."""
    raw = env_str(name) or default
    host, _, port = raw.rpartition(":")
    if not (host and port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a host:port address; write it as 0.0.0.0:8080, or unset it."
        )
    return host, int(port)


@contextmanager
def exit_on_bad_configuration() -> Iterator[None]:
    """
    Ends the process (status 1) with the one line of a configuration error, never
    a traceback: the value is the operator's to fix, and the line says how.
    """
    try:
        yield
    except ImproperlyConfigured as error:
        sys.exit(f"Configuration error: {error}")


# Values more than one process reads, so that each is read (and defaulted) in one place.


def allowed_hosts() -> list[str]:
    """Host names the site answers to: Django's ALLOWED_HOSTS, and the health check's Host."""
    return env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])


def web_bind() -> tuple[str, int]:
    """Where gunicorn listens; the health check asks there when there is no WEB_HEALTH_PORT."""
    return env_address("WEB_BIND", "127.0.0.1:8080")


def web_health_port() -> int:
    """A loopback port of this server's own for its health check; 0 for none."""
    return env_int("WEB_HEALTH_PORT", 0)


def web_request_timeout() -> int:
    """Seconds a request may take to arrive whole (serving/request_buffering.py)."""
    return env_int("WEB_REQUEST_TIMEOUT", 10, minimum=1)
