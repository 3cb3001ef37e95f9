"""
deploy/swarm's files agree with each other and with the code, read as Docker and
HAProxy read them: the ports, the certificate's path, the networks web trusts and
is scraped from, and the Prometheus job the alert rules expect. The container
suite (tests/stack/test_swarm.py) runs the stack itself.
"""

import re

import pytest
import yaml

from tests.support.servers import PROJECT_ROOT

SWARM = PROJECT_ROOT / "deploy" / "swarm"
# ${NAME:-default} in the stack file: the default, as docker stack deploy reads it unset.
DEFAULT = re.compile(r"\$\{\w+:-([^}]*)\}")


@pytest.fixture(scope="module")
def stack() -> dict:
    return yaml.safe_load(DEFAULT.sub(r"\1", (SWARM / "stack.yaml").read_text()))


@pytest.fixture(scope="module")
def haproxy() -> str:
    return (SWARM / "haproxy.cfg").read_text()


def config_target(stack: dict, service: str, config: str) -> str:
    (target,) = [
        entry["target"] for entry in stack["services"][service]["configs"]
        if entry["source"] == config
    ]  # fmt: skip
    return target


def test_proxy_publishes_the_ports_haproxy_binds_and_redirects_to_the_published_https_port(
    stack, haproxy
):
    proxy = stack["services"]["proxy"]
    binds = re.findall(r"^\s+bind :(\d+)", haproxy, re.MULTILINE)
    published = {port["target"]: str(port["published"]) for port in proxy["ports"]}

    assert sorted(published) == sorted(int(port) for port in binds) == [8080, 8443]
    assert published == {8080: "80", 8443: "443"}
    assert str(proxy["environment"]["VISITS_HTTPS_PORT"]) == published[8443]
    assert '"${VISITS_HTTPS_PORT}"' in haproxy
    assert proxy["deploy"]["mode"] == "global"


def test_proxy_reads_the_certificate_from_the_secret_as_its_own_user(stack, haproxy):
    (secret,) = stack["services"]["proxy"]["secrets"]
    (certificate,) = re.findall(r"ssl crt (\S+)", haproxy)

    assert certificate == f"/run/secrets/{secret['target']}"
    assert (secret["uid"], secret["gid"], secret["mode"]) == ("99", "99", 0o400)
    assert stack["secrets"][secret["source"]]["file"].endswith("/tls.pem")


def test_web_serves_https_and_trusts_and_is_scraped_from_the_stacks_network_alone(stack):
    web = stack["services"]["web"]["environment"]
    (subnet,) = [entry["subnet"] for entry in stack["networks"]["visits"]["ipam"]["config"]]

    assert web["DJANGO_HTTPS"] == "true"
    assert int(web["DJANGO_HSTS_SECONDS"]) > 0
    assert web["DJANGO_TRUSTED_PROXIES"] == web["DJANGO_METRICS_ALLOWED_NETWORKS"] == subnet


def test_prometheus_scrapes_web_as_job_visits_and_loads_the_alert_rules(stack):
    prometheus = yaml.safe_load((SWARM / "prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    (discovery,) = job["dns_sd_configs"]
    alert_rules = stack["configs"]["alert_rules"]["file"]
    rules_text = (SWARM / alert_rules).read_text()

    assert job["job_name"] == "visits"
    assert 'job="visits"' in rules_text
    assert discovery["names"] == ["tasks.web"]
    assert discovery["port"] == 8080
    assert prometheus["rule_files"] == [config_target(stack, "prometheus", "alert_rules")]
    assert (
        config_target(stack, "prometheus", "prometheus_yml")
        in stack["services"]["prometheus"]["command"][0]
    )
