"""docker-compose.yml and deploy/Dockerfile, checked without a Docker engine.

The compose file must be valid against the Compose Specification's JSON Schema
(vendored in deploy/schemas), run every Procfile process with the Procfile's command
on its port, and bring the infrastructure an operator needs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from tests.unit.deployment_files import PROCFILE, ROOT, process_port

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()
INFRASTRUCTURE = (
    "postgres",
    "rabbitmq",
    "redis",
    "minio",
    "otel-collector",
    "prometheus",
    "grafana",
)


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    schema = json.loads((ROOT / "deploy" / "schemas" / "compose-spec.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(COMPOSE), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_local_services_overlay_publishes_the_three_servers_on_loopback() -> None:
    """`make services` on a machine with Docker but no packages (deploy/local_services.py)."""
    from deploy.local_services import COMPOSE_FILES
    from deploy.local_services import SERVICES as LOCAL

    overlay = yaml.safe_load(COMPOSE_FILES[1].read_text())
    schema = json.loads((ROOT / "deploy" / "schemas" / "compose-spec.json").read_text())
    assert not list(jsonschema.Draft7Validator(schema).iter_errors(overlay))
    for service in LOCAL:
        assert service.name in SERVICES, service.name
        port = f"127.0.0.1:{service.port}:{service.port}"
        assert overlay["services"][service.name]["ports"] == [port]
    assert overlay["services"]["postgres"]["environment"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"


def test_the_schema_check_catches_a_broken_compose_file() -> None:
    schema = json.loads((ROOT / "deploy" / "schemas" / "compose-spec.json").read_text())
    broken = {"services": {"gateway": {"image": "fiscus", "ports": "8000:8000", "restart": 3}}}
    assert len(list(jsonschema.Draft7Validator(schema).iter_errors(broken))) >= 2


@pytest.mark.parametrize("process", sorted(PROCFILE))
def test_each_procfile_process_runs_in_compose_with_its_command_and_port(process: str) -> None:
    assert process in SERVICES, f"docker-compose.yml has no service {process!r}"
    service = SERVICES[process]
    assert service["command"] == PROCFILE[process].split()
    assert service["environment"]["HEALTH_PORT"] == str(process_port(process))
    assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert service["build"]["dockerfile"] == "deploy/Dockerfile"


def test_the_gateway_alone_publishes_a_port_and_workers_scale() -> None:
    published = {name for name in PROCFILE if SERVICES[name].get("ports")}
    assert published == {"gateway"}
    assert SERVICES["gateway"]["ports"] == [f"{process_port('gateway')}:{process_port('gateway')}"]
    # `--scale worker=N` needs no fixed container name and no host port.
    assert "container_name" not in SERVICES["worker"]


def test_compose_brings_the_infrastructure_and_a_one_shot_migration() -> None:
    for name in INFRASTRUCTURE:
        assert name in SERVICES, name
    assert "management" in SERVICES["rabbitmq"]["image"]
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["python", "-m", "shared.migrations", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for mounted in ("prometheus", "grafana", "otel-collector"):
        for volume in SERVICES[mounted]["volumes"]:
            source = volume.split(":")[0]
            assert (ROOT / source).exists(), f"{mounted} mounts missing {source}"
    environment = SERVICES["gateway"]["environment"]
    assert environment["FISCUS_STORAGE_URL"].startswith("s3://")
    assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://otel-collector:")


def test_processes_that_need_policyengine_use_the_image_with_it() -> None:
    targets = {name: SERVICES[name]["build"]["target"] for name in PROCFILE}
    assert targets["policy"] == targets["worker"] == targets["simulation"] == "fiscus-policyengine"
    assert targets["gateway"] == targets["dataset"] == targets["webhooks"] == "fiscus"


def dockerfile_stages() -> dict[str, list[str]]:
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in DOCKERFILE.splitlines():
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            current = stages.setdefault(match.group(1), [])
        current.append(line)
    return stages


def test_dockerfile_is_multi_stage_non_root_with_health_checks() -> None:
    stages = dockerfile_stages()
    assert {"build", "runtime", "fiscus", "fiscus-policyengine"} <= set(stages)
    assert "slim" in DOCKERFILE.split("ARG PYTHON_IMAGE=", 1)[1].splitlines()[0]
    for target in ("fiscus", "fiscus-policyengine"):
        users = [line for line in stages[target] if line.startswith("USER ")]
        assert users and users[-1].split()[1].split(":")[0] not in ("0", "root")
    assert any(line.startswith("HEALTHCHECK") for line in stages["runtime"])
    # The policyengine-us layer comes before the code: a code change keeps it cached.
    engine_stage = "\n".join(stages["fiscus-policyengine"])
    assert engine_stage.index("/opt/policyengine") < engine_stage.index("COPY --chown=root:root")


def test_deployment_yaml_passes_yamllint() -> None:
    config = YamlLintConfig(file=str(ROOT / "deploy" / "yamllint.yaml"))
    files = [ROOT / "docker-compose.yml", *sorted((ROOT / "deploy").rglob("*.y*ml"))]
    files += sorted((ROOT / "k8s").rglob("*.yaml"))
    problems = [
        f"{path.relative_to(ROOT)}:{problem.line}: {problem.desc}"
        for path in files
        for problem in linter.run(Path(path).read_text(), config)
    ]
    assert not problems, "\n".join(problems)


# What each image's healthcheck may run: a program the image is known to carry.
HEALTHCHECK_PROGRAMS = {
    "postgres": "pg_isready",
    "rabbitmq": "rabbitmq-diagnostics",
    "redis": "redis-cli",
    "minio/minio": "mc",
    "fiscus": "python",
    "fiscus-policyengine": "python",
}
# Lock entries that are test, lint or type-checking tools: never in the services' lock.
DEVELOPMENT_TOOLS = ("pytest", "ruff", "mypy", "import-linter", "playwright", "schemathesis")


def locked(name: str) -> dict[str, str]:
    """A lock file's packages (name: version); every entry carries at least one hash."""
    text = (ROOT / name).read_text()
    entries = re.findall(
        r"^([A-Za-z0-9._-]+)==(\S+) \\\n((?:    --hash=sha256:[0-9a-f]{64}.*\n)+)", text, re.M
    )
    count = len(re.findall(r"^[A-Za-z0-9._-]+==", text, re.M))
    assert len(entries) == count, f"{name}: an entry without its hashes"
    return {package.lower(): version for package, version, _ in entries}


def test_every_image_is_pinned_and_checked_with_a_program_it_has() -> None:
    for name, service in SERVICES.items():
        image = service.get("image", "")
        repository, _, tag = image.rpartition(":")
        assert tag and tag != "latest", f"{name}: {image} is not pinned"
        if not repository.startswith("fiscus"):
            assert re.search(r"\d+\.\d+|RELEASE\.\d{4}", tag), f"{name}: {image} names no version"
        check = service.get("healthcheck", {}).get("test")
        if check:
            assert check[0] in ("CMD", "CMD-SHELL"), name
            assert check[1] == HEALTHCHECK_PROGRAMS[repository], f"{name}: {check[1]} in {image}"


def test_the_services_lock_holds_no_development_tool_and_the_dev_lock_holds_it() -> None:
    runtime, development = locked("requirements.lock"), locked("requirements-dev.lock")
    for tool in DEVELOPMENT_TOOLS:
        assert tool not in runtime, tool
        assert tool in development, tool
    # The same version of everything both hold.
    assert {name: development[name] for name in runtime} == runtime
    assert "requirements.lock" in DOCKERFILE and "requirements-dev.lock" not in DOCKERFILE
