"""Write the synchronous client, `fiscus_client/_sync`, from the asynchronous one.

The asynchronous client is the one source: unasync turns every `async def` into `def`,
drops `await`, and renames what differs (below); ruff formats and sorts the result.
`--check` fails, changing nothing, when the committed `_sync` differs from what it gives.

    python clients/python/generate_sync.py [--check]
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import unasync

PACKAGE = Path(__file__).resolve().parent / "src" / "fiscus_client"
HEADER = "# Generated from fiscus_client/_async by clients/python/generate_sync.py: edit that.\n"
INIT = '''"""The synchronous client, generated from the asynchronous one (`_async`)."""\n'''
RENAMED = {
    "_async": "_sync",
    "AsyncBase": "Base",
    "AsyncKeys": "Keys",
    "AsyncData": "Data",
    "AsyncSimulations": "Simulations",
    "AsyncWebhooks": "Webhooks",
    "AsyncFiscus": "Fiscus",
    "AsyncSimulationJob": "SimulationJob",
    "AsyncClient": "Client",
    "AsyncBaseTransport": "BaseTransport",
    "aclose": "close",
    "aread": "read",
    "aiter_bytes": "iter_bytes",
    "aevents_of": "events_of",
    "asyncio": "time",
}


def generate(into: Path) -> None:
    """Write the generated package `_sync` into the folder `into`."""
    source = into / "_async"
    shutil.copytree(PACKAGE / "_async", source, ignore=shutil.ignore_patterns("__pycache__"))
    rule = unasync.Rule("/_async/", "/_sync/", additional_replacements=RENAMED)
    files = sorted(str(path) for path in source.glob("*.py") if path.name != "__init__.py")
    unasync.unasync_files(files, rules=[rule])
    shutil.rmtree(source)
    for path in sorted((into / "_sync").glob("*.py")):
        text = path.read_text().replace("asynchronous", "synchronous")
        path.write_text(HEADER + text)
    (into / "_sync" / "__init__.py").write_text(HEADER + INIT)
    ruff = Path(sys.executable).parent / "ruff"
    generated = str(into / "_sync")
    config = ["--config", str(PACKAGE.parent.parent / "pyproject.toml")]
    subprocess.run(
        [ruff, "check", "--quiet", "--fix", "--select", "I", *config, generated], check=True
    )
    subprocess.run([ruff, "format", "--quiet", *config, generated], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check _sync is current")
    check = parser.parse_args().check
    with tempfile.TemporaryDirectory() as folder:
        generate(Path(folder))
        fresh, committed = Path(folder) / "_sync", PACKAGE / "_sync"
        names = sorted(path.name for path in fresh.glob("*.py"))
        _, differ, missing = filecmp.cmpfiles(fresh, committed, names, shallow=False)
        current = sorted(p.name for p in committed.glob("*.py")) == names and not differ + missing
        if check:
            if not current:
                print("fiscus_client/_sync is stale: run python clients/python/generate_sync.py")
                return 1
            return 0
        if committed.exists():
            shutil.rmtree(committed)
        shutil.copytree(fresh, committed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
