"""What docker/up gives each container, and what reaches it from outside: least privilege."""

import json

import pytest

from tests.stack.docker_cli import docker, inspect
from tests.support.slow_clients import SlowClients, probe_during

NANO = 1_000_000_000
JSON = {"Accept": "application/json"}
DB_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"]


@pytest.mark.parametrize(
    ("role", "cpus", "pids", "capabilities"),
    [
        ("db", 1.0, 128, DB_CAPABILITIES),
        ("cache", 0.5, 32, None),
        ("web", 1.5, 128, None),
        ("web_port", 0.1, 8, None),
    ],
)
def test_up_confines_each_container(stack, role, cpus, pids, capabilities):
    host = inspect(getattr(stack, role))["HostConfig"]

    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert sorted(cap.removeprefix("CAP_") for cap in host["CapAdd"] or []) == (capabilities or [])
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["NanoCpus"] / NANO == cpus
    assert host["PidsLimit"] == pids
    assert host["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-file": "3", "max-size": "10m"},
    }


def test_up_runs_cache_and_web_as_unprivileged_users(stack):
    assert docker("exec", stack.cache, "id", "-un") == "redis"
    assert docker("exec", stack.web, "id", "-u") == "10001"


def test_web_connects_to_postgresql_as_the_role_visits_not_a_superuser(stack):
    stack.get("/")

    sessions = docker(
        "exec", "--user", "postgres", stack.db, "psql", "--dbname", "visits", "--tuples-only",
        "--no-align", "--command",
        "SELECT DISTINCT usename, usesuper FROM pg_stat_activity JOIN pg_user USING (usename) "
        "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    )  # fmt: skip
    owner = docker(
        "exec", "--user", "postgres", stack.db, "psql", "--dbname", "visits", "--tuples-only",
        "--no-align", "--command",
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'visits'",
    )  # fmt: skip

    assert sessions == "visits|f"
    assert owner == "visits"


def test_redis_answers_only_with_its_password_which_no_process_list_shows(stack):
    password = next(
        line.removeprefix("CACHE_PASS=")
        for line in stack.env_files[1].read_text().splitlines()
        if line.startswith("CACHE_PASS=")
    )

    without = docker("exec", stack.cache, "redis-cli", "ping")
    processes = docker("top", stack.cache, "-o", "pid,args")

    assert without == "NOAUTH Authentication required."
    assert len(password) == 32
    assert password not in processes
    assert "redis-server" in processes
    # Redis rewrites its process title: the command Docker started is the place to look.
    assert password not in json.dumps(inspect(stack.cache)["Args"])


def test_slow_clients_leave_the_published_page_answering(stack):
    with SlowClients("127.0.0.1", stack.port, count=200):
        probes = probe_during("127.0.0.1", stack.port, ["/", "/healthz"], 20)

    for probe in probes:
        assert set(probe.statuses) == {200}, probe.path
        assert max(probe.latencies) < 1.0, probe.path
        print(f"docker/up {probe.path}: worst {max(probe.latencies) * 1000:.0f} ms")


def env_file_values(path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_up_over_an_install_from_before_the_role_hands_it_over_keeping_the_data(stack):
    """
    Before the role visits, web used the superuser's password and Redis had none: up
    gives web a role and Redis a password, replaces cache on its volume, and counting
    goes on where it was.
    """
    db_env, cache_env, web_env = stack.env_files
    before = json.loads(stack.get("/", headers=JSON).body)
    superuser_password = env_file_values(db_env)["POSTGRES_PASSWORD"]
    secret_key = env_file_values(web_env)["DJANGO_SECRET_KEY"]
    docker("stop", stack.web)
    psql = ["exec", "--user", "postgres", stack.db, "psql", "--dbname", "visits", "--command"]
    docker(*psql, "REASSIGN OWNED BY visits TO postgres; DROP OWNED BY visits")
    docker(*psql, "DROP ROLE visits")
    db_env.write_text(f"POSTGRES_PASSWORD={superuser_password}\n")
    web_env.write_text(f"DB_PASS={superuser_password}\nDJANGO_SECRET_KEY={secret_key}\n")
    cache_env.unlink()

    output = stack.up()
    reply = stack.get("/", headers=JSON)

    assert f"{stack.cache}'s settings changed: replacing it" in output
    assert reply.status == 200, reply.body
    after = json.loads(reply.body)
    assert (after["accesses"], after["visits"]) == (before["accesses"] + 1, before["visits"] + 1)
    assert env_file_values(web_env)["DJANGO_SECRET_KEY"] == secret_key
    assert env_file_values(web_env)["DB_PASS"] != superuser_password
    assert env_file_values(db_env)["DB_ADMIN_PASS"] == superuser_password
    owners = docker(*psql[:-1], "--tuples-only", "--no-align", "--command",
                    "SELECT DISTINCT relowner::regrole::text FROM pg_class "
                    "WHERE relnamespace = 'public'::regnamespace")  # fmt: skip
    assert owners == "visits"
