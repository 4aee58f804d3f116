"""`make test`'s lanes: which pytest each runs for the arguments it is given."""

from __future__ import annotations

import sys

from tests.lanes import commands


def lanes_of(arguments: list[str]) -> dict[str, list[str]]:
    return {lane.name: command[3:] for lane, command in commands(arguments)}


def test_without_paths_every_lane_runs_its_packages_with_the_options() -> None:
    assert lanes_of(["-q", "-k", "report"]) == {
        "engine": ["-q", "-k", "report", "tests/unit", "tests/service"],
        "stack": [
            "-q",
            "-k",
            "report",
            "tests/fuzz",
            "tests/e2e",
            "tests/load",
            "tests/chaos",
        ],
    }


def test_paths_pick_the_lanes_that_hold_them() -> None:
    assert lanes_of(["tests/service/test_broker.py::test_x", "-x"]) == {
        "engine": ["-x", "tests/service/test_broker.py::test_x"]
    }
    assert lanes_of(["tests/chaos", "tests/unit/test_lanes.py"]) == {
        "engine": ["tests/unit/test_lanes.py"],
        "stack": ["tests/chaos"],
    }


def test_each_lane_is_a_pytest_of_this_interpreter() -> None:
    for _, command in commands([]):
        assert command[:3] == [sys.executable, "-m", "pytest"]


def test_the_tests_folder_is_every_lane_and_other_words_are_options() -> None:
    assert lanes_of(["tests", "-x"]) == lanes_of(["-x"])
    assert lanes_of(["-k", "report"])["engine"][:2] == ["-k", "report"]
