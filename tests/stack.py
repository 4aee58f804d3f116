"""The whole stack as real processes (deploy/stack.py), for end-to-end, chaos and load tests.

A test package starts one stack on a database and virtual host of the tests, on its
own ports (`port_base`), with extra environment where a scenario needs it. The
stack can have processes killed and started again, as a supervisor would.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deploy.stack import alive, environment_on_ports
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
STACK_COMMAND = [sys.executable, str(ROOT / "deploy" / "stack.py")]
PROCESSES = (
    "warm-parent",
    "gateway",
    "dataset",
    "policy",
    "simulation",
    "worker",
    "worker-2",
    "households",
    "aggregation",
    "webhooks",
)


@dataclass(frozen=True)
class RunningStack:
    gateway_url: str
    admin_key: str
    settings: Settings
    var: Path
    environment: dict[str, str] = field(default_factory=dict, repr=False)

    def new_key(self, name: str, role: str) -> str:
        """The secret of a new API key with `role`, made with the admin key."""
        created = httpx.post(
            f"{self.gateway_url}/api/v1/keys",
            json={"name": name, "role": role},
            headers={"Authorization": f"Bearer {self.admin_key}"},
        )
        assert created.status_code == 201, created.text
        secret: str = created.json()["secret"]
        return secret

    def log(self, process: str) -> str:
        path = self.var / "log" / f"{process}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def pid(self, process: str) -> int | None:
        """The pid of a running stack process (`worker`, `worker-2`, `gateway`, ...)."""
        path = self.var / "run" / f"{process}.pid"
        if not path.exists():
            return None
        pid = int(path.read_text())
        return pid if alive(pid) else None

    def kill(self, process: str, sig: signal.Signals = signal.SIGKILL) -> int:
        """Send `sig` (SIGKILL: `kill -9`) to a process's whole group; returns its pid.

        After SIGKILL, returns once the process is gone (reaped), so that `up()` right
        after it sees it as not running and starts it again.
        """
        pid = self.pid(process)
        if pid is None:
            raise RuntimeError(f"{process} is not running")
        os.killpg(pid, sig)
        deadline = time.monotonic() + 30
        while sig == signal.SIGKILL and self.pid(process) == pid and time.monotonic() < deadline:
            time.sleep(0.05)
        return pid

    def up(self, timeout: float = 600) -> None:
        """Start every process that is not running and wait until all are ready."""
        subprocess.run(
            [*STACK_COMMAND, "up", "--var", str(self.var), "--timeout", str(timeout)],
            env=self.environment,
            cwd=ROOT,
            check=True,
        )

    def down(self) -> None:
        subprocess.run(
            [*STACK_COMMAND, "down", "--var", str(self.var)],
            env=self.environment,
            cwd=ROOT,
            check=True,
        )


def stack_environment(settings: Settings, admin_key: str, port_base: int) -> dict[str, str]:
    return environment_on_ports(
        port_base,
        FISCUS_ENVIRONMENT="test",
        FISCUS_DATABASE_URL=settings.database_url,
        FISCUS_AMQP_URL=settings.amqp_url,
        FISCUS_DATA_DIR=str(settings.data_dir),
        FISCUS_ADMIN_API_KEY=admin_key,
        FISCUS_DELIVERY_LIMIT=str(settings.delivery_limit),
        FISCUS_REDIS_KEY_PREFIX=f"fiscus-test-{port_base}",
        # The tests' webhook receivers listen on loopback.
        FISCUS_WEBHOOKS_ALLOW_PRIVATE="true",
        # The chaos tests decide when a killed process comes back (tests/chaos/observers.py);
        # the stack's own supervisor is tested alone (tests/service/test_stack_supervisor.py).
        FISCUS_STACK_SUPERVISE="0",
    )


def start_stack(
    settings: Settings,
    var: Path,
    port_base: int,
    extra_environment: dict[str, str] | None = None,
    timeout: float = 600,
    admin_key: str | None = None,
) -> RunningStack:
    """Start the stack and return once it is ready; on failure, print its logs and stop it."""
    admin_key = admin_key or "fk_test_" + secrets.token_urlsafe(16)
    environment = stack_environment(settings, admin_key, port_base)
    environment.update(extra_environment or {})
    stack = RunningStack(f"http://127.0.0.1:{port_base}", admin_key, settings, var, environment)
    try:
        stack.up(timeout)
    except subprocess.CalledProcessError:
        for name in PROCESSES:
            print(f"--- {name} log ---\n{stack.log(name)[-3000:]}")
        subprocess.run([*STACK_COMMAND, "down", "--var", str(var)], env=environment, cwd=ROOT)
        raise
    return stack


@contextmanager
def running_stack(
    settings: Settings,
    var: Path,
    port_base: int,
    extra_environment: dict[str, str] | None = None,
    timeout: float = 600,
) -> Iterator[RunningStack]:
    """Start the stack, yield it, and stop every process it has running at the end."""
    stack = start_stack(settings, var, port_base, extra_environment, timeout)
    try:
        yield stack
    finally:
        stack.down()
