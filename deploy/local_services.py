"""PostgreSQL, RabbitMQ and Redis on this machine for `make demo` and `make test`.

For each service, in this order:

1. it answers on its port: nothing to do;
2. it is installed: start it;
3. it is missing and this machine installs Debian packages without asking (apt-get, as
   root or with password-less sudo): install the distribution's package
   non-interactively, then start it (a PostgreSQL installed here is set to trust
   connections from 127.0.0.1, as the development setup expects);
4. it is missing and a Docker engine answers: run it from the project's compose file,
   on its usual port on 127.0.0.1 (deploy/compose.local-services.yml);
5. otherwise stop, saying what to install.

Each step says what it does. Only the standard library: this runs before `.venv` exists.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILES = (ROOT / "docker-compose.yml", ROOT / "deploy" / "compose.local-services.yml")


@dataclass(frozen=True)
class Service:
    name: str  # as in docker-compose.yml
    port: int
    package: str  # Debian's
    server_globs: tuple[str, ...]  # where an installed server's binary lies


POSTGRES = Service(
    "postgres", 5432, "postgresql", ("/usr/lib/postgresql/*/bin/postgres", "/usr/bin/postgres")
)
RABBITMQ = Service(
    "rabbitmq", 5672, "rabbitmq-server", ("/usr/sbin/rabbitmq-server", "/usr/lib/rabbitmq/bin/*")
)
REDIS = Service("redis", 6379, "redis-server", ("/usr/bin/redis-server",))
SERVICES = (POSTGRES, RABBITMQ, REDIS)


class Action(Enum):
    NOTHING = "answers already"
    START = "installed: start it"
    INSTALL = "install the Debian package, then start it"
    COMPOSE = "run it with docker compose"


@dataclass(frozen=True)
class Machine:
    """What decides the path: which services answer, which are installed, what can install."""

    answering: frozenset[str]
    installed: frozenset[str]
    can_install_packages: bool
    docker_answers: bool


class CannotProvide(RuntimeError):
    """No way to run a service here: the message says what to install."""


def plan(machine: Machine, services: Sequence[Service] = SERVICES) -> list[tuple[Service, Action]]:
    """What to do for each service on `machine`; CannotProvide if one cannot be had."""
    steps = []
    for service in services:
        if service.name in machine.answering:
            action = Action.NOTHING
        elif service.name in machine.installed:
            action = Action.START
        elif machine.can_install_packages:
            action = Action.INSTALL
        elif machine.docker_answers:
            action = Action.COMPOSE
        else:
            raise CannotProvide(
                f"{service.name} is not installed, this machine cannot install Debian packages "
                f"without asking (apt-get as root or with password-less sudo) and no Docker "
                f"engine answers: install `{service.package}` (or Docker) and run this again"
            )
        steps.append((service, action))
    return steps


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def installed(service: Service) -> bool:
    return any(glob.glob(pattern) for pattern in service.server_globs)


def succeeds(argv: Sequence[str], timeout: float = 20) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=timeout).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def as_root() -> list[str]:
    """The prefix that runs a command as root without a password ([] when we are root)."""
    return [] if os.geteuid() == 0 else ["sudo", "-n"]


def observe() -> Machine:
    """The facts of this machine."""
    apt = shutil.which("apt-get") is not None and (
        os.geteuid() == 0 or (shutil.which("sudo") is not None and succeeds(["sudo", "-n", "true"]))
    )
    docker = shutil.which("docker") is not None and succeeds(["docker", "info"])
    return Machine(
        answering=frozenset(s.name for s in SERVICES if port_open(s.port)),
        installed=frozenset(s.name for s in SERVICES if installed(s)),
        can_install_packages=apt,
        docker_answers=docker,
    )


def run(argv: Sequence[str], environment: dict[str, str] | None = None) -> None:
    print("  $ " + " ".join(argv), flush=True)
    subprocess.run(argv, check=True, env={**os.environ, **(environment or {})})


def install(service: Service, updated: list[bool]) -> None:
    noninteractive = {"DEBIAN_FRONTEND": "noninteractive"}
    if not updated:
        run([*as_root(), "apt-get", "update", "-qq"], noninteractive)
        updated.append(True)
    run(
        [*as_root(), "apt-get", "install", "-y", "-qq", "--no-install-recommends", service.package],
        noninteractive,
    )
    if service is POSTGRES:
        trust_loopback()


def trust_loopback() -> None:
    """Let local TCP connections in as any role without a password, as the development
    setup expects (postgres@127.0.0.1, trust); only for a cluster this script installed."""
    rules = "host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n"
    for hba in glob.glob("/etc/postgresql/*/main/pg_hba.conf"):
        text = subprocess.run(
            [*as_root(), "cat", hba], capture_output=True, text=True, check=True
        ).stdout
        if not text.startswith(rules):
            print(f"  trusting connections from 127.0.0.1 and ::1 first in {hba}", flush=True)
            subprocess.run(
                [*as_root(), "tee", hba], input=rules + text, text=True, check=True,
                stdout=subprocess.DEVNULL,
            )  # fmt: skip


def start(service: Service) -> None:
    if service is POSTGRES:
        cluster = sorted(os.listdir("/etc/postgresql"))[-1]
        run([*as_root(), "pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "start"])
    elif service is RABBITMQ:
        run([*as_root(), "rabbitmq-server", "-detached"])
    else:
        options = ["--bind", "127.0.0.1", "--port", "6379", "--save", "", "--appendonly", "no"]
        run([*as_root(), "redis-server", "--daemonize", "yes", *options])


def compose(service: Service) -> None:
    files = [argument for path in COMPOSE_FILES for argument in ("-f", str(path))]
    run(["docker", "compose", *files, "up", "-d", service.name])


def wait_until(what: str, check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not answering after {seconds:.0f} s")
        time.sleep(1)


def provide(steps: list[tuple[Service, Action]]) -> None:
    updated: list[bool] = []
    for service, action in steps:
        if action is not Action.NOTHING:
            print(f"{service.name}: {action.value}", flush=True)
        if action is Action.INSTALL:
            install(service, updated)
        if action is Action.INSTALL and port_open(service.port):
            # The package started it already; PostgreSQL reads its new pg_hba.conf.
            if service is POSTGRES:
                cluster = sorted(os.listdir("/etc/postgresql"))[-1]
                run([*as_root(), "pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main",
                     "reload"])  # fmt: skip
        elif action in (Action.START, Action.INSTALL):
            start(service)
        elif action is Action.COMPOSE:
            compose(service)
        wait_until(service.name, partial(port_open, service.port))
        if service is RABBITMQ and action is not Action.COMPOSE:
            # The port opens before the node finishes booting; wait until it takes commands.
            wait_until("rabbitmq", lambda: succeeds(["rabbitmqctl", "-q", "status"]), 120)
        print(f"{service.name}: up on {service.port}", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", action="store_true", help="say what would be done, do nothing")
    args = parser.parse_args(argv)
    machine = observe()
    try:
        steps = plan(machine)
    except CannotProvide as exc:
        raise SystemExit(str(exc)) from exc
    if args.plan:
        for service, action in steps:
            print(f"{service.name}: {action.value}")
        return
    provide(steps)


if __name__ == "__main__":
    main()
