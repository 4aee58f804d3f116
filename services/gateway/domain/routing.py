"""Which service owns which public path."""

from __future__ import annotations

import re

from shared.settings import ServiceName

# First match wins: the report, raw results, charts and aggregates of a simulation
# belong to aggregation, the rest of /simulations to the simulation service.
ROUTES: tuple[tuple[re.Pattern[str], ServiceName], ...] = (
    (
        re.compile(r"^/api/v1/simulations/[^/]+/(report|results|aggregates|charts/[^/]+)$"),
        "aggregation",
    ),
    (re.compile(r"^/api/v1/simulations(/.*)?$"), "simulation"),
    # Household calculations: the simulation API hands them to its households workers.
    (re.compile(r"^/api/v1/households(/.*)?$"), "simulation"),
    (re.compile(r"^/api/v1/datasets(/.*)?$"), "dataset"),
    (re.compile(r"^/api/v1/policies(/.*)?$"), "policy"),
    (re.compile(r"^/api/v1/(parameters|variables)(/[^/]*)?$"), "policy"),
    (re.compile(r"^/api/v1/webhooks(/.*)?$"), "webhooks"),
)

UPSTREAMS: tuple[ServiceName, ...] = (
    "dataset",
    "policy",
    "simulation",
    "aggregation",
    "webhooks",
)


def owner_of(path: str) -> ServiceName | None:
    """The service that answers `path`, or None when no service does."""
    for pattern, service in ROUTES:
        if pattern.match(path):
            return service
    return None
