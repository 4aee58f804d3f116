"""What the deployment tests read: the Procfile, each process's port, the tools they run."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from deploy.stack import read_procfile
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PROCFILE = read_procfile(ROOT / "deploy" / "Procfile")


def process_port(process: str) -> int:
    """The port a Procfile process serves on by default (its `FISCUS_<NAME>_PORT`)."""
    settings = Settings()
    port = getattr(settings, f"{process}_port", None)
    if not isinstance(port, int):
        raise AssertionError(f"Settings has no {process}_port for Procfile process {process!r}")
    return port


def tool(name: str) -> str | None:
    """An executable: $<NAME> if set, else the virtualenv's, else var/tools', else PATH's."""
    configured = os.environ.get(name.upper())
    if configured:
        return configured
    for folder in (Path(sys.executable).parent, ROOT / "var" / "tools"):
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)
