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
import os
import sys

TIMEOUT_SECONDS = 4


def probe_host() -> str:
    allowed = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")]
    for host in allowed:
        if host and host != "*":
            return host.lstrip(".")  # ".example.com" allows example.com itself
    return "localhost"


def own_port() -> int:
    if port := os.environ.get("WEB_HEALTH_PORT", "").strip():
        return int(port)
    return int(os.environ.get("WEB_BIND", "0.0.0.0:8080").rsplit(":", 1)[1])


def main(path: str = "/healthz") -> int:
    connection = http.client.HTTPConnection("127.0.0.1", own_port(), timeout=TIMEOUT_SECONDS)
    try:
        connection.request("GET", path, headers={"Host": probe_host()})
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
