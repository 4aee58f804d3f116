"""What counts against a key's daily simulation quota: new simulations only.

A request answered with an existing equal simulation (200) creates nothing and
counts nothing; a batch counts each of its new simulations, which the simulation
service reports in `Fiscus-Simulations-Accepted`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

SIMULATIONS_PATH = "/api/v1/simulations"
BATCH_PATH = "/api/v1/simulations/batch"
ACCEPTED_HEADER = "fiscus-simulations-accepted"


def simulations_requested(path: str, body: bytes) -> int:
    """How many simulations a request may create: the room it needs in the quota."""
    if path != BATCH_PATH:
        return 1
    try:
        items = json.loads(body).get("simulations")
    except (ValueError, AttributeError):
        return 1
    return max(1, len(items)) if isinstance(items, list) else 1


def accepted_simulations(path: str, status: int, headers: Mapping[str, str]) -> int:
    """How many new simulations an answer reports."""
    if path == BATCH_PATH:
        if status not in (200, 202):
            return 0
        try:
            return max(0, int(headers.get(ACCEPTED_HEADER, "0")))
        except ValueError:
            return 0
    return 1 if status == 202 else 0
