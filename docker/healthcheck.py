"""
Docker HEALTHCHECK of the web container: healthy when /readyz answers 200, or
the path given as the only argument (the Swarm stack asks /healthz, so that an
outage of Redis or PostgreSQL, which the page answers for itself, does not get
every replica replaced).

Usage: python healthcheck.py [PATH]

Python rather than curl, which the image does not carry. The Host header is
one the app accepts (the first of DJANGO_ALLOWED_HOSTS), or Django would
answer 400 to a probe on 127.0.0.1 when the site is named otherwise.
"""

import http.client
import os
import sys


def probe_host() -> str:
    allowed = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")]
    for host in allowed:
        if host and host != "*":
            return host.lstrip(".")  # ".example.com" allows example.com itself
    return "localhost"


def main(path: str = "/readyz") -> int:
    port = int(os.environ.get("WEB_BIND", "0.0.0.0:8080").rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=4)
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
