"""A virtual environment holding the client package and nothing of the server.

Made with uv (fast, and its cache keeps repeated installs off the network) from one of
the machine's Python interpreters; what it installs is what `pip install` of the client
package would: its dependencies at their newest releases for that Python.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "clients" / "python"
SERVER_PACKAGES = frozenset(
    {"fastapi", "sqlalchemy", "policyengine-us", "policyengine-core", "asyncpg", "uvicorn"}
)


def interpreter(version: str) -> str:
    """The path of a Python `version` ("3.10") on this machine; the test is skipped
    without one, except under CI, where it fails."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = sorted(pyenv.glob(f"{version}.*/bin/python{version}"))
    found = str(candidates[-1]) if candidates else shutil.which(f"python{version}")
    if found is None:
        message = f"no Python {version} on this machine"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def uv(*arguments: str) -> None:
    uv_binary = Path(sys.executable).parent / "uv"
    subprocess.run([str(uv_binary), *arguments, "--quiet"], check=True, timeout=600)


def client_venv(folder: Path, version: str, *extras: str) -> Path:
    """A new venv in `folder` with the client package and `extras` installed: its python."""
    uv("venv", "--python", interpreter(version), str(folder))
    python = folder / "bin" / "python"
    uv("pip", "install", "--python", str(python), str(CLIENT), *extras)
    return python


def installed(python: Path) -> set[str]:
    """The distributions installed in the venv of `python`, by normalised name."""
    uv_binary = Path(sys.executable).parent / "uv"
    listing = subprocess.run(
        [str(uv_binary), "pip", "list", "--python", str(python), "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return {item["name"].lower().replace("_", "-") for item in json.loads(listing.stdout)}
