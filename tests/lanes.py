"""The whole suite in two lanes at once, one per core (`make test`).

The unit and service tests run policyengine-us in the test process, on one core; the
end-to-end, load and chaos tests drive a stack of real processes, which spends much of
its time waiting (on restarts, retries, a broker coming back). Run one after the other
they left a core idle for most of the run; run side by side they take about the time
of the longer lane. The fuzzing of hostile input (tests/fuzz) needs neither
policyengine-us nor the stack: it runs first in the stack lane, while the stack starts.

Each lane is its own pytest session with its own database and RabbitMQ virtual host
(FISCUS_TEST_DB, FISCUS_TEST_VHOST); the stack lane's stack runs on servers of its own
(tests/stack_fixtures.py), so the lanes share nothing but the machine. Every line a lane
prints is prefixed with its name. Arguments are passed to both lanes' pytest; paths
among them pick the lanes that hold them. FISCUS_TEST_LANES=1 runs one session over
everything, in the order tests/conftest.py gives.

    python -m tests.lanes -q --durations=30
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
NO_TESTS_COLLECTED = 5


@dataclass(frozen=True)
class Lane:
    name: str
    packages: tuple[str, ...]
    environment: dict[str, str] = field(default_factory=dict)


LANES = (
    Lane("engine", ("unit", "service")),
    Lane(
        "stack",
        ("fuzz", "e2e", "load", "chaos"),
        {"FISCUS_TEST_DB": "fiscus_test_stack", "FISCUS_TEST_VHOST": "fiscus-test-stack"},
    ),
)


def package_of(argument: str) -> str | None:
    """The test package a path argument lies in (`tests/e2e/test_x.py::t` -> `e2e`), ""
    for the tests folder itself, None for anything else (an option, or its value). The
    lanes' pytest runs in the repository, so a path is taken from there."""
    path = (ROOT / argument.split("::")[0]).resolve()
    if not path.exists() or not path.is_relative_to(TESTS):
        return None
    parts = path.relative_to(TESTS).parts
    if not parts:
        return ""
    return parts[0] if len(parts) > 1 or path.is_dir() else None


def commands(arguments: list[str]) -> list[tuple[Lane, list[str]]]:
    """Each lane's pytest command: its packages, or the path arguments that lie in them."""
    paths = {argument: package_of(argument) for argument in arguments}
    options = [argument for argument in arguments if paths[argument] is None]
    named = [argument for argument, package in paths.items() if package]
    everything = "" in paths.values() or not named
    chosen = []
    for lane in LANES:
        targets = [argument for argument in named if paths[argument] in lane.packages]
        if everything:
            targets = [f"tests/{package}" for package in lane.packages]
        if targets:
            chosen.append((lane, [sys.executable, "-m", "pytest", *options, *targets]))
    return chosen


class Running:
    """A lane's pytest, its output relayed line by line with the lane's name in front."""

    def __init__(self, lane: Lane, command: list[str], lock: threading.Lock) -> None:
        self.lane = lane
        self.began = time.monotonic()
        self.seconds = 0.0
        self.code = 0
        self._lock = lock
        self._process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **lane.environment, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._relay = threading.Thread(target=self._relay_output, name=lane.name)
        self._relay.start()

    def _relay_output(self) -> None:
        width = max(len(lane.name) for lane in LANES)
        assert self._process.stdout is not None
        for line in iter(self._process.stdout.readline, ""):
            with self._lock:
                sys.stdout.write(f"{self.lane.name:<{width}} | {line}")
                sys.stdout.flush()
        self.code = self._process.wait()
        self.seconds = time.monotonic() - self.began

    def wait(self) -> None:
        self._relay.join()


def run(arguments: list[str]) -> int:
    if os.environ.get("FISCUS_TEST_LANES") == "1":
        return subprocess.call([sys.executable, "-m", "pytest", *arguments], cwd=ROOT)
    lock = threading.Lock()
    lanes = [Running(lane, command, lock) for lane, command in commands(arguments)]
    for lane in lanes:
        lane.wait()
    for lane in lanes:
        print(f"lane {lane.lane.name}: exit {lane.code}, {lane.seconds:.0f} s")
    phases = os.environ.get("FISCUS_TEST_PHASES_FILE")
    if phases:
        with Path(phases).open("a") as out:
            for lane in lanes:
                out.write(f"lane:{lane.lane.name}\t{round(lane.seconds)}\n")
    ran = [lane.code for lane in lanes if lane.code != NO_TESTS_COLLECTED]
    if not ran:
        return NO_TESTS_COLLECTED
    return max(ran, key=abs)


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
