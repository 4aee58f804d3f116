"""A stack of Fiscus processes for a benchmark: fresh schemas, its own ports and vhost."""

from __future__ import annotations

import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from deploy.stack import environment_on_ports
from shared.settings import Settings
from tests.conftest import migrate_afresh, reset_vhost

ROOT = Path(__file__).resolve().parent.parent
VHOST = "fiscus-bench"


def bench_settings() -> Settings:
    return Settings(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:5432/fiscus_bench",
        amqp_url=f"amqp://guest:guest@127.0.0.1:5672/{VHOST}",
    )


def fresh_schemas(settings: Settings) -> None:
    """Every service's schema dropped and migrated again; the vhost emptied."""
    reset_vhost(VHOST)
    migrate_afresh(settings)


def start_processes(
    commands: dict[str, list[str]],
    settings: Settings,
    port_base: int,
    folder: Path,
    extra: dict[str, dict[str, str]] | None = None,
    **shared: str,
) -> tuple[list[subprocess.Popen[bytes]], str]:
    """`python -m <command>` for each, logs in `folder`; the processes and the admin key.

    `shared` adds FISCUS_ variables for every process, `extra[name]` for one."""
    admin_key = "fk_bench_" + secrets.token_urlsafe(24)
    environment = environment_on_ports(
        port_base,
        FISCUS_DATABASE_URL=settings.database_url,
        FISCUS_AMQP_URL=settings.amqp_url,
        FISCUS_ADMIN_API_KEY=admin_key,
        FISCUS_REDIS_KEY_PREFIX=f"fiscus-bench-{secrets.token_hex(4)}",
        FISCUS_DEFAULT_RATE_LIMIT="100000/minute",
        FISCUS_DATA_DIR=str(folder / "data"),
        FISCUS_LOG_LEVEL="WARNING",
        **shared,
    )
    processes = []
    for name, command in commands.items():
        log = open(folder / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", *command],
                cwd=ROOT,
                env={**environment, **(extra or {}).get(name, {})},
                stdout=log,
                stderr=log,
            )
        )
    return processes, admin_key


def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


def print_logs(folder: Path) -> None:
    for log in sorted(folder.glob("*.log")):
        print(f"--- {log.name} ---\n{log.read_text(errors='replace')[-3000:]}")


def wait_ready(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} not ready in {timeout:.0f} s")


def admin_client(gateway: str, key: str, connections: int = 100) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(
        base_url=f"{gateway}/api/v1",
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
        limits=limits,
    )


@dataclass(frozen=True)
class BenchStack:
    gateway: str
    key: str
    pids: dict[str, int]
    port_base: int

    def wait(self, offsets: Sequence[int], timeout: float) -> None:
        """Until the services on these port offsets are ready, then the gateway."""
        for offset in offsets:
            wait_ready(f"http://127.0.0.1:{self.port_base + offset}/readyz", timeout)
        wait_ready(f"{self.gateway}/healthz", timeout=60)


@contextmanager
def bench_stack(
    commands: dict[str, list[str]],
    port_base: int,
    extra: dict[str, dict[str, str]] | None = None,
    **shared: str,
) -> Iterator[BenchStack]:
    """A benchmark's own stack on fresh schemas: started (not yet ready), its logs printed
    if the benchmark fails, stopped at the end."""
    settings = bench_settings()
    fresh_schemas(settings)
    with tempfile.TemporaryDirectory() as folder:
        processes, key = start_processes(
            commands, settings, port_base, Path(folder), extra, **shared
        )
        pids = {name: process.pid for name, process in zip(commands, processes, strict=True)}
        try:
            yield BenchStack(f"http://127.0.0.1:{port_base}", key, pids, port_base)
        except BaseException:
            print_logs(Path(folder))
            raise
        finally:
            stop_processes(processes)
