"""A RabbitMQ node and a PostgreSQL server of the test stack's own.

The chaos scenarios stop and start the broker and the database under the running
stack (tests/stack_fixtures.py). Doing that to the machine's shared servers would
break everything else using them, so the stack runs on private ones: same packages,
own ports, own data directories under a temporary folder, started and stopped the way
an operator would (`rabbitmq-server`/`rabbitmqctl stop`, `pg_ctl start`/`pg_ctl stop`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
RABBITMQ_HOME = Path("/var/lib/rabbitmq")


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: str, check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.25)
    raise TimeoutError(f"{condition} not reached in {timeout:.0f} s")


def private_directory(kind: str) -> Path:
    """A fresh folder under /tmp the server's own user can reach (pytest's are root-only)."""
    directory = Path(tempfile.mkdtemp(prefix=f"fiscus-chaos-{kind}-"))
    directory.chmod(0o755)
    return directory


def _as_user(user: str) -> list[str]:
    """Run as `user` when we are root (both servers refuse to run as root)."""
    return ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []


class PrivateServer(ABC):
    """A server of the stack's own, whose data lives in `directory`."""

    directory: Path
    port: int

    def running(self) -> bool:
        return port_open(self.port)

    def state(self) -> dict[str, Any]:
        """What it takes to find this server again (the constructor's arguments)."""
        return {"directory": str(self.directory), "port": self.port}

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        """Stop the server and delete its data."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class PrivateRabbitMQ(PrivateServer):
    """A single RabbitMQ node on loopback; `restart()` stops the node and starts it again."""

    def __init__(
        self, directory: str | None = None, port: int | None = None, dist_port: int | None = None
    ) -> None:
        """A new node, or with the arguments of `state()` the one they describe."""
        self.directory = Path(directory) if directory else private_directory("rabbitmq")
        self.port = port or free_port()
        self.dist_port = dist_port or free_port()
        self.node = f"fiscus-chaos-{self.port}@localhost"
        self.amqp_url = f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def state(self) -> dict[str, Any]:
        return {**super().state(), "dist_port": self.dist_port}

    def _environment(self) -> dict[str, str]:
        d = self.directory
        return {
            "HOME": str(RABBITMQ_HOME),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": "/dev/null",
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_PID_FILE": str(d / "pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        ctl = str(RABBITMQ_BIN / "rabbitmqctl")
        return subprocess.run(
            [*_as_user("rabbitmq"), "env", f"HOME={RABBITMQ_HOME}", ctl, "-n", self.node, *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
        )
        (self.directory / "enabled_plugins").write_text("[].\n")
        if os.geteuid() == 0:
            shutil.chown(self.directory, "rabbitmq")
            for path in self.directory.iterdir():
                shutil.chown(path, "rabbitmq")
        environment = [f"{k}={v}" for k, v in self._environment().items()]
        server = str(RABBITMQ_BIN / "rabbitmq-server")
        subprocess.run(
            [*_as_user("rabbitmq"), "env", *environment, server, "-detached"],
            cwd=RABBITMQ_HOME,
            check=True,
            timeout=60,
        )
        wait_until(f"RabbitMQ node {self.node} up", lambda: port_open(self.port), 120)
        self._ctl("await_startup", "--timeout", "120")

    def stop(self) -> None:
        """Stop the whole node, as `rabbitmqctl stop` does; durable queues stay on disk."""
        self._ctl("stop", check=False)
        wait_until(f"RabbitMQ node {self.node} down", lambda: not port_open(self.port), 120)

    def vhost_url(self, vhost: str) -> str:
        """The AMQP URL of a virtual host of this node, made if missing, with rights for guest."""
        if vhost not in self._ctl("list_vhosts", "-q").stdout.split():
            self._ctl("add_vhost", vhost)
        self._ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        return f"{self.amqp_url}{vhost}"

    def queue_depths(self, vhost: str = "/") -> dict[str, int]:
        listed = self._ctl("list_queues", "-p", vhost, "-q", "name", "messages").stdout
        return {
            name: int(count)
            for name, _, count in (line.partition("\t") for line in listed.splitlines())
            if count.isdigit()
        }


class PrivatePostgres(PrivateServer):
    """A PostgreSQL server of its own on loopback; trust authentication like the machine's."""

    def __init__(self, directory: str | None = None, port: int | None = None) -> None:
        """A new server, or with the arguments of `state()` the one they describe."""
        self.directory = Path(directory) if directory else private_directory("postgres")
        self.port = port or free_port()
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = Path(found[-1]).parent
        self.data = self.directory / "data"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str) -> None:
        subprocess.run([*_as_user("postgres"), *argv], check=True, timeout=120, capture_output=True)

    def start(self) -> None:
        if not self.data.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(self.directory, "postgres")
            self._run(
                str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                "-E", "UTF8", "--no-sync",
            )  # fmt: skip
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.directory / "postgres.log"), "-w", "start",
        )  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server; `immediate` is a crash for the clients (recovery on start)."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
