"""
Docker HEALTHCHECK of the web container: healthy when /healthz answers 200
(liveness: gunicorn answers, whatever PostgreSQL and Redis are doing, since
Docker and Swarm act on health by replacing the container), or the path given
as the only argument: docker/up asks /readyz before it sends traffic there.

Usage: python healthcheck.py [PATH]

It asks this container's own gunicorn on WEB_HEALTH_PORT when that is set, as
docker/up sets it: during its handover two containers share the published
port, and either might answer there. Otherwise WEB_BIND's port.
Python rather than curl, which the image does not carry. The Host header is
one the app accepts (the first of DJANGO_ALLOWED_HOSTS), or Django would
answer 400 to a probe when the site is named otherwise.
"""

import http.client
import sys
from pathlib import Path

# Run as a script from docker/, it finds the project's packages one folder up
# (/app in the image). It shares gunicorn's readers of the environment rather
# than importing Django's settings, which would make each check several times slower.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from visits_project.env import (
    allowed_hosts,
    exit_on_bad_configuration,
    web_bind,
    web_health_port,
)

TIMEOUT_SECONDS = 4


def probe_host() -> str:
    for host in allowed_hosts():
        if host != "*":
            return host.lstrip(".")  # ".example.com" allows example.com itself
    return "localhost"


def own_port() -> int:
    return web_health_port() or web_bind()[1]


def main(path: str = "/healthz") -> int:
    with exit_on_bad_configuration():
        port, host = own_port(), probe_host()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("GET", path, headers={"Host": host})
        status = connection.getresponse().status
    except OSError as error:
        print(f"unhealthy: {error}")
        return 1
    finally:
        connection.close()
    print(f"{path} answered {status}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
