"""Write, or check, the committed JSON Schemas and AsyncAPI document of Fiscus's events.

    python -m contracts.generate          # write contracts/schemas/*.json, contracts/asyncapi.json
    python -m contracts.generate --check  # exit 1 when the committed files differ from the code

The queues come from the services themselves: each process's app is built (nothing
connects) and its `EventConsumers.consumed` are read: event consumers' queues, a
process's own feed, request queues.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contracts.catalog import EVENT_PAYLOADS
from contracts.compatibility import breaking_changes
from contracts.specification import (
    Subscription,
    asyncapi_document,
    event_json_schema,
    schema_file_name,
)

CONTRACTS_DIR = Path(__file__).resolve().parent
SCHEMAS_DIR = CONTRACTS_DIR / "schemas"
ASYNCAPI_FILE = CONTRACTS_DIR / "asyncapi.json"

# Every process that consumes a queue: (service, "module:app factory taking Settings").
CONSUMING_PROCESSES: tuple[tuple[str, str], ...] = (
    ("gateway", "services.gateway.main:create_app"),
    ("simulation", "services.simulation.main:create_app"),
    ("simulation", "services.simulation.main:create_worker_app"),
    ("simulation", "services.simulation.main:create_households_app"),
    ("aggregation", "services.aggregation.main:create_app"),
    ("webhooks", "services.webhooks.main:create_app"),
)


def service_subscriptions() -> list[Subscription]:
    """The queues the services consume, as their apps wire them."""
    from shared.settings import Settings

    # Defaults only: the documents must not depend on the environment they are built in.
    settings = Settings.model_construct()
    subscriptions: list[Subscription] = []
    for service, target in CONSUMING_PROCESSES:
        module_name, factory_name = target.split(":")
        factory = getattr(importlib.import_module(module_name), factory_name)
        app = factory(settings)
        for consumed in app.state.process.consumers.consumed:
            subscriptions.append(
                Subscription(
                    service,
                    consumed.queue,
                    consumed.routing_key,
                    consumed.kind,
                    consumed.description,
                )
            )
    return subscriptions


def render(document: dict[str, Any], *, sort_keys: bool = False) -> str:
    """The committed form of a JSON document: stable, indented, newline-terminated."""
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=sort_keys) + "\n"


def expected_files() -> dict[Path, str]:
    """Every generated file with the content the code gives it now."""
    files = {
        SCHEMAS_DIR / schema_file_name(payload): render(event_json_schema(payload))
        for payload in EVENT_PAYLOADS
    }
    # FastStream lists channels in no stable order: sorted keys keep the file reproducible.
    files[ASYNCAPI_FILE] = render(
        asyncapi_document(EVENT_PAYLOADS, service_subscriptions()), sort_keys=True
    )
    return files


def differences(files: dict[Path, str] | None = None) -> list[str]:
    """What differs between the committed files and the generated ones, one line each."""
    files = expected_files() if files is None else files
    problems: list[str] = []
    for path, content in files.items():
        name = path.relative_to(CONTRACTS_DIR)
        if not path.exists():
            problems.append(f"{name}: missing")
        elif path.read_text() != content:
            problems.append(f"{name}: differs from the generated one")
            if path.parent == SCHEMAS_DIR:
                old, new = json.loads(path.read_text()), json.loads(content)
                problems += [f"  breaking: {change}" for change in breaking_changes(old, new)]
    for path in sorted(SCHEMAS_DIR.glob("*.json")):
        if path not in files:
            problems.append(f"{path.relative_to(CONTRACTS_DIR)}: no longer generated")
    return problems


def write(files: dict[Path, str]) -> list[Path]:
    """Write the files whose content changed; returns them."""
    SCHEMAS_DIR.mkdir(exist_ok=True)
    written: list[Path] = []
    for path, content in files.items():
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
            written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="fail when the committed files are out of date"
    )
    args = parser.parse_args(argv)
    files = expected_files()
    if args.check:
        problems = differences(files)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run `make docs` (python -m contracts.generate) and commit", file=sys.stderr)
            return 1
        return 0
    for path in write(files):
        print(f"wrote {path.relative_to(CONTRACTS_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
