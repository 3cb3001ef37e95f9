"""Several web containers starting together against one empty database."""

import threading

import pytest

from tests.stack.docker_cli import LABEL_KEY, docker, labelled, wait_healthy

PREFIX = "visits-test-trio"
WEBS = [f"{PREFIX}-web-{number}" for number in (1, 2, 3)]


@pytest.fixture
def empty_database(stack):
    """A database and a cache of this test's own, on a network of its own."""
    label = f"{LABEL_KEY}={PREFIX}"
    network, db, cache = f"{PREFIX}-net", f"{PREFIX}-db", f"{PREFIX}-cache"
    docker("network", "create", "--label", label, network)
    docker(
        "run", "--detach", "--name", db, "--label", label, "--network", network,
        "--network-alias", "db", "--env", "POSTGRES_PASSWORD=trio-password",
        "--env", "POSTGRES_DB=visits", "--health-cmd", "pg_isready -h 127.0.0.1 -U postgres",
        "--health-interval", "1s", "postgres:15",
    )  # fmt: skip
    docker(
        "run", "--detach", "--name", cache, "--label", label, "--network", network,
        "--network-alias", "cache", "redis:7",
    )  # fmt: skip
    wait_healthy(db)
    yield network, db
    for container in labelled("container", PREFIX):
        docker("rm", "--force", "--volumes", container)
    docker("network", "rm", network)


def test_three_web_containers_started_together_all_become_healthy_migrating_once(
    stack, empty_database
):
    network, db = empty_database

    def start(name: str) -> None:
        docker(
            "run", "--detach", "--name", name, "--label", f"{LABEL_KEY}={PREFIX}",
            "--network", network, "--env", "DB_HOST=db", "--env", "DB_NAME=visits",
            "--env", "DB_PASS=trio-password", "--env", "CACHE_HOST=cache", stack.image,
        )  # fmt: skip

    starters = [threading.Thread(target=start, args=(name,)) for name in WEBS]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join()
    wait_healthy(*WEBS)

    applied, distinct = docker(
        "exec", "--user", "postgres", db, "psql", "--dbname", "visits", "--tuples-only",
        "--no-align", "--field-separator", " ", "--command",
        "SELECT count(*), count(DISTINCT (app, name)) FROM django_migrations",
    ).split()  # fmt: skip
    migrated_by = [name for name in WEBS if "Applying visits.0001_initial" in docker("logs", name)]
    assert int(applied) == int(distinct)
    assert int(applied) > 0
    assert len(migrated_by) == 1
    assert "visits.0001_initial" in docker(
        "exec", WEBS[0], "python", "manage.py", "showmigrations", "--plan", "visits"
    )
