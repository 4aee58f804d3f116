"""Scale and published numbers of the chaos, fuzzing and load scenarios (tests/chaos,
tests/fuzz, tests/load).

`FISCUS_RELIABILITY_SCALE=full` (`make chaos`, `make load`) runs each scenario at the
size docs/reliability.md reports; otherwise (CI, `make test`) a reduced version runs.
Each scenario records what it injected and measured as JSON under
`FISCUS_RELIABILITY_DIR` (default var/reliability), one file per scenario.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def full_scale() -> bool:
    return os.environ.get("FISCUS_RELIABILITY_SCALE", "ci") == "full"


def scaled(ci: int, full: int) -> int:
    """`full` when the scenario runs at full scale, else `ci`."""
    return full if full_scale() else ci


def results_dir() -> Path:
    return Path(os.environ.get("FISCUS_RELIABILITY_DIR", ROOT / "var" / "reliability"))


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(q) - 1))]


def record(scenario: str, **measured: Any) -> Path:
    """Write one scenario's numbers: `<dir>/<scenario>.json`, with scale and time."""
    directory = results_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{scenario}.json"
    document = {
        "scenario": scenario,
        "scale": "full" if full_scale() else "ci",
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **measured,
    }
    path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    print(f"\n{scenario}: {json.dumps(measured, default=str)}")
    return path
