"""
One logging setup for Django and for gunicorn: every line on stdout, its time
in UTC, whichever process writes it, as text or, with DJANGO_LOG_FORMAT=json,
one JSON object per line.

gunicorn's master runs without Django, and Django sets the process's time zone
(TIME_ZONE) in each worker, so times formatted in local time came out in two
zones in one stream. Every formatter here writes UTC.
"""

import logging
import time
from collections.abc import Mapping
from typing import Any

from pythonjsonlogger.json import JsonFormatter

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# gunicorn's access line without its own local-time timestamp: the formatter adds one.
ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'


def utc_time(record: logging.LogRecord) -> str:
    """ISO 8601 in UTC with milliseconds: 2026-11-28T07:02:11.123Z."""
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return utc_time(record)


class JSONFormatter(JsonFormatter):
    """
    time, level, logger and message, plus the request's fields for gunicorn's
    access log, which hands them over as its message's arguments.
    """

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return utc_time(record)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            log_data.update(access_fields(record.args))


def access_fields(atoms: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of gunicorn's access-log atoms an operator filters on."""
    return {
        "client": atoms["h"],
        "method": atoms["m"],
        "path": atoms["U"],
        "query": atoms["q"],
        "status": int(atoms["s"]),
        "bytes": 0 if atoms["B"] in (None, "-") else int(atoms["B"]),
        "duration_ms": int(atoms["M"]),
        "user_agent": atoms["a"],
    }


def logging_config(
    log_format: str, level: str, *, gunicorn_level: str | None = None
) -> dict[str, Any]:
    """
    A dictConfig for Django's LOGGING; with gunicorn_level, for gunicorn's
    logconfig_dict, its own two loggers included.
    """
    formatter: dict[str, object]
    if log_format == "json":
        formatter = {"()": JSONFormatter}
    else:
        formatter = {"()": TextFormatter, "fmt": TEXT_FORMAT}
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": formatter},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "line",
            },
        },
        "root": {"handlers": ["stdout"], "level": level},
        # Not django-axes' banner at every start of every command; its lockouts, yes.
        "loggers": {"axes.apps": {"level": "WARNING"}},
    }
    if gunicorn_level is not None:
        for name, logger_level in (("gunicorn.error", gunicorn_level), ("gunicorn.access", "INFO")):
            config["loggers"][name] = {
                "handlers": ["stdout"],
                "level": logger_level,
                "propagate": False,
            }
    return config
