"""The local stack's supervisor: starts again any stack process that exits, as Kubernetes
restarts a crashed container.

`deploy/stack.py up` starts it once the processes are started; `down` stops it first.
Every `--interval` seconds it looks at each process `up` recorded (a pid file under
var/run/): one whose pid is gone is started again the way `up` started it (forked from
the warm parent for the engine processes when there is one). A process that keeps
exiting waits before each new start, 1 s doubling to 60 s, back to 1 s once it has run
for five minutes. Each restart is a line in var/log/supervisor.log.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy.stack import (
    WARM_PARENT,
    launch,
    pid_file,
    running,
    stack_processes,
)

FIRST_WAIT, LONGEST_WAIT, STEADY_SECONDS = 1.0, 60.0, 300.0
START_TIMEOUT = 600.0


@dataclass
class Restarts:
    """One process's restart history: when it was last started, how long to wait next."""

    started_at: float
    wait: float = FIRST_WAIT
    count: int = 0


def supervise_once(var: Path, history: dict[str, Restarts], now: float) -> list[str]:
    """Start again each recorded process that is no longer running, once its wait is over;
    the names started."""
    processes = stack_processes()
    alive = running(var)
    started: list[str] = []
    for name, command in processes.items():
        if name in alive:
            record = history.setdefault(name, Restarts(started_at=now))
            if now - record.started_at >= STEADY_SECONDS:
                record.wait = FIRST_WAIT
            continue
        if not pid_file(var, name).exists():
            continue  # not started by `up`, or stopped by `down`
        record = history.setdefault(name, Restarts(started_at=now - FIRST_WAIT))
        if now - record.started_at < record.wait:
            continue
        pid, how = launch(var, name, command, now + START_TIMEOUT, WARM_PARENT in processes)
        record.count += 1
        record.wait = min(record.wait * 2, LONGEST_WAIT)
        record.started_at = now
        print(f"{name} exited; {how} again (pid {pid}, restart {record.count})", flush=True)
        started.append(name)
    _reap()
    return started


def _reap() -> None:
    """Collect the exit of processes this supervisor started, so none stays a zombie."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var", type=Path, required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    history: dict[str, Restarts] = {}
    print(f"supervising the processes recorded under {args.var / 'run'}", flush=True)
    while not stopping:
        supervise_once(args.var, history, time.monotonic())
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
