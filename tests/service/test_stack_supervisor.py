"""`make up`'s supervisor (deploy/supervisor.py) on real processes: a process that exits
is started again, one that keeps exiting waits longer each time, and `down` stops the
supervisor before the processes, so nothing comes back."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import stack
from deploy.supervisor import FIRST_WAIT, Restarts, supervise_once


@pytest.fixture
def var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A stack of two long sleepers (started by `up`, with its supervisor), stopped after."""
    sleeper = tmp_path / "sleeper.py"
    sleeper.write_text("import time\ntime.sleep(600)\n")
    procfile = tmp_path / "Procfile"
    procfile.write_text(f"alpha: python {sleeper}\nbeta: python {sleeper}\n")
    monkeypatch.setenv("FISCUS_PROCFILE", str(procfile))
    monkeypatch.setenv("FISCUS_STACK_SUPERVISE", "1")
    monkeypatch.delenv("FISCUS_STACK_WARM_PARENT", raising=False)
    var = tmp_path / "var"
    try:
        yield var
    finally:
        stack.down(var)


def wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_killed_process_is_started_again_and_down_stops_everything(var: Path) -> None:
    stack.up(var, ready_urls=[], timeout=30)
    first = stack.running(var)
    assert set(first) == {"alpha", "beta"}
    supervisor = int(stack.pid_file(var, stack.SUPERVISOR).read_text())
    assert stack.alive(supervisor)

    os.killpg(first["alpha"], signal.SIGKILL)
    wait_for(lambda: stack.running(var).get("alpha", first["alpha"]) != first["alpha"])
    again = stack.running(var)
    assert again["beta"] == first["beta"]
    assert "alpha exited; started again" in (var / "log" / "supervisor.log").read_text()

    stack.down(var)
    assert not stack.alive(supervisor)
    assert stack.running(var) == {}
    time.sleep(2 * FIRST_WAIT + 1)
    assert stack.running(var) == {}
    assert not any(stack.alive(pid) for pid in (*first.values(), *again.values()))


def test_a_process_that_keeps_exiting_waits_longer_each_time(
    var: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FISCUS_STACK_SUPERVISE", "0")
    stack.up(var, ready_urls=[], timeout=30)
    history: dict[str, Restarts] = {}
    now = time.monotonic()
    assert supervise_once(var, history, now) == []
    waits = []
    for _ in range(3):
        os.killpg(stack.running(var)["alpha"], signal.SIGKILL)
        wait_for(lambda: "alpha" not in stack.running(var))
        # Not before the wait is over...
        assert supervise_once(var, history, now + history["alpha"].wait / 2) == []
        now += history["alpha"].wait
        waits.append(history["alpha"].wait)
        # ...then started again.
        assert supervise_once(var, history, now) == ["alpha"]
        assert "alpha" in stack.running(var)
    assert waits == [FIRST_WAIT, 2 * FIRST_WAIT, 4 * FIRST_WAIT]
    assert history["alpha"].count == 3
    assert "beta" not in history or history["beta"].count == 0
