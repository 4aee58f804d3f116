"""How long each test package took, wall time, from its first test's setup to its last
test's teardown (a package's share of session fixtures included, such as the stack
that the first end-to-end test starts).

Printed at the end of the run; with FISCUS_TEST_PHASES_FILE set (`.ci/run` sets it),
also appended there as `package<TAB>seconds` lines.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

_spans: dict[str, list[float]] = {}


def _package(nodeid: str) -> str:
    parts = nodeid.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "tests" else parts[0]


def pytest_runtest_logstart(nodeid: str) -> None:
    now = time.monotonic()
    _spans.setdefault(_package(nodeid), [now, now])


def pytest_runtest_logfinish(nodeid: str) -> None:
    _spans[_package(nodeid)][1] = time.monotonic()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _spans:
        return
    terminalreporter.section("seconds by test package")
    for package, (start, end) in _spans.items():
        terminalreporter.write_line(f"{package:12} {end - start:8.1f}")
    target = os.environ.get("FISCUS_TEST_PHASES_FILE")
    if target:
        with Path(target).open("a") as out:
            for package, (start, end) in _spans.items():
                out.write(f"{package}\t{round(end - start)}\n")
