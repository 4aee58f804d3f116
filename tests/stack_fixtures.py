"""One stack of real processes for every package that needs one (e2e, load, chaos).

Started once per test session: in the background as soon as the run begins, when
tests that need none of it come first (the unit, service and fuzz tests), else by the
first test that needs it. The packages run in the order unit, service, fuzz, e2e, load, chaos
(tests/conftest.py orders them), so scenarios that kill workers or restart the broker
and the database come last. The stack runs on a
RabbitMQ node and a PostgreSQL server of its own (tests/infrastructure.py), which the
chaos scenarios stop and start without touching anything else on the machine, and
never on the database or virtual host of the service tests.

Its processes that run policyengine-us are forked from one warm parent
(deploy/warm_parent.py), so policyengine-us is imported and its current-law system
built once for the whole stack, and a worker killed by a scenario is warm again in
seconds. Every test looks only at the resources it created.

With FISCUS_TEST_STACK=keep (`make test-stack`) the stack and its servers outlive the
run: the next run with it finds them through var/test-stack/state.json and uses them
as they are, unless the code they run has changed since they started (then the
stack's processes start again). `python -m tests.stack_fixtures down`
(`make test-stack-down`) stops them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from shared import migrations
from shared.settings import Settings
from tests.conftest import MIGRATED_SERVICES
from tests.e2e.otlp_receiver import SpanInbox, otlp_receiver
from tests.infrastructure import PrivatePostgres, PrivateRabbitMQ, free_port
from tests.stack import ROOT, STACK_COMMAND, RunningStack, start_stack

PORT_BASE = int(os.environ.get("FISCUS_TEST_PORT_BASE", "18000"))
KEPT = ROOT / "var" / "test-stack"
STATE = KEPT / "state.json"
# What the stack's processes run: a change here restarts a kept stack.
CODE = ("services", "shared", "contracts", "deploy")

STACK_ENVIRONMENT = {
    # Two workers: one can die while the other goes on (chaos), and a burst is shared (load).
    "FISCUS_WORKERS": "2",
    "FISCUS_STACK_WARM_PARENT": "1",
    # Several partitions per simulation on datasets of a few hundred households, so that a
    # worker can be killed in the middle of one while others remain (test_worker_killed).
    "FISCUS_PARTITION_HOUSEHOLDS": "100",
    # Webhook retries within seconds, not hours (test_webhook_receiver_down); a tail of
    # attempts 3 s apart for three minutes, so that a delivery outlives the receiver's outage
    # (it lasts until the last simulation's delivery has failed), and no endpoint disabled.
    "FISCUS_WEBHOOKS_RETRY_SCHEDULE": json.dumps([0, 2] + [3] * 58),
    "FISCUS_WEBHOOKS_POLL_SECONDS": "0.5",
    "FISCUS_WEBHOOKS_DISABLE_AFTER_FAILURES": "1000",
    # A POST cut off by the database crash leaves its Idempotency-Key claimed until this
    # lock ends (test_postgres_restart retries it with the same key).
    "FISCUS_IDEMPOTENCY_LOCK_SECONDS": "20",
    # A simulation naming a dataset or policy the simulation service has not heard of
    # waits this long for its projection before the 422 (default 10 s; the service tests
    # use 3 s too): projections arrive within a second here, and schemathesis, which
    # names unknown ids by the hundred, spends its time budget on requests, not waits.
    "FISCUS_PROJECTION_WAIT_SECONDS": "3",
    # Spans within a fraction of a second (tests/e2e/test_observability.py).
    "OTEL_BSP_SCHEDULE_DELAY": "200",
}


def keeping() -> bool:
    """Whether the stack outlives the run (FISCUS_TEST_STACK=keep)."""
    return os.environ.get("FISCUS_TEST_STACK") == "keep"


def kept_state() -> dict[str, Any]:
    if not keeping() or not STATE.exists():
        return {}
    state: dict[str, Any] = json.loads(STATE.read_text())
    return state


def remember(**parts: Any) -> None:
    if keeping():
        KEPT.mkdir(parents=True, exist_ok=True)
        STATE.write_text(json.dumps({**kept_state(), **parts}, indent=2))


def code_fingerprint() -> str:
    """Names, sizes and modification times of the files the stack's processes run."""
    digest = hashlib.sha256()
    for top in CODE:
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                stat = path.stat()
                digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def ready(gateway_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{gateway_url}/readyz", timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


class SessionStack:
    """The session's stack with its servers and span receiver, started once.

    `begin()` starts it in a thread: called as soon as the run knows it will need it
    while tests that need none of it run first (the unit and service tests use one
    core; the stack warms up on the other). The fixtures `wait()` for it; `end()` stops
    whatever was started, unless it is kept.
    """

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._exit = contextlib.ExitStack()
        self.rabbitmq: PrivateRabbitMQ
        self.postgres: PrivatePostgres
        self.settings: Settings
        self.spans: SpanInbox
        self.stack: RunningStack

    def begin(self, config: pytest.Config) -> None:
        with self._lock:
            if self._thread is None:
                temporary = temporary_folder(config)
                self._thread = threading.Thread(
                    target=self._start, args=(temporary,), name="session-stack", daemon=True
                )
                self._thread.start()

    def wait(self, config: pytest.Config) -> SessionStack:
        self.begin(config)
        assert self._thread is not None
        self._thread.join()
        if self._error is not None:
            raise RuntimeError("the session's stack did not start") from self._error
        return self

    def end(self) -> None:
        if self._thread is not None:
            self._thread.join()
        self._exit.close()

    def _start(self, temporary: Path) -> None:
        try:
            self._start_servers()
            self.settings = self._migrated(temporary)
            port = int(kept_state().get("otlp_port", 0)) or (free_port() if keeping() else 0)
            self.spans = self._exit.enter_context(otlp_receiver(port))
            remember(otlp_port=port)
            self.stack = self._running(temporary)
        except BaseException as exc:
            self._error = exc

    def _start_servers(self) -> None:
        state = kept_state()
        self.rabbitmq = PrivateRabbitMQ(**state.get("rabbitmq", {}))
        self.postgres = PrivatePostgres(**state.get("postgres", {}))
        for name, server in (("rabbitmq", self.rabbitmq), ("postgres", self.postgres)):
            if not server.running():
                server.start()
            remember(**{name: server.state()})
            if not keeping():
                self._exit.callback(server.remove)

    def _migrated(self, temporary: Path) -> Settings:
        """Settings on the private servers, every service schema migrated."""
        settings = Settings(
            environment="test",
            database_url=self.postgres.url("fiscus_stack"),
            amqp_url=self.rabbitmq.amqp_url,
            data_dir=KEPT / "data" if keeping() else temporary / "stack-data",
            delivery_limit=3,
            outbox_poll_seconds=0.05,
        )
        migrations.upgrade(MIGRATED_SERVICES, settings)
        return settings

    def _running(self, temporary: Path) -> RunningStack:
        environment = {**STACK_ENVIRONMENT, "OTEL_EXPORTER_OTLP_ENDPOINT": self.spans.endpoint}
        kept = kept_state().get("stack")
        fingerprint = code_fingerprint() if keeping() else ""
        if kept and kept["code"] == fingerprint and ready(kept["gateway_url"]):
            return RunningStack(
                kept["gateway_url"],
                kept["admin_key"],
                self.settings,
                Path(kept["var"]),
                kept["env"],
            )
        if kept:  # stale: whatever still runs of it goes first
            stop_processes(Path(kept["var"]), kept["env"])
        var = KEPT / "var" if keeping() else temporary / "stack-var"
        running = start_stack(self.settings, var, PORT_BASE, environment)
        remember(
            stack={
                "gateway_url": running.gateway_url,
                "admin_key": running.admin_key,
                "var": str(var),
                "env": running.environment,
                "code": fingerprint,
            }
        )
        if not keeping():
            self._exit.callback(running.down)
        return running


SESSION_STACK = SessionStack()


def temporary_folder(config: pytest.Config) -> Path:
    """The run's own temporary folder (pytest's, kept for the last few runs)."""
    factory = config._tmp_path_factory  # type: ignore[attr-defined]
    return Path(factory.mktemp("session-stack"))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the stack beside the first tests when they need none of it, but later ones do."""
    items = session.items
    later = any(item.get_closest_marker("stack") for item in items)
    if items and not items[0].get_closest_marker("stack") and later:
        SESSION_STACK.begin(session.config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    SESSION_STACK.end()


@pytest.fixture(scope="session")
def session_stack(request: pytest.FixtureRequest) -> SessionStack:
    return SESSION_STACK.wait(request.config)


@pytest.fixture(scope="session")
def private_rabbitmq(session_stack: SessionStack) -> PrivateRabbitMQ:
    return session_stack.rabbitmq


@pytest.fixture(scope="session")
def private_postgres(session_stack: SessionStack) -> PrivatePostgres:
    return session_stack.postgres


@pytest.fixture(scope="session")
def spans(session_stack: SessionStack) -> SpanInbox:
    """What the stack's processes export over OTLP/HTTP, configured by the environment only
    (a kept stack's processes export to the port they were started with)."""
    return session_stack.spans


@pytest.fixture(scope="session")
def stack(session_stack: SessionStack) -> RunningStack:
    return session_stack.stack


def stop_processes(var: Path, environment: dict[str, str]) -> None:
    subprocess.run(
        [*STACK_COMMAND, "down", "--var", str(var)], env=environment, cwd=ROOT, check=False
    )


def down() -> None:
    """Stop a kept stack and its servers, and forget them."""
    if not STATE.exists():
        print("no kept test stack")
        return
    state = json.loads(STATE.read_text())
    if "stack" in state:
        stop_processes(Path(state["stack"]["var"]), state["stack"]["env"])
    for server in (
        PrivateRabbitMQ(**state.get("rabbitmq", {})) if "rabbitmq" in state else None,
        PrivatePostgres(**state.get("postgres", {})) if "postgres" in state else None,
    ):
        if server is not None:
            with contextlib.suppress(Exception):
                server.remove()
    STATE.unlink()
    print("kept test stack stopped")


if __name__ == "__main__":
    if sys.argv[1:] != ["down"]:
        raise SystemExit("usage: python -m tests.stack_fixtures down")
    down()
