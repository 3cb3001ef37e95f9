"""The exercise's own command lines (../shared/seed), run as written against our image."""

import shlex

import pytest

from tests.stack.docker_cli import docker, inspect, wait_healthy
from tests.support.servers import PROJECT_ROOT, fetch

SEED_COMMANDS = [
    "docker build -t desafio3-web .",
    "docker network create minha-rede",
    "docker run -d --name db --network minha-rede -e POSTGRES_PASSWORD=postgres "
    "-e POSTGRES_DB=meubanco -v pgdata:/var/lib/postgresql/data postgres:15",
    "docker run -d --name cache --network minha-rede redis:7",
    "docker run -d --name web --network minha-rede -p 8080:8080 -e DB_HOST=db "
    "-e DB_NAME=meubanco -e DB_USER=postgres -e DB_PASS=postgres -e CACHE_HOST=cache "
    "desafio3-web",
]
SEED_CLEANUP = [
    "docker stop web db cache",
    "docker rm web db cache",
    "docker network rm minha-rede",
    "docker volume rm pgdata",
]


@pytest.fixture
def seed_names_free():
    """The seed's names are global: refuse to run beside anything already using them."""
    taken = [
        f"{kind} {name}"
        for kind, name in [
            ("container", "db"),
            ("container", "cache"),
            ("container", "web"),
            ("network", "minha-rede"),
            ("volume", "pgdata"),
            ("image", "desafio3-web"),
        ]
        if inspect(name, kind) is not None
    ]
    if taken:
        pytest.fail(
            f"The seed test needs the exercise's names, but {', '.join(taken)} already "
            "exist(s) and are not the suite's to remove; remove them, or run on another engine."
        )
    anonymous_volumes: list[str] = []
    yield anonymous_volumes
    for command in SEED_CLEANUP:
        docker(*shlex.split(command)[1:], check=False)
    for volume in anonymous_volumes:
        docker("volume", "rm", volume, check=False)
    docker("image", "rm", "desafio3-web", check=False)


def test_seed_commands_as_written_serve_one_then_two(seed_names_free):
    for command in SEED_COMMANDS:
        docker(*shlex.split(command)[1:], cwd=PROJECT_ROOT)
    # The redis image declares a volume for /data; the seed's cleanup leaves it behind.
    seed_names_free.extend(
        mount["Name"] for mount in inspect("cache")["Mounts"] if mount["Type"] == "volume"
    )

    # Healthy once gunicorn answers /healthz: after the entrypoint found db and cache.
    wait_healthy("web")
    first = fetch(8080, "/", headers={"Host": "localhost:8080"})
    second = fetch(8080, "/", headers={"Host": "localhost:8080"})

    assert first.body == "Banco PostgreSQL tem 1 registros. Redis conta 1 visitas."
    assert second.body == "Banco PostgreSQL tem 2 registros. Redis conta 2 visitas."
