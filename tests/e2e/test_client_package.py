"""The client package: every published operation, and an install without the server on
each Python it supports, where its own test suite runs against both of its clients."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.client_venv import CLIENT, SERVER_PACKAGES, client_venv, installed
from tests.openapi_document import published_operations

SUPPORTED = ("3.10", "3.11", "3.12", "3.13")
# Server modules that must not load when the client is imported.
NOT_IMPORTED = ("fastapi", "sqlalchemy", "policyengine_us", "policyengine_core", "services")


def test_the_clients_list_of_operations_is_the_published_one() -> None:
    listed = (CLIENT / "tests" / "operations.txt").read_text().split("\n")
    operations = {(line.split(" ")[0], line.split(" ")[1]) for line in listed if line}
    assert operations == published_operations()


@pytest.mark.parametrize("version", SUPPORTED)
def test_the_client_installs_alone_and_passes_its_tests(version: str, tmp_path: Path) -> None:
    python = client_venv(tmp_path / "venv", version, "pytest")
    assert not installed(python) & SERVER_PACKAGES
    probe = (
        "import sys, fiscus_client; "
        f"loaded = [name for name in {NOT_IMPORTED!r} if name in sys.modules]; "
        "assert not loaded, loaded; print(sys.version_info[:2])"
    )
    # Run outside the repository, so that nothing of it is importable.
    imported = subprocess.run(
        [str(python), "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == str(tuple(int(part) for part in version.split(".")))
    suite = subprocess.run(
        [str(python), "-m", "pytest", "-q", str(CLIENT / "tests")],
        cwd=CLIENT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-2000:]
    assert " passed" in suite.stdout and "skipped" not in suite.stdout
