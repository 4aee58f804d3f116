"""Run the Fiscus stack as local processes: `up`, `down`, `status`.

Reads deploy/Procfile, starts each process in its own session with its log under
var/log/, records pids under var/run/, starts the supervisor (deploy/supervisor.py),
which starts again any process that exits, and (for `up`) returns once the gateway's
/readyz answers 200. `down` stops the supervisor, then every process it started.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "deploy" / "Procfile"


def read_procfile(path: Path | None = None) -> dict[str, str]:
    """The processes of `path`, by default FISCUS_PROCFILE or deploy/Procfile."""
    path = path or Path(os.environ.get("FISCUS_PROCFILE") or PROCFILE)
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


# The processes that run policyengine-us (the policy service's parameter tree, the
# engines of the workers): forked from the warm parent when there is one.
WARM_PARENT = "warm-parent"
ENGINE_PROCESSES = ("policy", WORKER, "households")
WARM_PARENT_COMMAND = "python deploy/warm_parent.py --socket {socket}"


def warm_parent_enabled() -> bool:
    """FISCUS_STACK_WARM_PARENT=1: start the engine processes by fork from one warm parent."""
    return os.environ.get("FISCUS_STACK_WARM_PARENT", "").lower() in ("1", "true", "yes")


def uses_engine(name: str) -> bool:
    return name.partition("-")[0] in ENGINE_PROCESSES


def stack_processes() -> dict[str, str]:
    """The Procfile's processes, with `worker-2` ... `worker-N` beside `worker`, and the warm
    parent first when it is enabled."""
    processes = {name: cmd for name, cmd in read_procfile().items() if name not in skipped()}
    if WORKER in processes:
        for number in range(2, worker_count() + 1):
            processes[f"{WORKER}-{number}"] = processes[WORKER]
    if warm_parent_enabled() and any(uses_engine(name) for name in processes):
        processes = {WARM_PARENT: WARM_PARENT_COMMAND, **processes}
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


def pid_file(var: Path, name: str) -> Path:
    return var / "run" / f"{name}.pid"


def alive(pid: int) -> bool:
    """Whether `pid` is a running process (an exited one not yet reaped is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def running(var: Path) -> dict[str, int]:
    found: dict[str, int] = {}
    for name in stack_processes():
        recorded = pid_file(var, name)
        if recorded.exists():
            pid = int(recorded.read_text())
            if alive(pid):
                found[name] = pid
    return found


def warm_parent_socket(var: Path) -> Path:
    return var / "run" / f"{WARM_PARENT}.sock"


def up(var: Path, ready_urls: list[str], timeout: float) -> None:
    (var / "log").mkdir(parents=True, exist_ok=True)
    (var / "run").mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    already = running(var)
    processes = stack_processes()
    for name, command in processes.items():
        if name in already:
            print(f"  {name:12} already running (pid {already[name]})")
            continue
        pid, how = launch(var, name, command, deadline, WARM_PARENT in processes)
        print(f"  {name:12} {how} (pid {pid}), log {var / 'log' / f'{name}.log'}")
    if supervised():
        start_supervisor(var)
    for url in ready_urls:
        wait_ready(url, deadline, var)


def launch(var: Path, name: str, command: str, deadline: float, warm: bool) -> tuple[int, str]:
    """Start one stack process (forked from the warm parent when there is one and it runs
    policyengine-us) and record its pid; the pid and how it was started."""
    log = var / "log" / f"{name}.log"
    if uses_engine(name) and warm:
        wait_warm_parent(var, deadline)
        pid, how = fork_from_warm_parent(var, name, command, log), "forked"
    else:
        if name == WARM_PARENT:
            # A new warm parent never finds the last one's socket.
            warm_parent_socket(var).unlink(missing_ok=True)
            command = command.format(socket=warm_parent_socket(var))
        pid, how = start_process(name, command.split(), log), "started"
    pid_file(var, name).write_text(str(pid))
    return pid, how


SUPERVISOR = "supervisor"


def supervised() -> bool:
    """Whether `up` starts the supervisor (deploy/supervisor.py): FISCUS_STACK_SUPERVISE,
    on by default; the test stacks turn it off, their chaos tests decide when a process
    comes back."""
    return os.environ.get("FISCUS_STACK_SUPERVISE", "1").lower() not in ("0", "false", "no")


def start_supervisor(var: Path) -> None:
    recorded = pid_file(var, SUPERVISOR)
    if recorded.exists() and alive(int(recorded.read_text())):
        return
    command = f"python deploy/supervisor.py --var {var}"
    pid = start_process(SUPERVISOR, command.split(), var / "log" / f"{SUPERVISOR}.log")
    recorded.write_text(str(pid))
    print(f"  {SUPERVISOR:12} started (pid {pid}): starts again any process that exits")


def start_process(name: str, argv: list[str], log_path: Path) -> int:
    if argv[0] == "python":
        argv[0] = sys.executable
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    child = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=process_env(name),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return child.pid


def wait_warm_parent(var: Path, deadline: float) -> None:
    """Wait until the warm parent accepts requests (it has imported policyengine-us)."""
    while not warm_parent_socket(var).exists():
        if WARM_PARENT not in running(var):
            raise SystemExit(f"the warm parent exited during start; see {var / 'log'}")
        if time.monotonic() > deadline:
            raise SystemExit("the warm parent was not ready in time")
        time.sleep(0.5)


def fork_from_warm_parent(var: Path, name: str, command: str, log: Path) -> int:
    """Ask the warm parent to fork `python -m <module> <args>` with this process's environment."""
    argv = command.split()
    if argv[:2] != ["python", "-m"]:
        raise SystemExit(f"{name}: only `python -m` commands can be forked, not {command!r}")
    request = {
        "name": name,
        "module": argv[2],
        "args": argv[3:],
        "env": process_env(name),
        "log": str(log),
        "cwd": str(ROOT),
    }
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(30)
        connection.connect(str(warm_parent_socket(var)))
        connection.sendall(json.dumps(request).encode() + b"\n")
        answer = json.loads(connection.makefile("rb").readline())
    if "pid" not in answer:
        raise SystemExit(f"{name}: the warm parent refused: {answer.get('error')}")
    return int(answer["pid"])


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
    # The supervisor first: nothing may come back while the stack stops.
    supervisor = pid_file(var, SUPERVISOR)
    if supervisor.exists():
        pid = int(supervisor.read_text())
        if alive(pid):
            stop({SUPERVISOR: pid})
        supervisor.unlink(missing_ok=True)
    procs = running(var)
    # The warm parent last: it reaps the processes it forked.
    for group in (
        {n: p for n, p in procs.items() if n != WARM_PARENT},
        {n: p for n, p in procs.items() if n == WARM_PARENT},
    ):
        stop(group)
    for name in stack_processes():
        pid_file(var, name).unlink(missing_ok=True)
    warm_parent_socket(var).unlink(missing_ok=True)


def stop(procs: dict[str, int]) -> None:
    for pid in procs.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(alive(pid) for pid in procs.values()):
        time.sleep(0.2)
    for name, pid in procs.items():
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        print(f"  {name:12} stopped")


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
