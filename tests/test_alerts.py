"""
The Prometheus alerts of deploy/prometheus: valid and passing their unit tests under
promtool (Debian's prometheus), naming only metrics the service exposes, each saying
how urgent it is and what to do, tested both firing and silent, and listed in the
folder's README.
"""

import re
import subprocess

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from tests.support.debian_programs import require
from tests.support.servers import PROJECT_ROOT
from visits import metrics
from visits.models import Access

# promtool runs the rules and their tests.
pytestmark = pytest.mark.processes

RULES = "deploy/prometheus/alerts.yml"
RULE_TESTS = "deploy/prometheus/alerts.test.yml"
README = "deploy/prometheus/README.md"
SEVERITIES = {"page", "ticket"}
# The samples prometheus-client exposes for each type of metric, after its name.
SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
}


def rule_groups() -> list[dict]:
    return yaml.safe_load((PROJECT_ROOT / RULES).read_text())["groups"]


def alerts() -> list[dict]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def exposed_metric_names() -> set[str]:
    """Every sample name /metrics can show: the module's metrics and the drift, read now."""
    registered = {
        metric._name + suffix
        for metric in vars(metrics).values()
        if isinstance(metric, MetricWrapperBase)
        for suffix in SUFFIXES[metric._type]
    }
    drift = {family.name for family in metrics.DriftCollector().collect()}
    return registered | drift


@pytest.fixture
def promtool() -> str:
    require("promtool", packages="prometheus", tests="alert rule tests")
    return "promtool"


def run(*command: str) -> tuple[int, str, str]:
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    return result.returncode, result.stdout, result.stderr


def test_alert_rules_under_promtool_are_valid_and_pass_their_unit_tests(promtool):
    rules = sum(len(group["rules"]) for group in rule_groups())

    checked = run(promtool, "check", "rules", RULES)
    tested = run(promtool, "test", "rules", RULE_TESTS)

    assert checked == (0, f"Checking {RULES}\n  SUCCESS: {rules} rules found\n\n", "")
    assert tested == (0, f"Unit Testing:  {RULE_TESTS}\n  SUCCESS\n\n", "")


@pytest.mark.django_db
def test_alert_rules_name_only_metrics_the_service_exposes():
    # Stored and never counted: the counter is behind, so both drift gauges are read.
    Access.objects.create(user_agent="uncounted")
    used = {
        name
        for group in rule_groups()
        for rule in group["rules"]
        for name in re.findall(r"\bvisits_[a-z_]+", rule["expr"])
    }

    assert used  # a pattern that finds none would let any rule pass
    assert sorted(used - exposed_metric_names()) == []


def test_alerts_each_carry_a_severity_a_wait_a_summary_and_a_description():
    incomplete = [
        rule["alert"]
        for rule in alerts()
        if rule.get("labels", {}).get("severity") not in SEVERITIES
        or "for" not in rule
        or not rule.get("annotations", {}).get("summary")
        or not rule.get("annotations", {}).get("description")
    ]

    assert incomplete == []


def test_alerts_each_have_a_unit_test_that_fires_it_and_one_that_keeps_it_silent():
    fired, silent = set(), set()
    for group in yaml.safe_load((PROJECT_ROOT / RULE_TESTS).read_text())["tests"]:
        for case in group.get("alert_rule_test", []):
            (fired if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {rule["alert"] for rule in alerts()}

    assert (names - fired, names - silent) == (set(), set())
    # A test of a name no rule has passes whatever the rules do.
    assert (fired | silent) - names == set()


def test_alerts_readme_lists_each_alert_with_its_severity():
    listed = dict(
        re.findall(r"^\| `(\w+)` \| (\w+) \|", (PROJECT_ROOT / README).read_text(), re.MULTILINE)
    )

    assert listed == {rule["alert"]: rule["labels"]["severity"] for rule in alerts()}
