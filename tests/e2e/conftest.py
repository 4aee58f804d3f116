"""The whole stack as real processes (deploy/stack.py), on the test database and vhost."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PORT_BASE = int(os.environ.get("FISCUS_TEST_PORT_BASE", "18000"))


@dataclass(frozen=True)
class RunningStack:
    gateway_url: str
    admin_key: str
    settings: Settings
    var: Path

    def log(self, process: str) -> str:
        path = self.var / "log" / f"{process}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def stack_environment(settings: Settings, admin_key: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FISCUS_")}
    environment.update(
        FISCUS_ENVIRONMENT="test",
        FISCUS_DATABASE_URL=settings.database_url,
        FISCUS_AMQP_URL=settings.amqp_url,
        FISCUS_DATA_DIR=str(settings.data_dir),
        FISCUS_ADMIN_API_KEY=admin_key,
        FISCUS_DELIVERY_LIMIT=str(settings.delivery_limit),
        FISCUS_GATEWAY_PORT=str(PORT_BASE),
        FISCUS_DATASET_PORT=str(PORT_BASE + 1),
        FISCUS_POLICY_PORT=str(PORT_BASE + 2),
        FISCUS_SIMULATION_PORT=str(PORT_BASE + 3),
        FISCUS_AGGREGATION_PORT=str(PORT_BASE + 4),
        FISCUS_WEBHOOKS_PORT=str(PORT_BASE + 5),
        # The test's webhook receiver listens on loopback.
        FISCUS_WEBHOOKS_ALLOW_PRIVATE="true",
        FISCUS_WORKER_PORT=str(PORT_BASE + 13),
        FISCUS_HOUSEHOLDS_PORT=str(PORT_BASE + 12),
    )
    return environment


# Module scope: the stack's consumers share the test vhost and database, so they must be
# gone before other tests run their own consumers there.
@pytest.fixture(scope="module")
def stack(migrated: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    var = tmp_path_factory.mktemp("stack-var")
    admin_key = "fk_test_" + secrets.token_urlsafe(16)
    environment = stack_environment(migrated, admin_key)
    command = [sys.executable, str(ROOT / "deploy" / "stack.py")]
    running = RunningStack(f"http://127.0.0.1:{PORT_BASE}", admin_key, migrated, var)
    try:
        subprocess.run(
            [*command, "up", "--var", str(var), "--timeout", "600"],
            env=environment,
            cwd=ROOT,
            check=True,
        )
    except subprocess.CalledProcessError:
        for name in (
            "gateway",
            "dataset",
            "policy",
            "simulation",
            "worker",
            "households",
            "aggregation",
            "webhooks",
        ):
            print(f"--- {name} log ---\n{running.log(name)[-3000:]}")
        subprocess.run([*command, "down", "--var", str(var)], env=environment, cwd=ROOT)
        raise
    yield running
    subprocess.run([*command, "down", "--var", str(var)], env=environment, cwd=ROOT, check=True)
