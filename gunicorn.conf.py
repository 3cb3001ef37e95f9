"""
gunicorn settings for the visits service, each overridable from the environment.

WEB_BIND (host:port, default 127.0.0.1:8080; the image sets 0.0.0.0:8080),
WEB_HEALTH_PORT, WEB_REUSE_PORT, WEB_CONCURRENCY (workers, gunicorn's own
convention), WEB_THREADS, WEB_WORKER_CLASS, WEB_KEEPALIVE, WEB_TIMEOUT,
WEB_GRACEFUL_TIMEOUT, WEB_LOG_LEVEL, and WEB_REQUEST_TIMEOUT (read by the worker
class, serving/request_buffering.py). Each is read by visits_project/env.py,
and a bad value, here or in Django's settings, stops gunicorn with one line.
"""

import logging
import os
import runpy
import secrets
import shutil
import tempfile
from pathlib import Path

# gunicorn puts its working directory (--chdir, by default the current one) on
# sys.path before it reads this file; `make run`, the image (WORKDIR /app) and the
# tests all start it from the project's root, so serving and visits_project are found.
from serving.logs import ACCESS_LOG_FORMAT, LOG_FORMATS, logging_config
from visits_project.env import (
    env_bool,
    env_choice,
    env_int,
    env_networks,
    env_str,
    exit_on_bad_configuration,
    web_bind,
    web_health_port,
    web_request_timeout,
)

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

# gunicorn prints a traceback for any error raised while it reads this file; a
# bad value must instead stop it with the one line manage.py gives.
with exit_on_bad_configuration():
    wsgi_app = "visits_project.wsgi:application"
    bind = ["{}:{}".format(*web_bind())]
    # A loopback port of this server's alone, for its own health check: with
    # WEB_REUSE_PORT, WEB_BIND's port may be answered by another server sharing it.
    # (Not a Unix socket: Linux refuses SO_REUSEPORT on those, and gunicorn then fails.)
    if health_port := web_health_port():
        bind.append(f"127.0.0.1:{health_port}")
    # SO_REUSEPORT, so that a new server can listen on WEB_BIND's port before the old
    # one stops (docker/up's handover); off by default, so that a second server
    # started by mistake fails instead of silently sharing the port.
    reuse_port = env_bool("WEB_REUSE_PORT", False)

    # Worker processes: WEB_CONCURRENCY is gunicorn's own variable, which it reads
    # before gunicorn.conf.py, so it is a whole number or left out (an empty value
    # stops gunicorn with a traceback). Threads let one worker overlap the waits on
    # PostgreSQL and Redis; several workers use both cores. Chosen by measurement
    # with keep-alive below (the figures are in docs/benchmark.md, "What the
    # measurements decided"): 2 workers of 8 threads served the most at 16 and at
    # 64 clients; gthread keeps a slow client from holding a whole worker.
    workers = env_int("WEB_CONCURRENCY", 2, minimum=1)
    # gthread, except that requests are read in the worker's event loop, so slow
    # clients hold no thread; WEB_REQUEST_TIMEOUT bounds how long one may take. It
    # is read by each worker, and here too so that a bad value stops the server.
    worker_class = env_str("WEB_WORKER_CLASS", "serving.request_buffering.RequestBufferingWorker")
    web_request_timeout()
    # Threads in each worker, each serving one request at a time (8: measured with
    # WEB_CONCURRENCY's 2).
    threads = env_int("WEB_THREADS", 8, minimum=1)

    # Seconds a worker may go without a sign of life before gunicorn kills and
    # replaces it.
    timeout = env_int("WEB_TIMEOUT", 30)
    # On SIGTERM, workers finish the requests in flight within this many seconds.
    graceful_timeout = env_int("WEB_GRACEFUL_TIMEOUT", 20)
    # Seconds a connection is kept open for another request; 0 closes it after each
    # response. A kept-alive connection saves the client and the worker a new
    # connection per request. It stays with the worker that accepted it, which with fewer
    # threads than connections left one worker busy while another idled; with 8
    # threads a worker, keeping connections alive served more (docs/benchmark.md).
    keepalive = env_int("WEB_KEEPALIVE", 2)

    # X-Forwarded-Proto (https behind a TLS proxy) is believed from the same proxies
    # whose X-Forwarded-For the app reads; from no one when DJANGO_TRUSTED_PROXIES is unset.
    forwarded_allow_ips = ",".join(
        str(network) for network in env_networks("DJANGO_TRUSTED_PROXIES")
    )

    accesslog = "-"
    errorlog = "-"
    # The least severe of gunicorn's own lines that are written: debug, info, warning,
    # error or critical (its access log is written whatever it is).
    loglevel = env_choice("WEB_LOG_LEVEL", "info", _LOG_LEVELS)
    # The same lines as Django's (serving/logs.py): stdout, UTC, text or JSON.
    access_log_format = ACCESS_LOG_FORMAT
    logconfig_dict = logging_config(
        env_choice("DJANGO_LOG_FORMAT", "text", LOG_FORMATS),
        "INFO",
        gunicorn_level=loglevel.upper(),
    )

    # Each worker reads Django's settings as it boots, where a bad value would
    # end it with a traceback and gunicorn with "Worker failed to boot": read
    # them here first (run, not imported, so the workers still read their own).
    runpy.run_module("visits_project.settings")

# The runtime control socket is not used, and in a container $HOME may not be writable.
control_socket_disable = True
# Workers' heartbeat files in memory, not on a container's overlay disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


_SECRET_KEY_VARIABLES = ("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY_FILE")


def on_starting(server) -> None:
    """Share one secret key and one metrics folder among all workers."""
    log = logging.getLogger("gunicorn.error")
    _prepare_metrics_folder()
    # A key from DJANGO_SECRET_KEY_FILE is the settings' to read (and to check).
    if not any(env_str(name) for name in _SECRET_KEY_VARIABLES):
        os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
        log.warning(
            "DJANGO_SECRET_KEY is not set; generated one for this run, so sessions and "
            "admin logins will not survive a restart."
        )


# Set by on_starting when the folder is gunicorn's own, to be removed on exit.
_OWN_METRICS_FOLDER = "VISITS_OWN_METRICS_FOLDER"


def _prepare_metrics_folder() -> None:
    """
    Each worker writes its Prometheus samples to files in PROMETHEUS_MULTIPROC_DIR
    (visits/metrics.py), which must start empty: a folder of our own in memory,
    or the one given, emptied of the files a previous run left there.
    """
    # prometheus_client's folder for the workers' samples; unset, one of gunicorn's own
    # in memory, removed when it exits.
    given = env_str("PROMETHEUS_MULTIPROC_DIR")
    if given:
        for leftover in Path(given).glob("*.db"):
            leftover.unlink()
        return
    folder = tempfile.mkdtemp(prefix="visits-metrics-", dir=worker_tmp_dir)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ[_OWN_METRICS_FOLDER] = folder


def on_exit(server) -> None:
    if own := os.environ.get(_OWN_METRICS_FOLDER):
        shutil.rmtree(own, ignore_errors=True)
