"""compose.yaml: the stack on one host under Docker Compose (v2, or Debian's v1)."""

import functools
import os
import subprocess
from pathlib import Path

import pytest

from devservices.servers import free_port
from tests.stack.docker_cli import COUNTED, PageViews, docker, inspect, wait_healthy
from tests.support.servers import PROJECT_ROOT, fetch

PROJECT = "visits-test-compose"
MIB = 1024 * 1024
# Per service: CPU limit, process limit, capabilities added back after dropping all.
CONFINEMENT = {
    "db": (1.0, 128, ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"]),
    "cache": (0.5, 32, []),
    "web": (1.5, 128, []),
}


@functools.cache
def compose_program() -> tuple[str, ...]:
    """`docker compose` where the plugin is installed, else Compose v1."""
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return ("docker", "compose") if plugin.returncode == 0 else ("docker-compose",)


class ComposeProject:
    """compose.yaml run under the suite's own project name, port, image and secrets."""

    def __init__(self, secrets_dir, port: int):
        self.port = port
        self.environment = {
            **os.environ,
            "VISITS_PORT": str(port),
            "VISITS_SECRETS_DIR": str(secrets_dir),
            "VISITS_WEB_IMAGE": f"{PROJECT}-web",
        }

    def run(self, *arguments: str, stdin=None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*compose_program(), "--project-name", PROJECT, "--file", "compose.yaml", *arguments],
            cwd=PROJECT_ROOT,
            stdin=stdin,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )

    def containers(self) -> dict[str, str]:
        """The project's containers, by service, with their state."""
        listing = docker(
            "ps", "--all", "--filter", f"label=com.docker.compose.project={PROJECT}",
            "--format", '{{.Label "com.docker.compose.service"}} {{.State}}',
        )  # fmt: skip
        return dict(line.split(" ", 1) for line in listing.splitlines())

    def container(self, service: str) -> str:
        """The name of the service's container (v1 and v2 name them differently)."""
        return docker(
            "ps", "--all", "--filter", f"label=com.docker.compose.project={PROJECT}",
            "--filter", f"label=com.docker.compose.service={service}", "--format", "{{.Names}}",
        )  # fmt: skip


@pytest.fixture
def compose_project(tmp_path):
    """A Compose project named visits-test-compose, removed with its volumes afterwards."""
    project = ComposeProject(tmp_path / "secrets", free_port())
    project.run("down", "--volumes")  # what an interrupted run left behind
    yield project
    project.run("down", "--volumes")
    docker("image", "rm", f"{PROJECT}-web", check=False)


def test_compose_file_is_accepted_by_compose(compose_project):
    result = compose_project.run("config", "--quiet")

    assert (result.returncode, result.stderr) == (0, "")


def test_compose_without_secrets_refuses_to_start_db_and_web_naming_the_file(
    compose_project, tmp_path
):
    (tmp_path / "secrets").mkdir()

    result = compose_project.run("up", "--detach")

    assert result.returncode != 0
    assert f"bind source path does not exist: {tmp_path}/secrets/db_password" in result.stderr
    assert "db" not in compose_project.containers()
    assert "web" not in compose_project.containers()


def test_compose_up_serves_one_then_two_with_the_stack_limits(compose_project, tmp_path):
    subprocess.run([PROJECT_ROOT / "docker" / "make-secrets", tmp_path / "secrets"], check=True)

    result = compose_project.run("up", "--detach")
    assert result.returncode == 0, result.stderr
    web = compose_project.container("web")
    wait_healthy(web)
    first = fetch(compose_project.port, "/")
    second = fetch(compose_project.port, "/")

    assert first.body == "Banco PostgreSQL tem 1 registros. Redis conta 1 visitas."
    assert second.body == "Banco PostgreSQL tem 2 registros. Redis conta 2 visitas."
    assert compose_project.containers() == {
        "db": "running",
        "cache": "running",
        "db-setup": "exited",
        "web": "running",
    }
    assert inspect(compose_project.container("db-setup"))["State"]["ExitCode"] == 0
    assert {
        service: inspect(compose_project.container(service))["HostConfig"]["Memory"] // MIB
        for service in ("db", "cache", "web")
    } == {"db": 192, "cache": 64, "web": 256}
    assert inspect(web)["HostConfig"]["PortBindings"] == {
        "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(compose_project.port)}]
    }
    cache = compose_project.container("cache")
    assert docker("exec", cache, "redis-cli", "ping") == "NOAUTH Authentication required."
    assert docker(
        "exec", cache, "sh", "-c",
        'REDISCLI_AUTH="$(cat /run/secrets/cache_password)" redis-cli config get appendonly',
    ) == "appendonly\nyes"  # fmt: skip
    for service, (cpus, pids, capabilities) in CONFINEMENT.items():
        host = inspect(compose_project.container(service))["HostConfig"]
        assert (host["ReadonlyRootfs"], host["CapDrop"], host["SecurityOpt"]) == (
            True,
            ["ALL"],
            ["no-new-privileges:true"],
        ), service
        assert sorted(cap.removeprefix("CAP_") for cap in host["CapAdd"] or []) == capabilities
        assert (host["NanoCpus"] / 1e9, host["PidsLimit"]) == (cpus, pids), service
        assert host["LogConfig"] == {
            "Type": "json-file",
            "Config": {"max-file": "3", "max-size": "10m"},
        }, service


def documented_compose_commands() -> list[str]:
    """The shell commands of docs/operations.md's "With Docker Compose", one an entry."""
    page = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    section = page.split("### With Docker Compose", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    lines = block.replace("\\\n", "").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def run_documented(project: ComposeProject, command: str, folder: Path) -> None:
    """COMMAND as the doc gives it, run by bash in FOLDER for the suite's project."""
    result = subprocess.run(
        ["bash", "-c", command.replace("docker compose ", " ".join(compose_program()) + " ")],
        cwd=folder,
        env={
            **project.environment,
            "COMPOSE_PROJECT_NAME": PROJECT,
            "COMPOSE_FILE": str(PROJECT_ROOT / "compose.yaml"),
        },
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"{command}\nexited {result.returncode}:\n{result.stderr}"


def rows_in(project: ComposeProject, backup: Path) -> int:
    """The accesses in BACKUP, read from the archive itself (its COPY block's lines)."""
    with backup.open("rb") as archive:
        result = project.run(
            "exec", "-T", "--user", "postgres", "db",
            "pg_restore", "--data-only", "--table=visits_access", "--file=-", stdin=archive,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("COPY public.visits_access"))
    return lines.index("\\.", start) - start - 1


def compose_counts(project: ComposeProject) -> tuple[int, int]:
    """Records one visit and returns the (accesses, visits) the page showed for it."""
    reply = fetch(project.port, "/")
    assert reply.status == 200, reply.body
    match = COUNTED.fullmatch(reply.body)
    assert match, reply.body
    return int(match.group(1)), int(match.group(2))


def start_compose_stack(project: ComposeProject) -> None:
    result = project.run("up", "--detach")
    assert result.returncode == 0, result.stderr
    wait_healthy(project.container("web"))


def test_compose_documented_backup_and_restore_continue_the_counts_from_the_backup(
    compose_project, tmp_path
):
    """
    The doc's Compose backup, taken while 4 clients view the page and restored with the doc's
    commands on the project started anew, gives a page whose two numbers go on from the backup's.
    """
    backup, *restore = documented_compose_commands()
    subprocess.run([PROJECT_ROOT / "docker" / "make-secrets", tmp_path / "secrets"], check=True)
    start_compose_stack(compose_project)
    for _ in range(50):
        compose_counts(compose_project)
    with PageViews(compose_project.port) as views:
        before = len(views.statuses)
        run_documented(compose_project, backup, tmp_path)
        after = len(views.statuses)
    statuses = views.statuses
    rows = rows_in(compose_project, tmp_path / "visits.dump")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["secrets", "visits.dump"]
    compose_project.run("down", "--volumes")
    start_compose_stack(compose_project)

    for command in restore:
        run_documented(compose_project, command, tmp_path)
        if command.startswith("docker compose start web"):
            wait_healthy(compose_project.container("web"))
    views = [compose_counts(compose_project) for _ in range(100)]

    assert "pg_dump" in backup
    assert set(statuses) == {200}
    assert after > before  # page views went on while the backup ran
    assert 50 + 20 <= rows <= 50 + len(statuses)
    assert views == [(rows + n, rows + n) for n in range(1, 101)]
