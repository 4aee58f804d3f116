"""The warm parent: pays for policyengine-us once, and forks the processes that need it.

Importing policyengine-us and building its current-law system takes most of a minute
of a core, and the policy service, every simulation worker and the households worker
each need them. With `FISCUS_STACK_WARM_PARENT=1`, `deploy/stack.py` starts this process
first; it imports policyengine-us, calculates one household so the year's parameters
are cached, freezes what it built (`gc.freeze()`: shared copy-on-write with its
children, never scanned by their collector) and then forks each of those processes on
request. A worker that is killed and started again is warm in seconds.

Requests come over a Unix socket, one JSON line each:
`{"name": ..., "module": ..., "args": [...], "env": {...}, "log": ..., "cwd": ...}`; the answer is
`{"pid": N}` or `{"error": "..."}`. The child runs in a session of its own (so a stack
`kill` of its group reaches it alone), with its output appended to `log`, the
environment it was given, and `python -m <module> <args>` run in it. The parent reaps
its children, so a child that exits is gone at once.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import runpy
import select
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def warm_up() -> None:
    """Import policyengine-us and cache this year's parameters, as the workers' start does."""
    from services.simulation.domain.engine import PopulationEngine
    from services.simulation.domain.household_engine import HouseholdEngine, warmed

    engine = PopulationEngine()
    engine.warm()
    warmed(HouseholdEngine(engine))
    gc.collect()
    gc.freeze()


def reap() -> None:
    """Collect every child that has exited, so none lingers as a zombie."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def run_child(request: dict[str, Any]) -> None:
    """In the forked child: become the requested process; never returns."""
    code = 1
    try:
        os.setsid()
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        # `ps -o comm` and `top` show the process's name, not the warm parent's.
        with contextlib.suppress(OSError):
            Path("/proc/self/comm").write_text(str(request.get("name", ""))[:15])
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [request["module"], *request["args"]]
        # As `python -m` would have it: the working directory first on the path.
        sys.path[0] = request["cwd"]
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def serve_one(server: socket.socket, connection: socket.socket) -> None:
    with connection:
        stream = connection.makefile("rwb")
        try:
            request = json.loads(stream.readline())
        except ValueError as exc:
            stream.write(json.dumps({"error": f"not a request: {exc}"}).encode() + b"\n")
            stream.flush()
            return
        pid = os.fork()
        if pid == 0:
            server.close()
            connection.close()
            run_child(request)
        print(f"forked {request['module']} {' '.join(request['args'])} as pid {pid}", flush=True)
        stream.write(json.dumps({"pid": pid}).encode() + b"\n")
        stream.flush()


def serve(socket_path: Path) -> None:
    socket_path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Bound under a temporary name and renamed: the path exists only once it accepts.
    bound = socket_path.with_name(socket_path.name + ".binding")
    bound.unlink(missing_ok=True)
    server.bind(str(bound))
    server.listen(16)
    bound.rename(socket_path)
    print(f"warm parent ready on {socket_path}", flush=True)
    while True:
        readable, _, _ = select.select([server], [], [], 0.1)
        reap()
        if readable:
            connection, _ = server.accept()
            serve_one(server, connection)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", type=Path, required=True)
    args = parser.parse_args()
    started = time.monotonic()
    warm_up()
    print(f"policyengine-us warm in {time.monotonic() - started:.1f} s", flush=True)
    serve(args.socket)


if __name__ == "__main__":
    main()
