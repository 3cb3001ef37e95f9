"""Logs (serving/logs.py): one time zone in every line, and JSON lines on request."""

import datetime
import json
import re
import time

import pytest

pytestmark = pytest.mark.processes

UTC = datetime.UTC
TEXT_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (DEBUG|INFO|WARNING|ERROR) ")


def recent(moment: str) -> bool:
    when = datetime.datetime.fromisoformat(moment)
    return abs(datetime.datetime.now(UTC) - when) < datetime.timedelta(minutes=2)


def test_text_logs_of_master_and_workers_all_carry_utc_times(gunicorn):
    server = gunicorn()
    server.get("/")
    server.stop()

    lines = server.log().splitlines()
    times = [TEXT_LINE.match(line) for line in lines]

    assert all(times), [line for line, time in zip(lines, times, strict=True) if not time]
    assert all(recent(time.group(1)) for time in times)
    loggers = {line.split(" ")[2] for line in lines}
    assert {"gunicorn.error:", "gunicorn.access:"} <= loggers
    assert any('"GET / HTTP/1.1" 200' in line for line in lines)


def test_json_logs_are_one_object_per_line_with_the_access_log_in_fields(gunicorn):
    server = gunicorn(DJANGO_LOG_FORMAT="json")
    started = time.monotonic()
    reply = server.get("/", headers={"User-Agent": "log-test"})
    server.get("/missing")
    server.stop()
    # gunicorn times a request until it logs it, which may come after the client has read
    # the answer: the bound is the time until gunicorn has exited, every line written.
    waited_ms = (time.monotonic() - started) * 1000

    records = [json.loads(line) for line in server.log().splitlines()]
    accesses = [record for record in records if record["logger"] == "gunicorn.access"]
    page = next(record for record in accesses if record["path"] == "/")

    assert all(recent(record["time"]) and record["time"].endswith("Z") for record in records)
    assert {record["logger"] for record in records} >= {"gunicorn.error", "gunicorn.access"}
    assert {key: page[key] for key in ("level", "client", "method", "query", "status")} == {
        "level": "INFO",
        "client": "127.0.0.1",
        "method": "GET",
        "query": "",
        "status": 200,
    }
    assert page["user_agent"] == "log-test"
    assert page["bytes"] == len(reply.body.encode())
    assert 0 <= page["duration_ms"] <= waited_ms
    assert [record["status"] for record in accesses if record["path"] == "/missing"] == [404]
