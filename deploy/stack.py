"""Run the Fiscus stack as local processes: `up`, `down`, `status`.

Reads deploy/Procfile, starts each process in its own session with its log under
var/log/, records pids under var/run/, and (for `up`) returns once the gateway's
/readyz answers 200. `down` stops every process it started.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "deploy" / "Procfile"


def read_procfile(path: Path = PROCFILE) -> dict[str, str]:
    processes: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = command.strip()
    return processes


WORKER = "worker"


def worker_count() -> int:
    """Simulation workers to run: FISCUS_WORKERS (default 1); each holds about 3 GB warm."""
    return max(1, int(os.environ.get("FISCUS_WORKERS", "1")))


def skipped() -> set[str]:
    """Procfile processes not to run: FISCUS_STACK_SKIP, comma-separated (e.g. `households`)."""
    return {name.strip() for name in os.environ.get("FISCUS_STACK_SKIP", "").split(",") if name}


def stack_processes() -> dict[str, str]:
    """The Procfile's processes, with `worker-2` ... `worker-N` beside `worker`."""
    processes = {name: cmd for name, cmd in read_procfile().items() if name not in skipped()}
    if WORKER in processes:
        for number in range(2, worker_count() + 1):
            processes[f"{WORKER}-{number}"] = processes[WORKER]
    return processes


# Each service's port, counted from the gateway's: the defaults are 8000 plus these.
PORT_OFFSETS = {
    "FISCUS_GATEWAY_PORT": 0,
    "FISCUS_DATASET_PORT": 1,
    "FISCUS_POLICY_PORT": 2,
    "FISCUS_SIMULATION_PORT": 3,
    "FISCUS_AGGREGATION_PORT": 4,
    "FISCUS_WEBHOOKS_PORT": 5,
    "FISCUS_HOUSEHOLDS_PORT": 12,
    "FISCUS_WORKER_PORT": 13,
}


def environment_on_ports(port_base: int, **settings: str) -> dict[str, str]:
    """The environment of a stack beside the default one (tests, benchmarks).

    This process's environment without its FISCUS_ variables, so that nothing of another
    stack leaks in; every service on its port counted from `port_base` (the gateway's);
    then `settings`, FISCUS_ variables by name.
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FISCUS_")}
    environment.update({name: str(port_base + offset) for name, offset in PORT_OFFSETS.items()})
    environment.update(settings)
    return environment


def process_env(name: str) -> dict[str, str]:
    """The environment of a process: worker-N answers /readyz on the worker port + N - 1."""
    env = dict(os.environ)
    if name.startswith(f"{WORKER}-"):
        base = int(os.environ.get("FISCUS_WORKER_PORT", "8013"))
        env["FISCUS_WORKER_PORT"] = str(base + int(name.rpartition("-")[2]) - 1)
    return env


def _pid_file(var: Path, name: str) -> Path:
    return var / "run" / f"{name}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running(var: Path) -> dict[str, int]:
    found: dict[str, int] = {}
    for name in stack_processes():
        pid_file = _pid_file(var, name)
        if pid_file.exists():
            pid = int(pid_file.read_text())
            if _alive(pid):
                found[name] = pid
    return found


def up(var: Path, ready_urls: list[str], timeout: float) -> None:
    (var / "log").mkdir(parents=True, exist_ok=True)
    (var / "run").mkdir(parents=True, exist_ok=True)
    already = running(var)
    python = sys.executable
    for name, command in stack_processes().items():
        if name in already:
            print(f"  {name:12} already running (pid {already[name]})")
            continue
        argv = command.split()
        if argv[0] == "python":
            argv[0] = python
        log = open(var / "log" / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        child = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=process_env(name),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _pid_file(var, name).write_text(str(child.pid))
        print(f"  {name:12} started (pid {child.pid}), log {var / 'log' / (name + '.log')}")
    deadline = time.monotonic() + timeout
    for url in ready_urls:
        wait_ready(url, deadline, var)


def wait_ready(url: str, deadline: float, var: Path) -> None:
    """Wait until `url`/readyz answers 200; fail early if a process died."""
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=3) as answer:
                if answer.status == 200:
                    print(f"ready: {url}")
                    return
        except urllib.error.HTTPError as exc:
            last = exc.read().decode(errors="replace")
        except OSError as exc:
            last = str(exc)
        dead = [name for name in stack_processes() if name not in running(var)]
        if dead:
            raise SystemExit(f"processes exited during start: {', '.join(dead)}; see {var / 'log'}")
        time.sleep(1)
    raise SystemExit(f"{url} not ready in time: {last}")


def down(var: Path) -> None:
    procs = running(var)
    for pid in procs.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(pid) for pid in procs.values()):
        time.sleep(0.2)
    for name, pid in procs.items():
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        print(f"  {name:12} stopped")
    for name in stack_processes():
        _pid_file(var, name).unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--var", type=Path, default=ROOT / "var")
    # The workers build their engines before they are ready: minutes, more on a busy machine.
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    port = os.environ.get("FISCUS_GATEWAY_PORT", "8000")
    worker_port = os.environ.get("FISCUS_WORKER_PORT", "8013")
    households_port = os.environ.get("FISCUS_HOUSEHOLDS_PORT", "8012")
    # The gateway is ready when every service is; the workers when their engines are warm.
    ready_urls = [
        *(f"http://127.0.0.1:{int(worker_port) + n}" for n in range(worker_count())),
        *([] if "households" in skipped() else [f"http://127.0.0.1:{households_port}"]),
        f"http://127.0.0.1:{port}",
    ]
    if args.action == "up":
        up(args.var, ready_urls, args.timeout)
    elif args.action == "down":
        down(args.var)
    else:
        for name, pid in running(args.var).items():
            print(f"  {name:12} pid {pid}")


if __name__ == "__main__":
    main()
