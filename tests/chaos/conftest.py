"""The chaos scenarios run on the session's stack (tests/stack_fixtures.py), last.

They kill workers and poison queues under the running stack, and stop and start its
private broker and database; two simulation workers run, so that one can die while
the other goes on. The authorization matrix runs its own services in the test process,
with the gateway tests' Redis prefix (`redis_prefix`, tests/service/gateway_fixtures.py).
"""

from __future__ import annotations

import pytest

from tests.service.gateway_fixtures import redis_prefix
from tests.stack import RunningStack

__all__ = ["redis_prefix"]


@pytest.fixture(scope="package")
def chaos_stack(stack: RunningStack) -> RunningStack:
    return stack
