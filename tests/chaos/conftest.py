"""The chaos scenarios run on the session's stack (tests/stack_fixtures.py), last.

They kill workers and poison queues under the running stack, and stop and start its
private broker and database; two simulation workers run, so that one can die while
the other goes on.
"""

from __future__ import annotations

import pytest

from tests.stack import RunningStack


@pytest.fixture(scope="package")
def chaos_stack(stack: RunningStack) -> RunningStack:
    return stack
