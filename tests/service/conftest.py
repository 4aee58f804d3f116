"""The fixtures of the service tests, found by name in every module of tests/service.

Each is defined beside its helpers; a module that defines a fixture of the same name
(its own `gateway`, `api`, `stack` or `worker`) uses its own. `stack` here is the gateway
in front of in-process services (tests/service/access_fixtures.py), not the session's
stack of real processes (tests/stack_fixtures.py), which the service tests never use.
"""

from __future__ import annotations

from tests.service.access_fixtures import policy_gateway, population, stack
from tests.service.dataset_fixtures import (
    admin,
    api,
    dataset_settings,
    small_api,
    synthetic,
    synthetic_zip,
)
from tests.service.gateway_fixtures import gateway, redis_prefix, upstream
from tests.service.simulation_fixtures import per_state, worker
from tests.service.webhooks_fixtures import webhook_settings

__all__ = [
    "admin",
    "api",
    "dataset_settings",
    "gateway",
    "per_state",
    "policy_gateway",
    "population",
    "redis_prefix",
    "small_api",
    "stack",
    "synthetic",
    "synthetic_zip",
    "upstream",
    "webhook_settings",
    "worker",
]
