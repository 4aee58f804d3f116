"""deploy/stack.py's choices, without starting anything: which processes the warm parent
forks, and what counts as running."""

from __future__ import annotations

import os

import pytest

from deploy.stack import WARM_PARENT, alive, stack_processes, uses_engine


def test_without_a_warm_parent_every_process_starts_on_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FISCUS_STACK_WARM_PARENT", raising=False)
    monkeypatch.setenv("FISCUS_WORKERS", "2")
    processes = stack_processes()
    assert WARM_PARENT not in processes
    assert {"policy", "worker", "worker-2", "households", "gateway"} <= set(processes)


def test_with_a_warm_parent_it_comes_first_and_forks_the_policyengine_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FISCUS_STACK_WARM_PARENT", "1")
    monkeypatch.setenv("FISCUS_WORKERS", "2")
    processes = list(stack_processes())
    assert processes[0] == WARM_PARENT
    forked = {name for name in processes if uses_engine(name)}
    assert forked == {"policy", "worker", "worker-2", "households"}


def test_a_warm_parent_is_left_out_when_no_process_needs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FISCUS_STACK_WARM_PARENT", "1")
    monkeypatch.setenv("FISCUS_STACK_SKIP", "policy,worker,households")
    assert WARM_PARENT not in stack_processes()


def test_an_exited_child_not_yet_reaped_is_not_running() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        # Wait for it to exit, leaving it unreaped (a zombie): os.kill(pid, 0) still
        # succeeds on it, alive() does not.
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        os.kill(pid, 0)
        assert not alive(pid)
    finally:
        os.waitpid(pid, 0)
    assert alive(os.getpid())
