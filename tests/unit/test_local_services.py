"""Which path `make services` takes on which machine (deploy/local_services.py), decided
from the machine's facts alone: nothing is installed or uninstalled here."""

from __future__ import annotations

import pytest

from deploy.local_services import (
    POSTGRES,
    RABBITMQ,
    REDIS,
    SERVICES,
    Action,
    CannotProvide,
    Machine,
    observe,
    plan,
)

ALL = frozenset(s.name for s in SERVICES)
NONE: frozenset[str] = frozenset()


def actions(machine: Machine) -> dict[str, Action]:
    return {service.name: action for service, action in plan(machine)}


def test_a_machine_with_everything_running_does_nothing() -> None:
    machine = Machine(
        answering=ALL, installed=ALL, can_install_packages=False, docker_answers=False
    )
    assert actions(machine) == dict.fromkeys(ALL, Action.NOTHING)


def test_installed_services_that_are_down_are_started() -> None:
    machine = Machine(
        answering=frozenset({"redis"}),
        installed=ALL,
        can_install_packages=True,
        docker_answers=True,
    )
    assert actions(machine) == {
        "postgres": Action.START,
        "rabbitmq": Action.START,
        "redis": Action.NOTHING,
    }


@pytest.mark.parametrize("docker", [False, True])
def test_a_fresh_debian_machine_installs_the_packages(docker: bool) -> None:
    """Packages first, even where Docker answers: the services then run as on CI."""
    machine = Machine(
        answering=NONE, installed=NONE, can_install_packages=True, docker_answers=docker
    )
    assert actions(machine) == dict.fromkeys(ALL, Action.INSTALL)


def test_without_packages_but_with_docker_the_compose_services_run() -> None:
    machine = Machine(
        answering=NONE,
        installed=frozenset({"redis"}),
        can_install_packages=False,
        docker_answers=True,
    )
    assert actions(machine) == {
        "postgres": Action.COMPOSE,
        "rabbitmq": Action.COMPOSE,
        "redis": Action.START,
    }


def test_with_neither_it_says_what_to_install() -> None:
    machine = Machine(
        answering=frozenset({"postgres"}),
        installed=frozenset({"postgres"}),
        can_install_packages=False,
        docker_answers=False,
    )
    with pytest.raises(CannotProvide, match="rabbitmq-server"):
        plan(machine)


def test_the_services_are_the_ones_the_project_uses() -> None:
    assert [(s.name, s.port, s.package) for s in (POSTGRES, RABBITMQ, REDIS)] == [
        ("postgres", 5432, "postgresql"),
        ("rabbitmq", 5672, "rabbitmq-server"),
        ("redis", 6379, "redis-server"),
    ]


def test_this_machine_is_observed_as_it_is() -> None:
    """Here (and on CI) the three run already: nothing to do."""
    machine = observe()
    assert machine.answering == ALL
    assert actions(machine) == dict.fromkeys(ALL, Action.NOTHING)
