"""
What the benchmark compares: the implementations, the server settings each is
swept over, and how each is started.
"""

import sys
from dataclasses import dataclass

from bench.servers import Scratch, Server
from devservices.servers import free_port

DESCRIPTIONS = {
    "visits": "this project: Django under gunicorn, gunicorn.conf.py as shipped",
    "ceiling": "framework-free WSGI app, the page's work in one statement and an INCR",
    "typical": "a typical Django version: ORM create and count(), cache.incr",
    "exercise": "the exercise: Flask's development server, connection per request, COUNT(*)",
    "visits-gthread": "visits with gunicorn's plain gthread worker, which slow clients can hold",
    "visits-json": "visits with DJANGO_LOG_FORMAT=json",
    "visits-unobserved": "visits without the metrics middleware (bench/settings_unobserved.py)",
    "visits-unpooled": "visits with DB_POOL_SIZE=0: a persistent connection for each thread",
    "visits-pool-4": "visits with DB_POOL_SIZE=4: each worker's threads share four connections",
}
# Compared side by side in every round, and the subject of the targets.
COMPARED = ["visits", "ceiling", "typical", "exercise"]
# Where each implementation's WSGI application is, for those gunicorn serves alone.
APPLICATIONS = {
    "ceiling": "bench.baselines.ceiling:application",
    "typical": "bench.baselines.typical.wsgi:application",
}
# What each variant of the project changes, by environment.
VARIANT_ENVIRONMENTS = {
    "visits-gthread": {"WEB_WORKER_CLASS": "gthread"},
    "visits-json": {"DJANGO_LOG_FORMAT": "json"},
    "visits-unobserved": {"DJANGO_SETTINGS_MODULE": "bench.settings_unobserved"},
    "visits-unpooled": {"DB_POOL_SIZE": "0"},
    "visits-pool-4": {"DB_POOL_SIZE": "4"},
}


@dataclass(frozen=True)
class Setting:
    """
    How a server runs an implementation: gunicorn's worker class ("gthread" or
    "sync"), workers, threads and keep-alive seconds (0: a connection closes after
    its response); or, for the exercise, the development server's processes.
    """

    worker_class: str
    workers: int = 1
    threads: int = 1
    keepalive: int = 0

    def __str__(self) -> str:
        if self.worker_class == "development server":
            if self.workers == 1:
                return "development server, a thread per request"
            return f"development server, up to {self.workers} processes"
        if self.worker_class == "sync":
            return f"sync, {self.workers} workers"
        keepalive = f"keep-alive {self.keepalive} s" if self.keepalive else "no keep-alive"
        return f"gthread, {self.workers} workers of {self.threads} threads, {keepalive}"


# The sweep: every gunicorn-served implementation is measured under each of these,
# and then runs under the fastest. gunicorn's own default keep-alive is 2 s.
GUNICORN_SETTINGS = [
    Setting("gthread", 2, 8, 0),
    Setting("gthread", 2, 8, 2),
    Setting("gthread", 3, 4, 0),
    Setting("gthread", 3, 4, 2),
    Setting("sync", 3),
    Setting("sync", 4),
    Setting("sync", 6),
]
DEVELOPMENT_SERVER_SETTINGS = [
    Setting("development server", 1),
    Setting("development server", 2),
    Setting("development server", 4),
]


def settings_to_sweep(implementation: str) -> list[Setting]:
    if implementation == "exercise":
        return DEVELOPMENT_SERVER_SETTINGS
    return GUNICORN_SETTINGS


def start(
    scratch: Scratch, implementation: str, setting: Setting | None, web_env: dict[str, str]
) -> Server:
    """
    Starts IMPLEMENTATION under SETTING; the project (visits and its variants)
    with SETTING None runs with gunicorn.conf.py's own settings, as shipped.
    """
    port = free_port()
    environment = scratch.environment(implementation, port)
    if implementation == "exercise":
        command = [sys.executable, "-m", "bench.baselines.exercise"]
        environment["EXERCISE_PROCESSES"] = str(setting.workers if setting else 1)
    elif implementation in APPLICATIONS:
        # gunicorn's own defaults (no access log) but for the setting; the
        # application names its own Django settings, if any.
        setting = setting or GUNICORN_SETTINGS[0]
        environment.pop("DJANGO_SETTINGS_MODULE", None)
        command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
        command += [f"--worker-class={setting.worker_class}", f"--workers={setting.workers}"]
        command += [f"--threads={setting.threads}", f"--keep-alive={setting.keepalive}"]
        command.append(APPLICATIONS[implementation])
    else:
        command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
        environment.update(web_env)
        environment.update(VARIANT_ENVIRONMENTS.get(implementation, {}))
        if setting:
            environment.update(_project_environment(setting))
    server = Server(implementation, command, environment, port, scratch.log_dir)
    server.start()
    return server


def _project_environment(setting: Setting) -> dict[str, str]:
    """SETTING in gunicorn.conf.py's variables; its gthread is the project's own worker."""
    environment = {
        "WEB_CONCURRENCY": str(setting.workers),
        "WEB_THREADS": str(setting.threads),
        "WEB_KEEPALIVE": str(setting.keepalive),
    }
    if setting.worker_class == "sync":
        environment["WEB_WORKER_CLASS"] = "sync"
    return environment
