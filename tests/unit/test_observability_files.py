"""Prometheus configuration, alert rules and the Grafana dashboard under deploy/.

promtool (from Debian's `prometheus` package; `make tools` puts it in var/tools) checks
the configuration and the rules and runs the alerts' unit tests; without it the test is
skipped locally and fails in CI. Independently of it, every metric the alerts and the
dashboard query must be one Fiscus exports (or RabbitMQ's / Prometheus's own).
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
import yaml
from prometheus_client import REGISTRY

import shared.metrics  # noqa: F401 - registers the metrics
from tests.unit.deployment_files import ROOT, tool

PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
FOREIGN_METRICS = {"up", "rabbitmq_detailed_queue_messages"}
PROMQL_WORDS = {
    "sum", "by", "rate", "increase", "delta", "max", "min", "count", "and", "or", "on",
    "histogram_quantile", "le", "bool", "without", "avg",
}  # fmt: skip


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported_names() -> set[str]:
    """The series names Fiscus's metric families expose (whether observed yet or not)."""
    names: set[str] = set()
    for family in REGISTRY.collect():
        if family.name.startswith("fiscus_"):
            names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def metric_names(expression: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}|\b(by|without|on)\s*\([^)]*\)", "", expression)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_ranges))
    return {w for w in words if w not in PROMQL_WORDS and ("_" in w or w == "up")}


def alert_rules() -> list[dict[str, object]]:
    document = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_the_alerts_the_operator_needs_exist_with_severity_and_summary() -> None:
    rules = {str(rule["alert"]): rule for rule in alert_rules()}
    for name in (
        "FiscusOutboxBacklogGrowing",
        "FiscusDeadLetterQueueNotEmpty",
        "FiscusWorkerNotReady",
        "FiscusHttpErrorRate",
    ):
        rule = rules[name]
        assert rule["labels"]["severity"] in ("warning", "critical")  # type: ignore[index]
        assert rule["annotations"]["summary"]  # type: ignore[index]


def test_alerts_and_dashboard_query_only_exported_metrics() -> None:
    known = exported_names() | FOREIGN_METRICS
    expressions = [str(rule["expr"]) for rule in alert_rules()]
    dashboard = json.loads((GRAFANA / "dashboards" / "fiscus-overview.json").read_text())
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    expressions += [target["expr"] for panel in panels for target in panel["targets"]]
    unknown = {name for e in expressions for name in metric_names(e)} - known
    assert not unknown, f"queried but not exported: {sorted(unknown)}"
    # Every family of shared/metrics.py is on the dashboard.
    shown = {name for e in expressions for name in metric_names(e)}
    families = exported_names()
    bases = {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in shown}
    assert {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in families} <= bases


def test_dashboard_uses_the_provisioned_datasource() -> None:
    datasource = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "fiscus.yml").read_text())[
        "providers"
    ][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    dashboard = json.loads((GRAFANA / "dashboards" / "fiscus-overview.json").read_text())
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == datasource["uid"]
            assert all(
                target["datasource"]["uid"] == datasource["uid"] for target in panel["targets"]
            )


def promtool() -> str:
    found = tool("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool not found: run `make tools` (Debian's prometheus package)")
        pytest.skip("promtool not installed (make tools)")
    return found


@pytest.mark.parametrize(
    "arguments",
    [
        ["check", "config", "prometheus/prometheus.yml"],
        ["check", "rules", "prometheus/alerts.yml"],
        ["test", "rules", "prometheus/alerts.test.yml"],
    ],
    ids=["config", "rules", "alert-unit-tests"],
)
def test_promtool_accepts_the_configuration_and_the_alerts_fire_as_specified(
    arguments: list[str],
) -> None:
    result = subprocess.run(
        [promtool(), *arguments],
        cwd=ROOT / "deploy",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
